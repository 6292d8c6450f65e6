"""Errors: one exception class per kind of answer, each carrying the RFC 9457 problem."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx


class PotluckError(Exception):
    """An answer that was not a success, with its problem document.

    Example:
        >>> try:
        ...     client.recipe(999)
        ... except PotluckError as error:
        ...     print(error.status, error.detail)
        404 There is no recipe 999.
    """

    status: int
    """The HTTP status code; 0 when no answer came at all (ConnectionFailed)."""

    def __init__(self, status: int, problem: dict[str, Any] | None = None) -> None:
        self.status = status
        self.problem: dict[str, Any] = problem or {}
        super().__init__(self.detail)

    @property
    def title(self) -> str:
        """The problem's short title. Example: ``NotFound(404, {"title": "Not Found"}).title``"""
        return str(self.problem.get("title") or f"HTTP {self.status}")

    @property
    def detail(self) -> str:
        """What went wrong, in the server's words (or the title when it gave no detail).

        Example:
            >>> NotFound(404, {"detail": "There is no recipe 9."}).detail
            'There is no recipe 9.'
        """
        return str(self.problem.get("detail") or self.title)


class BadRequest(PotluckError):
    """400 (or 422): the request was malformed or refused as it stands."""


class ValidationFailed(BadRequest):
    """400 with a message per field, in `errors`.

    Example:
        >>> try:
        ...     client.create_recipe({"name": ""})
        ... except ValidationFailed as error:
        ...     print(error.errors["name"])
        ['Length must be between 1 and 100.']
    """

    @property
    def errors(self) -> dict[str, list[str]]:
        """Messages by field name. Example: ``error.errors.get("name", [])``"""
        raw = self.problem.get("errors") or {}
        return {str(field): [str(m) for m in messages] for field, messages in raw.items()}


class Unauthorized(PotluckError):
    """401: no credentials, or ones the server no longer takes; log in again."""


class Forbidden(PotluckError):
    """403: signed in, but not allowed (another user's recipe, a read-only key)."""


class NotFound(PotluckError):
    """404: nothing there, or a draft of someone else."""


class Conflict(PotluckError):
    """409: the change clashes with the current state (a taken name, a concurrent edit)."""


class PreconditionFailed(PotluckError):
    """412: the recipe changed since this client read it; read it again and reapply."""


class RateLimited(PotluckError):
    """429: too many requests; `retry_after` says how many seconds to wait.

    Example:
        >>> except RateLimited as error:
        ...     time.sleep(error.retry_after or 1)
    """

    def __init__(
        self, status: int, problem: dict[str, Any] | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(status, problem)
        self.retry_after = retry_after


class ServerError(PotluckError):
    """5xx: the server failed; the problem carries no internals."""


class Unavailable(ServerError):
    """503: the server is not ready (starting, overloaded or in maintenance)."""


class ConnectionFailed(PotluckError):
    """No answer at all (refused, timed out, cut off), after every retry."""

    def __init__(self, reason: str) -> None:
        super().__init__(0, {"title": "Connection failed", "detail": reason})


_BY_STATUS: dict[int, type[PotluckError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    422: BadRequest,
    503: Unavailable,
}


def retry_after_seconds(response: httpx.Response, now: datetime | None = None) -> float | None:
    """The `Retry-After` header in seconds (a number or an HTTP date), or None.

    Example:
        >>> retry_after_seconds(httpx.Response(429, headers={"Retry-After": "7"}))
        7.0
    """
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def problem_of(response: httpx.Response) -> dict[str, Any]:
    """The problem document of an error answer; a minimal one when the body is not JSON.

    Example:
        >>> problem_of(httpx.Response(502, text="Bad gateway"))["detail"]
        'Bad gateway'
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    text = response.text.strip()[:500]
    return {"title": response.reason_phrase, "status": response.status_code, "detail": text}


def error_for(response: httpx.Response) -> PotluckError:
    """The exception that stands for an error answer.

    Example:
        >>> error_for(httpx.Response(404, json={"detail": "There is no recipe 9."}))
        NotFound('There is no recipe 9.')
    """
    status = response.status_code
    problem = problem_of(response)
    if status == 429:
        return RateLimited(status, problem, retry_after_seconds(response))
    if status == 400 and problem.get("errors"):
        return ValidationFailed(status, problem)
    kind = _BY_STATUS.get(status) or (ServerError if status >= 500 else PotluckError)
    return kind(status, problem)
