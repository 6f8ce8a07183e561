"""wifguard: an event-driven compliance responder for Microsoft Entra workload identity federation."""

__version__ = "0.1.0"

from wifguard import _moved

_moved.install()  # the flat layout's import paths (wifguard.engine, ...) still resolve
