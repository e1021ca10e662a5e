"""Kubernetes provider: service accounts, legacy token Secrets, workload usage and RBAC per context.

Only the provider class is public. The ``kubernetes`` SDK is imported inside ``discover``/``doctor``.
"""

from __future__ import annotations

from nhiwarden.providers.kubernetes.provider import KubernetesProvider, KubernetesSettings

__all__ = ["KubernetesProvider", "KubernetesSettings"]
