"""The domain's own errors. Each names what went wrong in the domain's words, with a detail
that tells the user what to do; the API answers them as problem+json and the site as HTML
pages, each in one place (potluck.http.errors)."""

from __future__ import annotations

from collections.abc import Mapping


class DomainError(Exception):
    def __init__(self, detail: str, *, errors: Mapping[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = dict(errors) if errors else None


class NotFound(DomainError):
    """Nothing there, or nothing the viewer may know is there (another user's draft)."""


class Forbidden(DomainError):
    """The viewer is known but may not do this."""


class Invalid(DomainError):
    """The input breaks a rule; `errors` names the fields."""


class Conflict(DomainError):
    """The change collides with the current state (a taken name, a key still in use)."""


class Unauthenticated(DomainError):
    """The credentials do not (or no longer) prove who the caller is."""


class PreconditionFailed(DomainError):
    """The caller's copy is not the current one (a stale If-Match)."""

    def __init__(self, detail: str, *, current_etag: str | None = None) -> None:
        super().__init__(detail)
        self.current_etag = current_etag


class ConcurrentChange(DomainError):
    """Another change to the same row won the race between our read and our write."""


class Busy(DomainError):
    """The database gave up on this transaction to let a conflicting one through; nothing
    was saved, and running it again will work."""
