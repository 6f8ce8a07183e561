"""The one exception the simulator's handlers raise; each API renders it in its own error shape."""

from __future__ import annotations

from wifguard.errors import WifguardError


class SimError(WifguardError):
    """An API error: HTTP status, service error code and message.

    Graph renders it as ``{"error": {"code", "message", "innerError"}}``, ARM as
    ``{"error": {"code", "message"}}``. ``headers`` carries extra response headers
    (``Retry-After`` on throttling).
    """

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
