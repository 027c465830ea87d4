"""The web console (issue 16): server-rendered pages for the hotline, payments, compliance and consumers.

Built by `api/server.py` only; it calls dncgate's own gRPC API with each user's credential, never a store.
"""
