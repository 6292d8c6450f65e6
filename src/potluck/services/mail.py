"""Mail: composing messages into the outbox, and handing one message to SMTP or the log.

A mail is only ever written to the outbox, in the caller's transaction; `outbox.py` sends it.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from flask import current_app, g, render_template

from potluck.domain.database import db
from potluck.domain.models import OutboxMail

log = logging.getLogger(__name__)


class DeliveryError(RuntimeError):
    """The mail server could not be reached or refused the message; try again later."""


def queue_mail(recipient: str, subject: str, template: str, **context: Any) -> OutboxMail:
    """Render `mail/<template>.txt` and `.html` into an outbox row of the current transaction."""
    context = {"subject": subject, "site": current_app.config["PUBLIC_BASE_URL"], **context}
    mail = OutboxMail(
        recipient=recipient,
        subject=subject,
        text_body=render_template(f"mail/{template}.txt", **context),
        html_body=render_template(f"mail/{template}.html", **context),
    )
    db.session.add(mail)
    g.mail_queued = True  # wakes the in-process sender once the request is done
    return mail


def public_url(path: str) -> str:
    """An absolute link for a mail: from PUBLIC_BASE_URL, never from the request's Host."""
    return f"{current_app.config['PUBLIC_BASE_URL']}{path}"


def build_message(mail: OutboxMail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    # The same id on every retry lets receiving servers drop a duplicate.
    message["Message-ID"] = make_msgid(idstring=f"outbox-{mail.id}", domain="potluck")
    message.set_content(mail.text_body)
    message.add_alternative(mail.html_body, subtype="html")
    return message


def deliver(mail: OutboxMail, config: dict[str, Any]) -> None:
    """Send one mail over SMTP, or print it to the log when no MAIL_SERVER is configured."""
    message = build_message(mail, config["MAIL_DEFAULT_SENDER"])
    if not config["MAIL_SERVER"]:
        log.info("Mail to %s (no MAIL_SERVER: logged only)\n%s", mail.recipient, mail.text_body)
        return
    try:
        with _connect(config) as smtp:
            if config["MAIL_USERNAME"]:
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        raise DeliveryError(f"{type(error).__name__}: {error}") from error
    # Not the body: it holds single-use tokens, and logs outlive them.
    log.info("Mail %s (%r) sent to %s", mail.id, mail.subject, mail.recipient)


def _connect(config: dict[str, Any]) -> smtplib.SMTP:
    host, port, timeout = config["MAIL_SERVER"], config["MAIL_PORT"], config["MAIL_TIMEOUT_SECONDS"]
    if config["MAIL_USE_SSL"]:
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    smtp = smtplib.SMTP(host, port, timeout=timeout)
    if config["MAIL_USE_TLS"]:
        smtp.starttls(context=ssl.create_default_context())
    return smtp
