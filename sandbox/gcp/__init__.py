"""Fake Google Cloud: a gRPC IAM admin service and a REST server (token, IAM keys, workload identity
pools, service-account IAM policies, Policy Analyzer, Resource Manager) over one in-memory store, with
seeded estates. Serves the reads a scan makes and the writes the playbooks make. Loopback only.
"""

from __future__ import annotations

from nhiwarden.sandbox.gcp.fake import SCANNER_EMAIL, FakeGcp
from nhiwarden.sandbox.gcp.seed import ORG_ID, SeededOrg, seed_org, seed_sprawl
from nhiwarden.sandbox.gcp.store import (
    Binding,
    Folder,
    Key,
    Project,
    ServiceAccount,
    Store,
    WorkloadIdentityPool,
    WorkloadIdentityPoolProvider,
)

__all__ = [
    "ORG_ID",
    "SCANNER_EMAIL",
    "Binding",
    "FakeGcp",
    "Folder",
    "Key",
    "Project",
    "SeededOrg",
    "ServiceAccount",
    "Store",
    "WorkloadIdentityPool",
    "WorkloadIdentityPoolProvider",
    "seed_org",
    "seed_sprawl",
]
