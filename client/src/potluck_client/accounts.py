"""Accounts and credentials: register, log in and out, profiles and API keys."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from .models import ApiKey, TokenPair, User
from .session import ApiSession


class AccountMethods:
    """The account half of `Client` (see there)."""

    session: ApiSession

    def register(self, username: str, email: str, password: str) -> User:
        """Create an account (it can log in once its email address is confirmed).

        Example:
            >>> client.register("sam", "sam@example.com", "a long passphrase")
        """
        body = {"username": username, "email": email, "password": password}
        return User.from_json(self.session.request("POST", "/users", body=body).json())

    def login(self, username: str, password: str) -> TokenPair:
        """Log in: this client then uses the access token, and refreshes it when it expires.

        Example:
            >>> tokens = client.login("sam", "a long passphrase")
        """
        body = {"username": username, "password": password}
        answer = self.session.request("POST", "/tokens", body=body, authorization="")
        tokens = TokenPair.from_json(answer.json())
        self.session.set_tokens(tokens)
        return tokens

    def refresh(self) -> TokenPair:
        """Trade the refresh token for a new pair now (a 401 does it by itself).

        Example:
            >>> client.refresh().access_token
        """
        return self.session.refresh()

    def logout(self) -> None:
        """Revoke the access token and the refresh token.

        Example:
            >>> client.logout()
        """
        body = {"refresh_token": self.session.refresh_token} if self.session.refresh_token else {}
        self.session.request("DELETE", "/tokens", body=body, refresh=False)
        self.session.token = self.session.refresh_token = None

    def me(self) -> User:
        """The signed-in user, email included. Example: ``client.me().username``"""
        return User.from_json(self.session.request("GET", "/me").json())

    def user(self, username: str) -> User:
        """A user's public profile. Example: ``client.user("sam").display_name``"""
        answer = self.session.request("GET", f"/users/{quote(username, safe='')}")
        return User.from_json(answer.json())

    def api_keys(self) -> list[ApiKey]:
        """Your API keys, without their secrets. Example: ``[k.name for k in client.api_keys()]``"""
        return [ApiKey.from_json(key) for key in self.session.request("GET", "/me/api-keys").json()]

    def create_api_key(
        self, name: str, scope: str = "read", expires_at: datetime | None = None
    ) -> ApiKey:
        """Create an API key (needs a login, not a key); its `key` is shown this once.

        Example:
            >>> secret = client.create_api_key("backup", scope="write").key
        """
        body = {"name": name, "scope": scope, "expires_at": expires_at and expires_at.isoformat()}
        return ApiKey.from_json(self.session.request("POST", "/me/api-keys", body=body).json())

    def revoke_api_key(self, key_id: int) -> None:
        """Revoke an API key: it stops working at once. Example: ``client.revoke_api_key(3)``"""
        self.session.request("DELETE", f"/me/api-keys/{key_id}")
