"""Local stand-ins for the clouds, shared by ``nhiwarden demo`` and the test suite.

moto for AWS, a real OpenBao dev server for Vault, and faithful fake API servers for Kubernetes, GCP
and Azure. Every server listens on a free loopback port, stops cleanly and never touches the network.
Each provider's sandbox module exposes ``start_demo(workdir)``: a context manager that starts its
servers, seeds a realistic estate and yields a ``DemoEstate`` describing how to scan it.
"""

from __future__ import annotations

from nhiwarden.sandbox.base import DemoEstate, DemoUnavailable, free_port

__all__ = ["DEMOS", "DemoEstate", "DemoUnavailable", "free_port"]

# provider name -> "module:function" returning a context manager that yields a DemoEstate.
DEMOS: dict[str, str] = {
    "aws": "nhiwarden.sandbox.aws.demo:start_demo",
    "gcp": "nhiwarden.sandbox.gcp.demo:start_demo",
    "azure": "nhiwarden.sandbox.azure.demo:start_demo",
    "kubernetes": "nhiwarden.sandbox.kubernetes.demo:start_demo",
    "vault": "nhiwarden.sandbox.vault.demo:start_demo",
}
