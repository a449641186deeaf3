"""The single error type raised by the Japanese-code rules.

Callers (web forms, import jobs, APIs) need two things from a rejected value: a stable
machine-readable ``code`` to branch on or log, and a Japanese ``message`` that can be shown
to counter staff as is.  Subclassing :class:`ValueError` keeps the errors catchable by
generic validation code that knows nothing about this package.
"""

from __future__ import annotations

__all__ = ["JpValueError"]


class JpValueError(ValueError):
    """A value broke a Japanese administrative code rule.

    ``code`` is stable English snake_case (for example ``"invalid_check_digit"``) so that
    callers never parse the message; ``message`` is Japanese text meant for users.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"JpValueError(code={self.code!r}, message={self.message!r})"
