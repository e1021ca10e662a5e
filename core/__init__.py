"""nhiwarden: govern non-human identities across clouds, clusters and secret stores.

The public API is the normalized model and the scan entry point; everything else is an
implementation detail of its subpackage (``cli``, ``providers``, ``rules``, ``reports``,
``playbooks``, ``sandbox``).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
