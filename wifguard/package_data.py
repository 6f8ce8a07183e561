"""Where the shipped data lives: the rule catalogue and default config (``rules/`` in the
repository, ``wifguard._rules`` in the wheel), the example credential files and the demo data.

Read through ``importlib.resources`` so an installed wheel works from any directory; a source
checkout that was never installed falls back to the repository folders.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def _package_dir(package: str, checkout: Path) -> Path:
    try:
        found = resources.files(package)
    except ModuleNotFoundError:
        return checkout
    # Wheels install as files, so the Traversable is a real directory.
    return Path(str(found))


@cache
def rules_dir() -> Path:
    """The shipped rule catalogue (``*.yaml``) and ``config.default.yaml``."""
    return _package_dir("wifguard._rules", _CHECKOUT / "rules")


@cache
def examples_dir() -> Path:
    """The example credential files (``examples/credentials`` in the repository)."""
    return _package_dir("wifguard._examples", _CHECKOUT / "examples" / "credentials")


def data_file(name: str) -> Path:
    """A file of ``wifguard/data`` (demo tenant, demo payloads, the config JSON schema)."""
    return Path(str(resources.files("wifguard") / "data" / name))
