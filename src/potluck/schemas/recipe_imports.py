"""Recipe import: the address of the page to import from."""

from __future__ import annotations

from marshmallow import validate

from potluck.schemas.fields import StrictSchema, Text


class RecipeImportSchema(StrictSchema):
    url = Text(
        required=True,
        validate=validate.Length(1, 2048),
        metadata={
            "format": "uri",
            "description": "An http or https address of a page with a schema.org Recipe "
            "(JSON-LD or microdata), reachable without logging in",
            "example": "https://example.com/recipes/tomato-soup",
        },
    )
