"""The ``wifguard`` command: one module per command group (``main`` holds the root command).

``python -m wifguard.cli`` and the ``wifguard`` console script (``wifguard.cli:main``) enter here.
"""

from wifguard.cli.main import app, main

__all__ = ["app", "main"]
