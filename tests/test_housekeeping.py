"""Housekeeping: `purge` deletes expired idempotency keys, revoked tokens past their expiry
and mail delivered long ago, in bounded batches; `potluck purge`; the senders' schedule."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from conftest import RECIPE
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from potluck.cli import main
from potluck.domain.database import db as _db
from potluck.domain.models import IdempotencyKey, OutboxMail, RevokedToken, utcnow
from potluck.services import housekeeping
from potluck.services.housekeeping import PurgeReport, PurgeSchedule, purge
from potluck.services.outbox import run_sender

NOW = utcnow().replace(microsecond=0)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


def add_key(db: Any, name: str, created_at: Any) -> None:
    db.session.add(
        IdempotencyKey(scope="anonymous", key=name, fingerprint="f", created_at=created_at)
    )


def add_revoked(db: Any, jti: str, expires_at: Any) -> None:
    db.session.add(RevokedToken(jti=jti, expires_at=expires_at))


def add_mail(db: Any, subject: str, sent_at: Any = None, **fields: Any) -> None:
    db.session.add(
        OutboxMail(
            recipient="cook@example.com",
            subject=subject,
            text_body="text",
            html_body="<p>html</p>",
            sent_at=sent_at,
            **fields,
        )
    )


def remaining(db: Any) -> dict[str, list[str]]:
    db.session.rollback()  # read what is committed now
    return {
        "keys": sorted(db.session.scalars(select(IdempotencyKey.key))),
        "tokens": sorted(db.session.scalars(select(RevokedToken.jti))),
        "mails": sorted(db.session.scalars(select(OutboxMail.subject))),
    }


@pytest.fixture
def rows_around_the_cut_offs(db: Any) -> dict[str, list[str]]:
    """Rows of each kind just past, exactly at and just short of their cut-off at NOW; returns
    what a purge at NOW must keep."""
    add_key(db, "expired", NOW - DAY - SECOND)
    add_key(db, "at-the-cut-off", NOW - DAY)  # replayed still (the check is strictly older)
    add_key(db, "fresh", NOW - DAY + SECOND)
    add_revoked(db, "expired", NOW - SECOND)
    add_revoked(db, "expires-now", NOW)
    add_revoked(db, "valid", NOW + SECOND)
    add_mail(db, "sent long ago", sent_at=NOW - 7 * DAY - SECOND)
    add_mail(db, "sent at the cut-off", sent_at=NOW - 7 * DAY)
    add_mail(db, "sent lately", sent_at=NOW - 7 * DAY + SECOND)
    add_mail(db, "never sent", created_at=NOW - 30 * DAY, next_attempt_at=NOW - 30 * DAY)
    add_mail(
        db,
        "failing, retried",
        created_at=NOW - 30 * DAY,
        attempts=12,
        next_attempt_at=NOW + DAY,
        last_error="connection refused",
    )
    db.session.commit()
    return {
        "keys": ["at-the-cut-off", "fresh"],
        "tokens": ["expires-now", "valid"],
        "mails": sorted(["sent at the cut-off", "sent lately", "never sent", "failing, retried"]),
    }


def test_purge_removes_exactly_what_expired(
    db: Any, rows_around_the_cut_offs: dict[str, list[str]]
) -> None:
    report = purge(NOW)
    assert report == PurgeReport(idempotency_keys=1, revoked_tokens=1, sent_mails=1)
    assert report.total == 3
    assert remaining(db) == rows_around_the_cut_offs
    assert purge(NOW) == PurgeReport()  # idempotent: nothing left to remove


def test_a_dry_run_counts_and_removes_nothing(
    db: Any, rows_around_the_cut_offs: dict[str, list[str]]
) -> None:
    before = remaining(db)
    report = purge(NOW, dry_run=True)
    assert report == PurgeReport(idempotency_keys=1, revoked_tokens=1, sent_mails=1)
    assert remaining(db) == before
    assert len(before["keys"]) == 3


def test_the_cut_offs_follow_the_settings(app: Flask, db: Any) -> None:
    app.config.update(IDEMPOTENCY_KEY_SECONDS=60, OUTBOX_KEEP_SENT_DAYS=1)
    add_key(db, "old", NOW - timedelta(seconds=61))
    add_key(db, "young", NOW - timedelta(seconds=59))
    add_mail(db, "old", sent_at=NOW - DAY - SECOND)
    add_mail(db, "young", sent_at=NOW - DAY + SECOND)
    db.session.commit()
    assert purge(NOW) == PurgeReport(idempotency_keys=1, sent_mails=1)
    assert remaining(db) == {"keys": ["young"], "tokens": [], "mails": ["young"]}


def test_the_api_and_the_purge_read_the_same_key_lifetime(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    app.config["IDEMPOTENCY_KEY_SECONDS"] = 60
    headers = {**auth_headers, "Idempotency-Key": "short-lived"}
    first = client.post("/api/v1/recipes", json=RECIPE, headers=headers)
    assert first.status_code == 201
    with app.app_context():
        old = utcnow() - timedelta(seconds=61)
        _db.session.execute(update(IdempotencyKey).values(created_at=old))
        _db.session.commit()
        assert purge(dry_run=True).idempotency_keys == 1
    again = client.post("/api/v1/recipes", json=RECIPE, headers=headers)
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers  # expired for the API as well
    assert again.headers["Location"] != first.headers["Location"]


def test_large_backlogs_are_deleted_in_bounded_batches(
    db: Any,
    monkeypatch: pytest.MonkeyPatch,
    count_queries: Callable[[], contextlib.AbstractContextManager[list[str]]],
) -> None:
    monkeypatch.setattr(housekeeping, "BATCH", 2)
    for n in range(5):
        add_key(db, f"expired-{n}", NOW - 2 * DAY)
        add_revoked(db, f"expired-{n}", NOW - DAY)
    add_key(db, "fresh", NOW)
    db.session.commit()
    with count_queries() as statements:
        report = purge(NOW)
    assert report == PurgeReport(idempotency_keys=5, revoked_tokens=5)
    deletes = [s.split()[2] for s in statements if s.lstrip().upper().startswith("DELETE")]
    # 2 + 2 + 1 rows: three statements per kind; one more for the empty outbox.
    assert deletes == ["idempotency_keys"] * 3 + ["revoked_tokens"] * 3 + ["outbox_mails"]
    assert remaining(db) == {"keys": ["fresh"], "tokens": [], "mails": []}


def test_a_revoked_token_purged_after_its_expiry_is_still_refused(
    app: Flask,
    client: FlaskClient,
    user: dict[str, Any],
    login: Callable[[str], dict[str, str]],
) -> None:
    # No app context around the requests: each gets its own, as in production.
    def purged_tokens() -> int:
        with app.app_context():
            return purge().revoked_tokens

    start = utcnow()
    with time_machine.travel(start, tick=False):
        access = login(user["username"])
        assert client.delete("/api/v1/tokens", headers=access).status_code == 204
        assert purged_tokens() == 0  # still valid: its revocation must stay
        refused = client.get("/api/v1/me", headers=access)
        assert refused.status_code == 401
        assert "revoked" in refused.json["detail"]
    with time_machine.travel(start + timedelta(minutes=15, seconds=1), tick=False):
        assert purged_tokens() == 1
        late = client.get("/api/v1/me", headers=access)
        assert late.status_code == 401
        assert "expired" in late.json["detail"]


def test_the_purge_command(app: Flask, db: Any) -> None:
    add_key(db, "expired", utcnow() - 2 * DAY)
    add_key(db, "fresh", utcnow())
    add_revoked(db, "expired", utcnow() - DAY)
    add_mail(db, "sent long ago", sent_at=utcnow() - 8 * DAY)
    add_mail(db, "unsent", created_at=utcnow() - 8 * DAY)
    db.session.commit()
    runner = app.test_cli_runner()

    dry = runner.invoke(cli=main, args=["purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.output.splitlines() == [
        "Would remove 1 expired idempotency keys.",
        "Would remove 1 revoked tokens past their expiry.",
        "Would remove 1 mails delivered more than 7 days ago.",
    ]
    assert remaining(db) == {
        "keys": ["expired", "fresh"],
        "tokens": ["expired"],
        "mails": ["sent long ago", "unsent"],
    }

    done = runner.invoke(cli=main, args=["purge"])
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        "Removed 1 expired idempotency keys.",
        "Removed 1 revoked tokens past their expiry.",
        "Removed 1 mails delivered more than 7 days ago.",
    ]
    assert remaining(db) == {"keys": ["fresh"], "tokens": [], "mails": ["unsent"]}
    assert "Removed 0 expired" in runner.invoke(cli=main, args=["purge"]).output


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_schedule_purges_at_once_then_every_interval() -> None:
    clock, runs = FakeClock(), []

    def run() -> PurgeReport:
        runs.append(clock.now)
        return PurgeReport(sent_mails=1)

    schedule = PurgeSchedule(3600, clock=clock, run=run)
    assert schedule.run_if_due() == PurgeReport(sent_mails=1)  # at the sender's start
    for now in (1001.0, 4599.9):
        clock.now = now
        assert schedule.run_if_due() is None
    clock.now = 4600.0
    assert schedule.run_if_due() is not None
    clock.now = 8000.0  # the next one is an interval after the last run, not after the first
    assert schedule.run_if_due() is None
    clock.now = 8200.0
    assert schedule.run_if_due() is not None
    assert runs == [1000.0, 4600.0, 8200.0]


def test_an_interval_of_zero_turns_the_schedule_off() -> None:
    clock, runs = FakeClock(), []

    def run() -> PurgeReport:
        runs.append(clock.now)
        return PurgeReport()

    schedule = PurgeSchedule(0, clock=clock, run=run)
    for now in (1000.0, 5000.0, 1e9):
        clock.now = now
        assert schedule.run_if_due() is None
    assert runs == []


def test_a_failed_purge_is_logged_and_tried_again_an_interval_later(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    clock, attempts = FakeClock(), []

    def broken() -> PurgeReport:
        attempts.append(clock.now)
        raise RuntimeError("database is locked")

    schedule = PurgeSchedule(60, clock=clock, run=broken)
    with app.app_context(), caplog.at_level(logging.ERROR, logger="potluck.services.housekeeping"):
        assert schedule.run_if_due() is None
        clock.now += 30
        assert schedule.run_if_due() is None
        clock.now += 30
        assert schedule.run_if_due() is None
    assert attempts == [1000.0, 1060.0]
    assert caplog.text.count("housekeeping purge failed") == 2
    assert "database is locked" in caplog.text


def test_the_schedule_runs_the_real_purge(app: Flask, db: Any) -> None:
    add_revoked(db, "expired", utcnow() - SECOND)
    add_revoked(db, "valid", utcnow() + DAY)
    db.session.commit()
    report = PurgeSchedule(3600).run_if_due()
    assert report == PurgeReport(revoked_tokens=1)
    assert remaining(db)["tokens"] == ["valid"]


def sender_rounds(app: Flask, monkeypatch: pytest.MonkeyPatch, rounds: int) -> list[int]:
    """Run the mail sender's loop (in this thread) for `rounds` rounds, delivering nothing."""
    stop, wake, done = threading.Event(), threading.Event(), []

    def deliver_nothing() -> None:
        done.append(1)
        if len(done) == rounds:
            stop.set()
            wake.set()

    app.config["MAIL_POLL_SECONDS"] = 0
    monkeypatch.setattr("potluck.services.outbox.deliver_all_due", deliver_nothing)
    run_sender(app, stop, wake)
    return done


def test_the_mail_sender_purges_on_its_schedule(
    app: Flask, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_mail(db, "sent long ago", sent_at=utcnow() - 8 * DAY)
    add_mail(db, "unsent")
    db.session.commit()
    db.session.remove()
    assert len(sender_rounds(app, monkeypatch, rounds=1)) == 1
    assert remaining(db)["mails"] == ["unsent"]


def test_a_failing_purge_never_stops_the_mail_sender(
    app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> PurgeReport:
        raise RuntimeError("disk I/O error")

    monkeypatch.setattr(housekeeping, "purge", broken)
    with caplog.at_level(logging.ERROR, logger="potluck.services.housekeeping"):
        assert len(sender_rounds(app, monkeypatch, rounds=3)) == 3
    assert "housekeeping purge failed" in caplog.text
    assert "disk I/O error" in caplog.text
