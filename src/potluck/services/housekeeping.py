"""Housekeeping: delete rows that can no longer matter (expired idempotency keys, revoked
tokens past their expiry, mail delivered long ago), in bounded batches.

Run by `potluck purge` and, every `PURGE_INTERVAL_SECONDS`, by each mail sender. Deleting
is idempotent, so several purgers at once (workers, web processes) need no coordination.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, delete, func, select, tuple_

from potluck.domain.database import db
from potluck.domain.models import IdempotencyKey, OutboxMail, RevokedToken, utcnow

log = logging.getLogger(__name__)

# Rows per DELETE: each batch is its own short transaction, so a large backlog never holds
# a long lock (on SQLite, the one write lock every request needs).
BATCH = 5_000


@dataclass(frozen=True)
class PurgeReport:
    """Rows removed (or, in a dry run, that would be) per kind."""

    idempotency_keys: int = 0
    revoked_tokens: int = 0
    sent_mails: int = 0

    @property
    def total(self) -> int:
        return self.idempotency_keys + self.revoked_tokens + self.sent_mails


@dataclass(frozen=True)
class _Expired:
    model: Any
    key: tuple[Any, ...]  # the primary key's columns
    condition: ColumnElement[bool]


def _expired_rows(now: datetime) -> dict[str, _Expired]:
    config = current_app.config
    key_lifetime = timedelta(seconds=config["IDEMPOTENCY_KEY_SECONDS"])
    keep_sent = timedelta(days=config["OUTBOX_KEEP_SENT_DAYS"])
    return {
        # The same cut-off the Idempotency-Key check uses: such a key is never replayed.
        "idempotency_keys": _Expired(
            IdempotencyKey,
            (IdempotencyKey.scope, IdempotencyKey.key),
            IdempotencyKey.created_at < now - key_lifetime,
        ),
        # A revoked token past its expiry is refused as expired before the revocation list
        # is read, so its row protects nothing any more (there is no decoding leeway).
        "revoked_tokens": _Expired(
            RevokedToken, (RevokedToken.jti,), RevokedToken.expires_at < now
        ),
        # Delivered mail only: a row without `sent_at` is still due or being retried.
        "sent_mails": _Expired(
            OutboxMail,
            (OutboxMail.id,),
            OutboxMail.sent_at.is_not(None) & (OutboxMail.sent_at < now - keep_sent),
        ),
    }


def _count(rows: _Expired) -> int:
    query = select(func.count()).select_from(rows.model).where(rows.condition)
    return db.session.scalar(query) or 0


def _delete_in_batches(rows: _Expired) -> int:
    batch = select(*rows.key).where(rows.condition).limit(BATCH)
    key = rows.key[0] if len(rows.key) == 1 else tuple_(*rows.key)
    statement = delete(rows.model).where(key.in_(batch))
    removed = 0
    while True:
        result = db.session.execute(statement, execution_options={"synchronize_session": False})
        db.session.commit()
        deleted = int(result.rowcount)  # type: ignore[attr-defined]
        removed += deleted
        if deleted < BATCH:
            return removed


def purge(now: datetime | None = None, *, dry_run: bool = False) -> PurgeReport:
    """Delete what has expired at `now` (default: the present), committing after each batch;
    with `dry_run`, only count it."""
    expired = _expired_rows(now or utcnow())
    if dry_run:
        counts = {kind: _count(rows) for kind, rows in expired.items()}
        db.session.rollback()
    else:
        counts = {kind: _delete_in_batches(rows) for kind, rows in expired.items()}
    return PurgeReport(**counts)


class PurgeSchedule:
    """Runs `purge` when due: at the first call, then once `interval` seconds of `clock`
    have passed since the last run. A failed purge is logged and tried again an interval
    later, never raised, so the mail sender that calls this keeps sending."""

    def __init__(
        self,
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        run: Callable[[], PurgeReport] | None = None,
    ) -> None:
        self.interval, self.clock, self.run = interval, clock, run or purge
        self.next_run = clock()

    def run_if_due(self) -> PurgeReport | None:
        """The report of the purge this call ran, or None (not due, disabled, or failed)."""
        now = self.clock()
        if self.interval <= 0 or now < self.next_run:
            return None
        self.next_run = now + self.interval
        try:
            report = self.run()
        except Exception:
            log.exception("housekeeping purge failed; trying again in %ss", self.interval)
            db.session.rollback()
            return None
        if report.total:
            log.info("housekeeping purge removed %s", report)
        return report
