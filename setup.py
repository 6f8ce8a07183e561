"""Packaging beyond what pyproject.toml can say: the top-level ``rules/`` catalogue and the
example credential files ship inside the wheel as the subpackages ``wifguard._rules`` and
``wifguard._examples`` (read with ``importlib.resources``), while staying where they are in the
repository. Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["wifguard", "wifguard.*", "handlers", "handlers.*"]),
              "wifguard._rules", "wifguard._examples"],
    package_dir={"wifguard._rules": "rules", "wifguard._examples": "examples/credentials"},
)
