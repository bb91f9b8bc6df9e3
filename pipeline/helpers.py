"""Small helpers several modules share."""

from __future__ import annotations


def package_version(package: str) -> str:
    """The installed version of ``package`` (for the report's versions)."""
    from importlib.metadata import version

    return version(package)
