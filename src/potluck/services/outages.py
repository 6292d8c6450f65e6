"""Shared services that can go away while the app serves (Redis, in the scaled-out mode): when
one was last found unreachable, so a caller can do without it for a while and the log gets a
warning now and then, not one per request."""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)

# Long enough that an outage costs one failed call and one log line per worker every so often.
RETRY_SECONDS = 5.0


class Outage:
    """The last time `service` failed; `ongoing` for `retry_seconds` after it, and a
    warning at most once in that time."""

    def __init__(
        self,
        service: str,
        meanwhile: str,
        retry_seconds: float = RETRY_SECONDS,
        condition: str = "unreachable",
    ) -> None:
        self.service = service
        self.meanwhile = meanwhile  # what the app does without it, for the warning
        self.condition = condition  # what is wrong with it, for the warning
        self.retry_seconds = retry_seconds
        self.until = 0.0

    @property
    def ongoing(self) -> bool:
        return time.monotonic() < self.until

    def found(self, error: Exception) -> None:
        """Record a failure: warns unless a warning went out within `retry_seconds`."""
        now = time.monotonic()
        if now >= self.until:
            log.warning("%s %s (%s): %s", self.service, self.condition, error, self.meanwhile)
        self.until = now + self.retry_seconds
