"""The account life cycle: registration with a confirmation mail, confirming, password reset
by mail and password change. Mailed links carry signed, expiring, single-use tokens."""

from __future__ import annotations

import hashlib
from typing import Any

from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, url_for
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from potluck.domain.database import db
from potluck.domain.errors import Conflict, Forbidden, Invalid
from potluck.domain.models import User, utcnow
from potluck.services.mail import public_url, queue_mail
from potluck.services.passwords import end_all_sessions, hash_password, password_hasher

_ACTIVATION = "potluck.activate"
_RESET = "potluck.password-reset"
RESEND_HINT = "POST {email} to /api/v1/users/activation-email for a new link"


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=purpose)


def _password_fingerprint(user: User) -> str:
    # A reset token names the password it replaces, so it is dead once that password is.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def _load(token: str, purpose: str, max_age: int, renew: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired:
        raise Invalid(f"This link has expired; {renew}.", errors={"token": ["Expired."]}) from None
    except BadData:
        raise Invalid(
            f"This link is not valid; {renew}.", errors={"token": ["Not a valid token."]}
        ) from None
    return data


def user_by_email(email: str) -> User | None:
    user: User | None = db.session.scalar(select(User).where(User.email == email))
    return user


def register_user(username: str, email: str, password: str, display_name: str) -> User:
    """A new, unconfirmed account, with its confirmation mail in the same transaction."""
    user = User(
        username=username,
        email=email,
        display_name=display_name,
        password_hash=hash_password(password),
    )
    db.session.add(user)
    send_activation_mail(user)
    return user


def send_activation_mail(user: User) -> None:
    token = _serializer(_ACTIVATION).dumps({"email": user.email})
    link = public_url(url_for("root_accounts.ActivationLink", token=token))
    hours = current_app.config["ACTIVATION_TOKEN_SECONDS"] // 3600
    queue_mail(
        user.email,
        "Confirm your Potluck account",
        "confirm_account",
        user=user,
        link=link,
        token=token,
        hours=hours,
    )


def request_activation_mail(email: str) -> None:
    """Mail a new link to an unconfirmed account; silently nothing for any other address."""
    user = user_by_email(email)
    if user is not None and user.is_active and not user.is_confirmed:
        send_activation_mail(user)


def account_to_confirm(token: str) -> User:
    """The unconfirmed account a confirmation token names, left unconfirmed (the site shows
    a button first, so a mail scanner that opens the link uses nothing up)."""
    max_age = current_app.config["ACTIVATION_TOKEN_SECONDS"]
    data = _load(token, _ACTIVATION, max_age, RESEND_HINT)
    user = user_by_email(str(data.get("email")))
    if user is None or not user.is_active:
        raise Invalid(f"This link is not valid; {RESEND_HINT}.", errors={"token": ["No account."]})
    if user.is_confirmed:
        raise Conflict(
            "This link was already used and the account is confirmed: log in with "
            "POST /api/v1/tokens."
        )
    return user


def confirm_account(token: str) -> User:
    """Confirm the account a token names (Invalid when the token names none)."""
    user = account_to_confirm(token)
    user.confirmed_at = utcnow()
    return user


def request_password_reset(email: str) -> None:
    """Mail a reset code to an account; silently nothing for an unknown address."""
    user = user_by_email(email)
    if user is None or not user.is_active:
        return
    token = _serializer(_RESET).dumps({"email": user.email, "pw": _password_fingerprint(user)})
    minutes = current_app.config["PASSWORD_RESET_TOKEN_SECONDS"] // 60
    queue_mail(
        user.email,
        "Reset your Potluck password",
        "reset_password",
        user=user,
        token=token,
        minutes=minutes,
        link=public_url(url_for("web.reset_password", token=token)),
        endpoint=public_url("/api/v1/users/password-reset/complete"),
    )


def account_to_reset(token: str) -> User:
    """The account a reset code names, while the code still works (Invalid otherwise)."""
    renew = "ask for a new one with POST /api/v1/users/password-reset"
    data = _load(token, _RESET, current_app.config["PASSWORD_RESET_TOKEN_SECONDS"], renew)
    user = user_by_email(str(data.get("email")))
    if user is None or not user.is_active or data.get("pw") != _password_fingerprint(user):
        raise Invalid(
            f"This reset code was already used or is not valid; {renew}.",
            errors={"token": ["Already used or not valid."]},
        )
    return user


def reset_password(token: str, password: str) -> User:
    user = account_to_reset(token)
    set_password(user, password)
    # Only the owner of the mailbox can have read the code: the address is confirmed too.
    user.confirmed_at = user.confirmed_at or utcnow()
    return user


def change_password(user: User, current_password: str, new_password: str) -> None:
    try:
        password_hasher().verify(user.password_hash, current_password)
    except (VerificationError, InvalidHashError):
        raise Forbidden(
            "The current password is wrong; if you forgot it, use "
            "POST /api/v1/users/password-reset.",
            errors={"current_password": ["Wrong password."]},
        ) from None
    set_password(user, new_password)


def set_password(user: User, password: str) -> None:
    """A new password logs out every session (a caller may then issue new tokens)."""
    user.password_hash = hash_password(password)
    end_all_sessions(user)
