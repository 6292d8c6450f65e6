"""Mail: the confirmation mail over real SMTP, the outbox through an outage, the in-process
sender, concurrent senders, and the log-only mode of the embedded default."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import time_machine
from conftest import PASSWORD, SMTPServer, activation_path, free_port, outbox
from conftest import test_environ as environ_for
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from potluck.cli import main
from potluck.domain.database import db
from potluck.domain.models import OutboxMail, utcnow
from potluck.services.outbox import DeliveryReport, claim_due, deliver_due, stop_in_process_sender

CAROL = {"username": "carol", "email": "carol@example.com", "password": PASSWORD}


def bodies(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    return text.get_content(), html.get_content()


def login(client: FlaskClient) -> Any:
    return client.post("/api/v1/tokens", json={"username": "carol", "password": PASSWORD})


def test_confirmation_mail_arrives_over_smtp_and_its_link_confirms(
    app: Flask, client: FlaskClient, smtp_server: SMTPServer
) -> None:
    app.config["PUBLIC_BASE_URL"] = "https://recipes.example.org"
    # The Host header is the attacker's choice; the link must not follow it.
    created = client.post("/api/v1/users", json=CAROL, headers={"Host": "evil.example"})
    assert created.status_code == 201
    assert login(client).status_code == 403

    with app.app_context():
        assert deliver_due().sent == 1
    [message] = smtp_server.messages
    assert message["To"] == "carol@example.com"
    assert message["Subject"] == "Confirm your Potluck account"
    assert message["Message-ID"]
    text, html = bodies(message)
    link = activation_path(text.replace("https://", "http://"))
    assert f"https://recipes.example.org{link}" in text
    assert f'href="https://recipes.example.org{link}"' in html
    assert "evil.example" not in text + html

    confirmed = client.get(urlsplit(f"https://recipes.example.org{link}").path)
    assert confirmed.status_code == 204
    assert login(client).status_code == 200
    # Nothing is sent twice.
    with app.app_context():
        assert deliver_due().sent == 0
    assert len(smtp_server.messages) == 1


def test_registration_succeeds_while_smtp_is_down_and_the_mail_follows(
    app: Flask, client: FlaskClient
) -> None:
    server = SMTPServer()
    server.use_in(app)  # nothing listens on its port yet
    assert client.post("/api/v1/users", json=CAROL).status_code == 201
    with app.app_context():
        report = deliver_due()
        assert (report.sent, report.failed) == (0, 1)
    [mail] = outbox(app, "carol@example.com")
    assert mail.sent_at is None
    assert mail.attempts == 1
    assert mail.last_error
    assert "Connection" in mail.last_error
    assert mail.next_attempt_at > utcnow() + timedelta(seconds=20)

    server.start()
    try:
        with app.app_context():
            assert deliver_due().sent == 0  # not due yet: it backs off
        with time_machine.travel(utcnow() + timedelta(minutes=2)), app.app_context():
            assert deliver_due().sent == 1
        [message] = server.messages
    finally:
        server.stop()
    text, _ = bodies(message)
    assert client.get(activation_path(text)).status_code == 204
    assert login(client).status_code == 200
    [mail] = outbox(app, "carol@example.com")
    assert mail.sent_at is not None
    assert mail.attempts == 2


def test_retries_back_off_exponentially_up_to_a_ceiling(app: Flask) -> None:
    from potluck.services.outbox import retry_delay

    with app.app_context():
        delays = [retry_delay(attempt).total_seconds() for attempt in range(1, 12)]
    assert delays[:4] == [30, 60, 120, 240]
    assert delays[-1] == 3600
    assert delays == sorted(delays)


def test_in_process_sender_delivers_without_a_worker(
    app: Flask, client: FlaskClient, smtp_server: SMTPServer
) -> None:
    app.config.update(MAIL_DELIVERY="in-process", MAIL_POLL_SECONDS=0.05)
    from potluck.services import outbox as outbox_module

    outbox_module.init_app(app)
    try:
        assert client.post("/api/v1/users", json=CAROL).status_code == 201
        deadline = time.monotonic() + 10
        while not smtp_server.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        [message] = smtp_server.messages
        assert client.get(activation_path(bodies(message)[0])).status_code == 204
    finally:
        stop_in_process_sender(app)  # after the last request, which would start another
    assert "potluck_mail_sender" not in app.extensions


def test_two_senders_never_claim_the_same_mail(app: Flask, client: FlaskClient) -> None:
    for name in ("ann", "ben", "cat", "dan"):
        body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        assert client.post("/api/v1/users", json=body).status_code == 201
    with app.app_context():
        first = claim_due(utcnow(), limit=3)
        second = claim_due(utcnow())
        assert len(first) == 3
        assert len(second) == 1
        assert not set(first) & set(second)
        assert claim_due(utcnow()) == []
        # A claim that outlived its sender (crash) becomes due again.
        later = utcnow() + timedelta(minutes=10)
        assert sorted(claim_due(later)) == sorted(first + second)


def test_without_a_mail_server_mail_is_logged_and_kept(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    assert app.config["MAIL_SERVER"] is None
    assert client.post("/api/v1/users", json=CAROL).status_code == 201
    with caplog.at_level(logging.INFO, logger="potluck.services.mail"), app.app_context():
        assert deliver_due().sent == 1
    logged = caplog.text
    assert "carol@example.com" in logged
    link = activation_path(logged)
    assert client.get(link).status_code == 204
    with app.app_context():
        kept = db.session.scalars(select(OutboxMail)).all()
        assert len(kept) == 1
        assert kept[0].sent_at is not None


def test_worker_command_delivers_the_outbox(
    app: Flask, client: FlaskClient, smtp_server: SMTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    assert client.post("/api/v1/users", json=CAROL).status_code == 201
    with caplog.at_level(logging.INFO, logger="potluck.services.mail"):
        result = app.test_cli_runner().invoke(cli=main, args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "Sent 1 mails, 0 failed" in result.output
    assert [m["To"] for m in smtp_server.messages] == ["carol@example.com"]
    # With a mail server the log names the mail, but keeps its single-use link out.
    assert "sent to carol@example.com" in caplog.text
    assert "/users/activate/" not in caplog.text


def test_a_failed_registration_sends_no_mail(
    app: Flask, client: FlaskClient, user: dict[str, Any]
) -> None:
    taken = {**CAROL, "email": "alice@example.com"}
    assert client.post("/api/v1/users", json=taken).status_code == 409
    assert len(outbox(app, "alice@example.com")) == 1  # alice's own confirmation only


def test_unused_port_is_really_closed() -> None:
    # The outage test relies on a free port refusing connections.
    import socket

    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", free_port())),
    ):
        pass


def test_potluck_worker_runs_until_stopped(
    app: Flask, client: FlaskClient, smtp_server: SMTPServer, database_url: str, tmp_path: Path
) -> None:
    """The scaled-out sender: a real `potluck worker` process next to the web app."""
    environ = {
        **os.environ,
        **environ_for(database_url, tmp_path / "worker"),
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_server.port),
        "MAIL_POLL_SECONDS": "0.1",
    }
    worker = subprocess.Popen(
        [Path(sys.executable).with_name("potluck"), "worker"],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert client.post("/api/v1/users", json=CAROL).status_code == 201
        deadline = time.monotonic() + 20
        while not smtp_server.messages and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=20)
    assert worker.returncode == 0, output
    assert "Stopped." in output
    [message] = smtp_server.messages
    assert client.get(activation_path(bodies(message)[0])).status_code == 204


def test_smtp_login_with_the_configured_account(app: Flask, client: FlaskClient) -> None:
    server = SMTPServer(login=("potluck", "mail password"))
    server.use_in(app)
    app.config.update(MAIL_USERNAME="potluck", MAIL_PASSWORD="a wrong one")
    server.start()
    try:
        assert client.post("/api/v1/users", json=CAROL).status_code == 201
        with app.app_context():
            assert deliver_due().failed == 1
        [mail] = outbox(app, "carol@example.com")
        assert mail.last_error
        assert "SMTPAuthenticationError" in mail.last_error
        assert server.messages == []
        app.config["MAIL_PASSWORD"] = "mail password"
        with time_machine.travel(utcnow() + timedelta(minutes=1)), app.app_context():
            assert deliver_due().sent == 1
        assert [m["To"] for m in server.messages] == ["carol@example.com"]
    finally:
        server.stop()


def test_concurrent_senders_deliver_each_mail_exactly_once(
    app: Flask, client: FlaskClient, smtp_server: SMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Many small rounds, so claims interleave.
    monkeypatch.setattr("potluck.services.outbox.BATCH", 2)
    names = [f"cook{n}" for n in range(12)]
    for name in names:
        body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        assert client.post("/api/v1/users", json=body).status_code == 201
    reports: list[DeliveryReport] = []

    def sender() -> None:
        with app.app_context():
            while (report := deliver_due()).sent:
                reports.append(report)
            db.session.remove()

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(report.sent for report in reports) == len(names)
    recipients = sorted(str(message["To"]) for message in smtp_server.messages)
    assert recipients == sorted(f"{name}@example.com" for name in names)


def test_worker_once_sends_every_due_batch(
    app: Flask, client: FlaskClient, smtp_server: SMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("potluck.services.outbox.BATCH", 2)
    for n in range(5):
        body = {"username": f"cook{n}", "email": f"cook{n}@example.com", "password": PASSWORD}
        assert client.post("/api/v1/users", json=body).status_code == 201
    result = app.test_cli_runner().invoke(cli=main, args=["worker", "--once"])
    assert "Sent 5 mails, 0 failed" in result.output
    assert len(smtp_server.messages) == 5
