"""Tags: every tag in use, with how many published recipes carry it."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from potluck.api.base import Blueprint
from potluck.domain.tags import tag_list
from potluck.http.headers import negotiated_type, produces
from potluck.http.paging import page_envelope, paged
from potluck.http.reads import Built, Read
from potluck.schemas.encoding import dumps_json
from potluck.schemas.tags import TagListQuerySchema, TagPageSchema
from potluck.services.exports import CSV_MIMETYPE, tags_csv
from potluck.services.pagination import count_rows, paginate

blp = Blueprint("tags", __name__, description="Tags")

_PAGE = TagPageSchema()  # built once, as the recipe lists' envelope is


@blp.route("/tags")
class Tags(MethodView):
    @blp.arguments(TagListQuerySchema, location="query")
    @blp.read(TagPageSchema, paged=True)
    @produces(CSV_MIMETYPE)
    def get(self, params: dict[str, Any]) -> Read:
        """Tags of published recipes with their counts: filter by prefix, sort and page"""
        media = negotiated_type()

        def build() -> Built:
            tags = tag_list(params)
            page = paginate(count_rows(tags), tags, params["page"], params["per_page"])
            envelope = _PAGE.dump(page_envelope(page))
            return paged(
                page, tags_csv(envelope["data"]) if media == CSV_MIMETYPE else dumps_json(envelope)
            )

        return Read(build, media)
