"""Tags: every tag in use, with how many published recipes carry it."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from potluck.api.base import Blueprint
from potluck.domain.tags import tag_list
from potluck.http.cache import cached_answer
from potluck.http.headers import negotiated_type, produces
from potluck.http.paging import link_header, page_envelope
from potluck.schemas.encoding import dumps_json
from potluck.schemas.tags import TagListQuerySchema, TagPageSchema
from potluck.services.exports import CSV_MIMETYPE, tags_csv
from potluck.services.pagination import count_rows, paginate

blp = Blueprint("tags", __name__, description="Tags")

_LINK_HEADER = {"Link": {"schema": {"type": "string"}, "description": "RFC 8288 page links"}}
_PAGE = TagPageSchema()  # built once, as the recipe lists' envelope is


@blp.route("/tags")
class Tags(MethodView):
    @blp.arguments(TagListQuerySchema, location="query")
    @blp.response(200, TagPageSchema, headers=_LINK_HEADER)
    @produces(CSV_MIMETYPE)
    def get(self, params: dict[str, Any]) -> Any:
        """Tags of published recipes with their counts: filter by prefix, sort and page"""
        media = negotiated_type()

        def build() -> tuple[bytes, str, dict[str, str]]:
            tags = tag_list(params)
            page = paginate(count_rows(tags), tags, params["page"], params["per_page"])
            envelope = _PAGE.dump(page_envelope(page))
            body = tags_csv(envelope["data"]) if media == CSV_MIMETYPE else dumps_json(envelope)
            return body, media, {"Link": link_header(page)}

        return cached_answer(media, build)
