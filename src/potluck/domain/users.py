"""What an account's name may be."""

from __future__ import annotations

USERNAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{2,29}"
# Paths under /users/ that name an action, not a user: no account may take these names,
# and /users/<username> never matches them (so OPTIONS and 405 list only their own methods).
RESERVED_USERNAMES = frozenset({"activate", "activation-email", "password-reset", "avatar"})
