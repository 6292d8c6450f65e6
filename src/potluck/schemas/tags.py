"""Tag schemas: the list query and a tag with its count of published recipes."""

from __future__ import annotations

import marshmallow as ma
from flask import url_for
from marshmallow import fields, validate

from potluck.domain.models import Tag
from potluck.schemas.fields import MAX_TAG_LENGTH, QueryInteger, StrictSchema, Text, page_number
from potluck.schemas.recipes import ORDERS, PageLinksSchema

TAG_SORTS = ("count", "name")
MAX_PER_PAGE = 100


class TagListQuerySchema(StrictSchema):
    """Query parameters of the tag list; anything else is a 400, never ignored."""

    page = page_number()
    per_page = QueryInteger(load_default=50, validate=validate.Range(1, MAX_PER_PAGE))
    q = Text(
        validate=validate.Length(1, MAX_TAG_LENGTH),
        metadata={"description": "Only tags whose name starts with this (any case)"},
    )
    sort = fields.String(
        load_default="count",
        validate=validate.OneOf(TAG_SORTS),
        metadata={"description": "count: most used first; name: alphabetical"},
    )
    order = fields.String(
        load_default=None,
        validate=validate.OneOf(ORDERS),
        metadata={"description": "desc for count and asc for name unless given"},
    )


class TagOutputSchema(ma.Schema):
    name = fields.String(dump_only=True)
    recipes = fields.Integer(
        dump_only=True, attribute="recipe_count", metadata={"description": "Published recipes"}
    )
    url = fields.Method(
        "recipes_url", dump_only=True, metadata={"description": "The recipes with this tag"}
    )

    def recipes_url(self, tag: Tag) -> str:
        return url_for("recipes.Recipes", tag=tag.name)


class TagPageSchema(ma.Schema):
    data = fields.List(fields.Nested(TagOutputSchema))
    page = fields.Integer()
    per_page = fields.Integer()
    pages = fields.Integer()
    total = fields.Integer()
    links = fields.Nested(PageLinksSchema)
