"""dncgate: do-not-call gateway, journaled registry and consumer compensation."""

__version__ = "0.1.0"
