"""Recipe schemas: create, replace, partial update, output and the list query."""

from __future__ import annotations

from collections.abc import Mapping

import marshmallow as ma
from marshmallow import fields, validate

from potluck.schemas.fields import (
    Lines,
    QueryInteger,
    StrictInteger,
    StrictSchema,
    Tags,
    Text,
    page_number,
)
from potluck.schemas.images import ImageUrls, LargeImageUrl
from potluck.schemas.users import AuthorSchema

SORT_FIELDS = ("created_at", "updated_at", "name", "cook_time", "num_of_servings", "relevance")
ORDERS = ("asc", "desc")
MAX_PER_PAGE = 100
MAX_CURSOR_LENGTH = 4000


def _minutes(description: str) -> StrictInteger:
    return StrictInteger(
        allow_none=True,
        validate=validate.Range(1, 1440),
        metadata={"description": f"{description}, in minutes (1-1440)"},
    )


class RecipeInputSchema(StrictSchema):
    """A whole recipe as a client writes it (POST and PUT)."""

    name = Text(required=True, validate=validate.Length(1, 100))
    description = Text(multiline=True, load_default="", validate=validate.Length(max=1000))
    num_of_servings = StrictInteger(load_default=1, validate=validate.Range(1, 50))
    cook_time = _minutes("Cooking time")
    prep_time = _minutes("Preparation time")
    ingredients = Lines(
        load_default=list,
        metadata={
            "description": 'One line per ingredient, e.g. "2 cups flour"; '
            "a newline-separated string is accepted too"
        },
    )
    directions = Lines(load_default=list, metadata={"description": "One step per line"})
    tags = Tags(load_default=list, metadata={"description": "Tag names, lowercased"})
    source_url = fields.URL(
        allow_none=True,
        schemes={"http", "https"},
        validate=validate.Length(max=2048),
        metadata={"description": "Where the recipe comes from"},
    )


class RecipePatchSchema(RecipeInputSchema):
    """Some fields of a recipe (PATCH): use it with partial=True."""


class RecipeOutputSchema(ma.Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)
    description = fields.String(dump_only=True)
    num_of_servings = fields.Integer(dump_only=True)
    cook_time = fields.Integer(dump_only=True, allow_none=True)
    prep_time = fields.Integer(dump_only=True, allow_none=True)
    ingredients = fields.List(fields.String(), dump_only=True)
    directions = fields.List(fields.String(), dump_only=True)
    tags = fields.List(fields.String(), dump_only=True)
    is_publish = fields.Boolean(dump_only=True)
    cover_url = LargeImageUrl(
        attribute="cover_hash", metadata={"description": "The large size of the cover"}
    )
    cover = ImageUrls(attribute="cover_hash", metadata={"description": "The cover at every size"})
    source_url = fields.String(dump_only=True, allow_none=True)
    author = fields.Nested(AuthorSchema, dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)


class PageLinksSchema(ma.Schema):
    first = fields.String()
    last = fields.String(
        allow_none=True, metadata={"description": "null in cursor mode (it has no page count)"}
    )
    prev = fields.String(allow_none=True, metadata={"description": "null in cursor mode"})
    next = fields.String(
        allow_none=True,
        metadata={"description": "The next page: by page number, or in cursor mode by cursor"},
    )


class RecipePageSchema(ma.Schema):
    data = fields.List(fields.Nested(RecipeOutputSchema))
    page = fields.Integer(allow_none=True, metadata={"description": "null in cursor mode"})
    per_page = fields.Integer()
    pages = fields.Integer(allow_none=True, metadata={"description": "null in cursor mode"})
    total = fields.Integer(metadata={"description": "Recipes in the whole list"})
    next_cursor = fields.String(
        allow_none=True,
        metadata={
            "description": "Send as cursor for the page after this one (keyset paging, in "
            "either mode); null on the last page"
        },
    )
    links = fields.Nested(PageLinksSchema)


class RecipeListQuerySchema(StrictSchema):
    """Query parameters of every recipe list; anything else is a 400, never ignored."""

    page = page_number()
    cursor = fields.String(
        validate=validate.Length(1, MAX_CURSOR_LENGTH),
        metadata={
            "description": "Instead of page: the next_cursor of the page before (keyset "
            "paging, as fast deep in a list as on page 1); keep the other parameters"
        },
    )
    per_page = QueryInteger(load_default=20, validate=validate.Range(1, MAX_PER_PAGE))
    q = Text(validate=validate.Length(1, 200), metadata={"description": "Words to search for"})
    tag = fields.List(
        Text(validate=validate.Length(1, 30)),
        metadata={"description": "Only recipes with every one of these tags (repeatable)"},
    )
    author = Text(validate=validate.Length(1, 30), metadata={"description": "Author's username"})
    max_cook_time = QueryInteger(validate=validate.Range(1, 1440))
    sort = fields.String(
        load_default="created_at",
        validate=validate.OneOf(SORT_FIELDS),
        metadata={"description": "relevance needs q"},
    )
    order = fields.String(load_default=None, validate=validate.OneOf(ORDERS))

    @ma.validates_schema(pass_original=True, skip_on_field_errors=False)
    def _page_or_cursor(
        self, data: dict[str, object], original: Mapping[str, object], **kwargs: object
    ) -> None:
        if "cursor" in data and "page" in original:
            raise ma.ValidationError("Send page or cursor, not both.", "cursor")

    @ma.validates_schema
    def _relevance_needs_query(self, data: dict[str, object], **kwargs: object) -> None:
        if data.get("sort") == "relevance" and not data.get("q"):
            raise ma.ValidationError("sort=relevance needs a search query q.", "sort")


class UserRecipeListQuerySchema(RecipeListQuerySchema):
    visibility = fields.String(
        load_default="public",
        validate=validate.OneOf(("public", "all", "private")),
        metadata={"description": "all and private include drafts; for their author only"},
    )
