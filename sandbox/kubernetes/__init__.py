"""A faithful fake kube-apiserver and seeded estates for the Kubernetes provider's tests and demo."""

from __future__ import annotations

from nhiwarden.sandbox.kubernetes.kubeconfig import KubeContext, write_kubeconfig
from nhiwarden.sandbox.kubernetes.server import FakeApiServer, Fault, RequestRecord
from nhiwarden.sandbox.kubernetes.store import Store

__all__ = ["FakeApiServer", "Fault", "KubeContext", "RequestRecord", "Store", "write_kubeconfig"]
