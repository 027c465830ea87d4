"""Pure rules and types of dncgate: no gRPC, no Redis, no SQL, no clock, no logging."""
