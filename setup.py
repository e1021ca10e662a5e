"""Map the top-level folders onto one import namespace.

The repository keeps one folder per responsibility at the top level (``cli/``, ``providers/`` ...),
yet nothing generic may land in site-packages: each folder is installed as ``nhiwarden.<folder>``
and ``core/`` is the ``nhiwarden`` package itself. Metadata lives in pyproject.toml.
"""

from setuptools import find_packages, setup

SUBPACKAGES = ("cli", "providers", "rules", "reports", "playbooks", "sandbox")

package_dir = {"nhiwarden": "core"}
packages = ["nhiwarden", *(f"nhiwarden.{p}" for p in find_packages("core"))]
for folder in SUBPACKAGES:
    package_dir[f"nhiwarden.{folder}"] = folder
    packages.append(f"nhiwarden.{folder}")
    packages.extend(f"nhiwarden.{folder}.{p}" for p in find_packages(folder))

setup(package_dir=package_dir, packages=packages)
