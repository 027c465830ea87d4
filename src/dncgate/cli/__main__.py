"""`python -m dncgate.cli`: what `serve` runs its own child processes with, and the tests run the CLI with."""

import sys

from dncgate.cli.main import main

sys.exit(main())
