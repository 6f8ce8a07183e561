"""wifguard: an event-driven compliance responder for Microsoft Entra workload identity federation."""

__version__ = "0.1.0"
