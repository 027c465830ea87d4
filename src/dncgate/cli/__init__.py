"""The `dncgate` command: run the server, or talk to one as a dialer, the app or an operator would.

`main` assembles the parser from one module per command group (`serve`, `check`, `registry` with
`registry_import`, `consent`, `org`, `complaint`, `payouts`, `report`); `args` and `output` hold what
they share. This file imports none of them, so importing one group does not import the others.
"""
