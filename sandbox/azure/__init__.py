"""A faithful local stand-in for Azure: the Entra token authority, Microsoft Graph (v1.0 and beta) and ARM.

Served over HTTPS with a throwaway certificate authority, so the real azure-identity credentials and
azure-mgmt clients talk to it unchanged. Used by ``tests/azure`` and ``nhiwarden demo``; it listens on
loopback only and never touches the network.
"""
