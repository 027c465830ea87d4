"""Adapters: the Redis hot registry and call stream, the PostgreSQL journal and records."""
