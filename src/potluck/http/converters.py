"""URL converters: one spelling per resource, and only values the database can hold."""

from __future__ import annotations

import re
from typing import Any

from werkzeug.routing import BaseConverter, IntegerConverter, Map

from potluck.domain.users import RESERVED_USERNAMES, USERNAME_PATTERN

# Ids are INTEGER: 32 bits on PostgreSQL (64 on SQLite); the smaller bound holds for both.
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<int:...>` for ids: ASCII digits without leading zeros, 1 to 2**31 - 1. Werkzeug's
    own takes any Unicode digit (an Arabic-Indic one is 1) and any size, so one recipe had
    many URLs and a huge id overflowed the database."""

    regex = r"[1-9][0-9]{0,9}"

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(map, *args, **{"min": 1, "max": MAX_ID, **kwargs})


class UsernameConverter(BaseConverter):
    """A username as registration allows it; the reserved action names never match. The
    exclusion is in the regex because Werkzeug lists a rule's methods in `Allow` once its
    regex matches, before `to_python` could refuse the value."""

    regex = (
        f"(?!(?i:{'|'.join(sorted(map(re.escape, RESERVED_USERNAMES)))})(?![A-Za-z0-9_.-]))"
        + USERNAME_PATTERN
    )
