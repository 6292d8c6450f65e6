"""When to try a request again, and how long to wait first."""

from __future__ import annotations

import random
from dataclasses import dataclass

# Answers that say "not now" without anything having been done: worth another try.
RETRIED_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and jitter, honouring `Retry-After`.

    Example:
        >>> Client(url, retry=RetryPolicy(attempts=6, max_total_sleep=120))
        >>> Client(url, retry=RetryPolicy(attempts=1))  # never retry
    """

    attempts: int = 4
    """Tries in all, the first one included."""
    backoff: float = 0.5
    """The first delay in seconds, doubled on each retry (jittered down to half)."""
    max_delay: float = 30.0
    """The longest single wait; a longer `Retry-After` gives up at once instead."""
    max_total_sleep: float = 60.0
    """The most time all the waits of one request may add up to."""

    def delay(
        self,
        retry: int,
        retry_after: float | None,
        slept: float,
        rng: random.Random,
    ) -> float | None:
        """Seconds to wait before retry number `retry` (0 for the first), or None to give up.

        Example:
            >>> RetryPolicy().delay(0, retry_after=3.0, slept=0.0, rng=random.Random())
            3.0
        """
        if retry + 1 >= self.attempts:
            return None
        if retry_after is not None:
            wait = retry_after  # the server's word is a floor: wait exactly that
        else:
            ceiling = min(self.max_delay, self.backoff * 2**retry)
            wait = rng.uniform(ceiling / 2, ceiling)  # "equal jitter": spread, never ~0
        if wait > self.max_delay or slept + wait > self.max_total_sleep:
            return None
        return wait
