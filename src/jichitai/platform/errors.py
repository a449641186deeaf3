"""Domain errors with a stable English code and a Japanese message.

Every refusal the platform or a module raises is one of these; the web layer turns them into
``{"error": {"code", "message", "field"}}`` with a 4xx status (DESIGN §3.6). Raising happens before any
commit, so a refused request writes nothing.
"""

from __future__ import annotations


class DomainError(Exception):
    """A refusal explained to the user. ``status`` is the HTTP status the API answers with."""

    status = 422

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.field = field


class NotFound(DomainError):
    """Missing, or belonging to another municipality: both answer exactly alike (DESIGN §3.1)."""

    status = 404

    def __init__(self, what: str = "対象", field: str | None = None) -> None:
        super().__init__("not_found", f"{what}が見つかりません。", field)


class InvalidInput(DomainError):
    """Input that fails a format or rule check (422)."""

    status = 422


class Conflict(DomainError):
    """A request valid in form that the current state refuses (409), e.g. an event on a 除票 person."""

    status = 409


class Unauthenticated(DomainError):
    """No valid sign-in: missing, wrong, expired or revoked credentials (401)."""

    status = 401


class Forbidden(DomainError):
    """Signed in, but the role, purpose or permission does not allow this (403)."""

    status = 403


class TooManyRequests(DomainError):
    """Too many attempts from one client in a short time (429)."""

    status = 429
