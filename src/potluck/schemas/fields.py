"""Field types shared by the schemas: strict numbers, clean text, line lists and tags."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

import marshmallow as ma
from marshmallow import ValidationError, fields, validate

# NUL and other control characters are never content; PostgreSQL cannot even store NUL.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_TAG = re.compile(r"^[\w][\w '&+-]*$")
_ASCII_INTEGER = re.compile(r"-?[0-9]{1,20}")

MAX_LINES = 100
MAX_LINE_LENGTH = 500
MAX_TAGS = 20
MAX_TAG_LENGTH = 30
MAX_PAGE = 1_000_000_000


def clean_text(value: str, *, multiline: bool = False) -> str:
    text = unicodedata.normalize("NFC", value).strip()
    if _CONTROL.search(text) or (not multiline and ("\n" in text or "\t" in text)):
        raise ValidationError("Must not contain control characters.")
    return text


class Text(fields.String):
    """A string, NFC-normalized and stripped, with control characters refused."""

    def __init__(self, *, multiline: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.multiline = multiline

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        return clean_text(
            super()._deserialize(value, attr, data, **kwargs), multiline=self.multiline
        )


class StrictInteger(fields.Integer):
    """A JSON integer: refuses strings, floats and booleans (`true` is not 1)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _validated(self, value: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._validated(value)


class QueryInteger(fields.Integer):
    """An integer in a query string, spelled in ASCII digits only (Python's int() also
    takes "١٢", "+12", " 12" and "1_2", which would give one page many URLs)."""

    default_error_messages = {"invalid": "Must be a whole number in ASCII digits."}  # noqa: RUF012

    def _validated(self, value: Any) -> int:
        if isinstance(value, str) and not _ASCII_INTEGER.fullmatch(value):
            raise self.make_error("invalid")
        return super()._validated(value)


def page_number() -> QueryInteger:
    """The `page` of a list: far past the end is an empty page, past MAX_PAGE a 400 (an
    OFFSET the database could not hold)."""
    return QueryInteger(
        load_default=1,
        validate=validate.Range(1, MAX_PAGE),
        metadata={"description": "Page number, from 1"},
    )


class _StringList(fields.Field):  # type: ignore[type-arg]
    """A JSON list of strings (or, where `split` is set, one string split into items)."""

    split: Callable[[str], list[str]] | None = None

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return list(value or [])

    def _strings(self, value: Any) -> list[str]:
        if isinstance(value, str) and self.split is not None:
            value = self.split(value)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.make_error("invalid")
        return value


class Lines(_StringList):
    """A list of lines; a newline-separated string is accepted too. Blank lines are dropped."""

    default_error_messages = {  # noqa: RUF012 - marshmallow's own convention
        "invalid": "Must be a list of strings or a newline-separated string.",
        "too_many": f"At most {MAX_LINES} lines.",
        "too_long": f"Each line must be at most {MAX_LINE_LENGTH} characters.",
    }

    split = staticmethod(str.splitlines)

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> list[str]:
        lines = [clean_text(line) for line in self._strings(value)]
        lines = [line for line in lines if line]
        if len(lines) > MAX_LINES:
            raise self.make_error("too_many")
        if any(len(line) > MAX_LINE_LENGTH for line in lines):
            raise self.make_error("too_long")
        return lines


class Tags(_StringList):
    """Tag names, a JSON list: lowercased, stripped, de-duplicated, order kept."""

    default_error_messages = {  # noqa: RUF012 - marshmallow's own convention
        "invalid": "Must be a list of tag names.",
        "too_many": f"At most {MAX_TAGS} tags.",
        "bad_tag": (
            f"Each tag is 1-{MAX_TAG_LENGTH} characters: letters, digits, spaces, "
            "and - + & ' inside."
        ),
    }

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> list[str]:
        tags: list[str] = []
        for raw in self._strings(value):
            tag = " ".join(clean_text(raw).lower().split())
            if not tag:
                continue
            if len(tag) > MAX_TAG_LENGTH or not _TAG.match(tag):
                raise self.make_error("bad_tag")
            if tag not in tags:
                tags.append(tag)
        if len(tags) > MAX_TAGS:
            raise self.make_error("too_many")
        return tags


class StrictSchema(ma.Schema):
    """Unknown fields are an error, so a client can never set `id` or `author_id`."""

    class Meta:
        unknown = ma.RAISE
