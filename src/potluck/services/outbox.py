"""Sending the mail outbox: claim due rows atomically, deliver, retry with backoff.

Runs as `potluck worker` (scaled out) or as a thread in each web process (embedded). Any
number of senders can share one database: a row is claimed by a conditional UPDATE, so
only one of them sends it.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, Response, current_app, g
from sqlalchemy import ColumnElement, and_, or_, select, update

from potluck.domain.database import db
from potluck.domain.models import OutboxMail, utcnow
from potluck.services.housekeeping import PurgeSchedule
from potluck.services.mail import DeliveryError, deliver

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=5)
BATCH = 50


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0


def _claimable(now: datetime) -> ColumnElement[bool]:
    return and_(
        OutboxMail.sent_at.is_(None),
        or_(OutboxMail.claimed_until.is_(None), OutboxMail.claimed_until < now),
    )


def claim_due(now: datetime, limit: int = BATCH) -> list[int]:
    """Ids of due mails this sender now owns; a row another sender claimed first is skipped."""
    due = select(OutboxMail.id).where(_claimable(now), OutboxMail.next_attempt_at <= now)
    claimed = []
    for mail_id in db.session.scalars(due.order_by(OutboxMail.next_attempt_at).limit(limit)):
        result = db.session.execute(
            update(OutboxMail)
            .where(OutboxMail.id == mail_id, _claimable(now))
            .values(claimed_until=now + CLAIM_LEASE)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(mail_id)
    db.session.commit()
    return claimed


def retry_delay(attempts: int) -> timedelta:
    config = current_app.config
    seconds = config["MAIL_RETRY_SECONDS"] * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, config["MAIL_RETRY_MAX_SECONDS"]))


def deliver_due() -> DeliveryReport:
    """Send a batch of due mail; a failed one waits longer after each attempt, none is lost."""
    report = DeliveryReport()
    claimed = claim_due(utcnow(), BATCH)
    for index, mail_id in enumerate(claimed):
        mail = db.session.get(OutboxMail, mail_id)
        if mail is None:
            continue
        mail.attempts += 1
        try:
            deliver(mail, current_app.config)
        except DeliveryError as error:
            log.warning("mail %s to %s not delivered (%s)", mail.id, mail.recipient, error)
            _postpone(claimed[index:], str(error))
            report.failed += 1
            db.session.commit()
            break  # the server is down: the rest of the batch would fail the same way
        mail.sent_at, mail.claimed_until = utcnow(), None
        report.sent += 1
        db.session.commit()
    return report


def deliver_all_due() -> DeliveryReport:
    """Batches until none is full: what is due now, without waiting for the next round."""
    total = DeliveryReport()
    while True:
        report = deliver_due()
        total.sent, total.failed = total.sent + report.sent, total.failed + report.failed
        if report.sent + report.failed < BATCH or report.failed:
            return total


def _postpone(mail_ids: list[int], error: str) -> None:
    for mail in db.session.scalars(select(OutboxMail).where(OutboxMail.id.in_(mail_ids))):
        mail.next_attempt_at = utcnow() + retry_delay(max(mail.attempts, 1))
        mail.claimed_until = None
        mail.last_error = error[:500]


def run_sender(app: Flask, stop: threading.Event, wake: threading.Event) -> None:
    """Deliver due mail until `stop` is set; `wake` cuts the wait short after new mail.
    Between rounds, purge expired rows every PURGE_INTERVAL_SECONDS (housekeeping.py)."""
    purges = PurgeSchedule(app.config["PURGE_INTERVAL_SECONDS"])
    while not stop.is_set():
        with app.app_context():
            try:
                deliver_all_due()
            except Exception:
                log.exception("mail delivery round failed; trying again")
                db.session.rollback()
            finally:
                db.session.remove()
            purges.run_if_due()  # logs its own failure: sending goes on regardless
        wake.wait(app.config["MAIL_POLL_SECONDS"])
        wake.clear()


@dataclass
class InProcessSender:
    pid: int
    stop: threading.Event
    wake: threading.Event
    thread: threading.Thread


def _ensure_sender() -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    sender: InProcessSender | None = app.extensions.get("potluck_mail_sender")
    # Web servers fork workers: each process needs its own thread.
    if sender is None or sender.pid != os.getpid():
        stop, wake = threading.Event(), threading.Event()
        thread = threading.Thread(
            target=run_sender, args=(app, stop, wake), name="mail-sender", daemon=True
        )
        app.extensions["potluck_mail_sender"] = InProcessSender(os.getpid(), stop, wake, thread)
        thread.start()


def _wake_sender(response: Response) -> Response:
    sender: InProcessSender | None = current_app.extensions.get("potluck_mail_sender")
    if sender is not None and g.get("mail_queued"):
        sender.wake.set()
    return response


def stop_in_process_sender(app: Flask, timeout: float = 5) -> None:
    sender: InProcessSender | None = app.extensions.pop("potluck_mail_sender", None)
    if sender is not None:
        sender.stop.set()
        sender.wake.set()
        sender.thread.join(timeout)


def init_app(app: Flask) -> None:
    if app.config["MAIL_DELIVERY"] == "in-process":
        # Started by the first request, so `potluck db ...` and other commands send nothing.
        app.before_request(_ensure_sender)
        app.after_request(_wake_sender)
