"""gRPC entry points: servicers, interceptors, proto <-> domain conversion, server assembly."""
