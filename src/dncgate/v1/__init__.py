"""Generated gRPC code for dncgate.v1 (see protos/)."""
