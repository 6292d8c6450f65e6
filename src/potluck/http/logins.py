"""Checking a login (name and password) for the API's tokens and the site's sessions alike:
one failure counter per account, the same slow answer for unknown names, and the account's
state (disabled, unconfirmed) checked before anything is issued."""

from __future__ import annotations

from potluck.domain.errors import Forbidden, Unauthenticated
from potluck.domain.models import User
from potluck.http.limits import forget_login_failures, record_login_failure, refuse_throttled_login
from potluck.services.passwords import find_login_user, verify_login

WRONG_CREDENTIALS = "The login name or the password is wrong."


class AccountNotConfirmed(Forbidden):
    """The password was right, but the address has not been confirmed yet."""

    def __init__(self, email: str) -> None:
        super().__init__(f"Confirm your email address first with the link mailed to {email}.")
        self.email = email  # where a new link would go: shown to the password's owner only


def checked_login(login: str, password: str) -> User:
    """The account `login` names, if `password` is its password and it may log in.

    Raises Unauthenticated (wrong name or password, the same for both), Forbidden (disabled)
    or AccountNotConfirmed; a 429 once this client failed too often for this account."""
    account = find_login_user(login)
    # One failure counter per account, whichever name it was addressed by.
    throttle_key = f"user:{account.id}" if account else f"name:{login.strip().lower()}"
    refuse_throttled_login(throttle_key)
    user = verify_login(account, password)
    if user is None:
        record_login_failure(throttle_key)
        raise Unauthenticated(WRONG_CREDENTIALS)
    forget_login_failures(throttle_key)
    if not user.is_active:
        raise Forbidden("This account is disabled; ask the site's administrator.")
    if not user.is_confirmed:
        raise AccountNotConfirmed(user.email)
    return user
