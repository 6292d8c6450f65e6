"""Covers and avatars: upload, show and remove them; and the media files they are served as."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from http import HTTPStatus
from typing import IO, Any, NoReturn

from flask import Blueprint as FlaskBlueprint
from flask import Response, current_app, request
from flask.views import MethodView
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import parse_form_data

from potluck.api.base import Blueprint
from potluck.domain.database import db
from potluck.domain.images import OUTPUT_CONTENT_TYPE
from potluck.domain.models import StoredImage, User
from potluck.domain.recipes import readable_recipe, writable_recipe
from potluck.http.auth import current_user, current_user_or_none
from potluck.http.conditional import request_preconditions
from potluck.http.errors import abort
from potluck.schemas.images import ImageOutputSchema, image_urls, upload_body
from potluck.services.images import (
    ImageRejected,
    ProcessedImage,
    image_too_large,
    process_upload,
)
from potluck.services.media import replace_avatar, replace_cover
from potluck.services.storage import MediaStorage, media_storage

blp = Blueprint("images", __name__, description="Recipe covers and user avatars")
media = FlaskBlueprint("media", __name__)

# Room for the multipart envelope around the file (boundaries, part headers).
MULTIPART_SLACK = 64 * 1024
IMMUTABLE = "public, max-age=31536000, immutable"
_MEDIA_NAME = re.compile(r"^[0-9a-f]{64}-(?:large|thumbnail)\.webp$")
_ERRORS = (400, 403, 404, 413, 415)


def _too_large(limit: int) -> NoReturn:
    abort(413, image_too_large(limit).detail)


def _read_upload(field: str, limit: int) -> bytes | None:
    """The bytes of one multipart file field, or None; 413 as soon as the body passes the cap."""
    spools: list[IO[bytes]] = []

    def spool(*args: Any, **kwargs: Any) -> IO[bytes]:
        # Tracked, so a body cut off mid-file never leaves an open temporary file behind.
        spools.append(tempfile.SpooledTemporaryFile(max_size=512 * 1024))  # noqa: SIM115
        return spools[-1]

    try:
        _, _, files = parse_form_data(
            request.environ,
            stream_factory=spool,
            max_content_length=limit + MULTIPART_SLACK,
            max_form_parts=20,
        )
        upload = files.get(field)
        return None if upload is None else upload.stream.read(limit + 1)
    except RequestEntityTooLarge:
        _too_large(limit)
    finally:
        for stream in spools:
            stream.close()


def uploaded_image(field: str) -> ProcessedImage:
    """The multipart file `field`, size-capped while it streams in, validated and processed."""
    limit = current_app.config["MAX_IMAGE_BYTES"]
    if request.mimetype != "multipart/form-data":
        abort(415, f"Send the image as multipart/form-data, in a file field named {field!r}.")
    if (request.content_length or 0) > limit + MULTIPART_SLACK:
        _too_large(limit)  # refused before a byte of the body is read
    data = _read_upload(field, limit)
    if data is None:
        message = f"Send the image in a multipart file field named {field!r}."
        abort(400, message, errors={field: ["Missing file."]})
    try:
        return process_upload(
            data, max_bytes=limit, max_pixels=current_app.config["MAX_IMAGE_PIXELS"]
        )
    except ImageRejected as rejection:
        abort(rejection.status, rejection.detail, errors={field: [rejection.detail]})


def shown_image(image_hash: str | None, missing: str) -> dict[str, Any]:
    image = db.session.get(StoredImage, image_hash) if image_hash else None
    if image is None:
        abort(404, missing)
    return {**image_urls(image.hash), "width": image.width, "height": image.height}


def _saved(
    image: ProcessedImage, previous: str | None
) -> tuple[dict[str, Any], int, dict[str, str]]:
    body = {**image_urls(image.hash), "width": image.width, "height": image.height}
    return body, 200 if previous else 201, {"Location": request.path}


def _documented(method: Any) -> Any:
    """The errors every upload and removal can answer, in the OpenAPI document."""
    for status in _ERRORS:
        method = blp.alt_response(status, response=HTTPStatus(status).name, success=False)(method)
    return method


@blp.route("/recipes/<int:recipe_id>/cover")
class RecipeCoverImage(MethodView):
    @blp.auth_required(optional=True)
    @blp.response(200, ImageOutputSchema)
    @blp.alt_response(404, response="NOT_FOUND", success=False)
    def get(self, recipe_id: int) -> dict[str, Any]:
        """A recipe's cover, at every size"""
        recipe = readable_recipe(recipe_id, current_user_or_none())
        return shown_image(recipe.cover_hash, "This recipe has no cover; PUT one here.")

    @blp.auth_required()
    @blp.doc(requestBody=upload_body("cover"))
    @blp.response(200, ImageOutputSchema, description="Replaced")
    @blp.alt_response(201, schema=ImageOutputSchema, description="The first one", success=True)
    @_documented
    def put(self, recipe_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Upload a recipe's cover (multipart field `cover`); only its author may"""
        image = uploaded_image("cover")  # a body that is no image is refused whatever else
        recipe = writable_recipe(recipe_id, current_user, request_preconditions())
        return _saved(image, replace_cover(recipe, image))

    @blp.auth_required()
    @blp.response(204)
    @_documented
    def delete(self, recipe_id: int) -> None:
        """Remove a recipe's cover"""
        recipe = writable_recipe(recipe_id, current_user, request_preconditions())
        if recipe.cover_hash is None:
            abort(404, "This recipe has no cover to remove.")
        replace_cover(recipe, None)


@blp.route("/me/avatar")
class MyAvatar(MethodView):
    @blp.auth_required()
    @blp.response(200, ImageOutputSchema)
    @blp.alt_response(404, response="NOT_FOUND", success=False)
    def get(self) -> dict[str, Any]:
        """Your avatar, at every size"""
        user: User = current_user
        return shown_image(user.avatar_hash, "You have no avatar; PUT one here.")

    @blp.auth_required()
    @blp.doc(requestBody=upload_body("avatar"))
    @blp.response(200, ImageOutputSchema, description="Replaced")
    @blp.alt_response(201, schema=ImageOutputSchema, description="The first one", success=True)
    @_documented
    def put(self) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Upload your avatar (multipart field `avatar`)"""
        user: User = current_user
        image = uploaded_image("avatar")
        return _saved(image, replace_avatar(user, image))

    @blp.auth_required()
    @blp.response(204)
    @_documented
    def delete(self) -> None:
        """Remove your avatar"""
        user: User = current_user
        if user.avatar_hash is None:
            abort(404, "You have no avatar to remove.")
        replace_avatar(user, None)


def _chunks(storage: MediaStorage, name: str) -> Iterator[bytes]:
    # Opened on first read, so a 304, a HEAD or a 416 never opens the file at all.
    with storage.open(name) as stream:
        while chunk := stream.read(64 * 1024):
            yield chunk


@media.get("/media/<string:name>")
def media_file(name: str) -> Response:
    """A stored image: content-addressed, so cached forever; byte ranges and revalidation."""
    storage = media_storage()
    stored = storage.stat(name) if _MEDIA_NAME.match(name) else None
    if stored is None:
        abort(404, "There is no image at this URL; get the current URL from the API.")
    response = Response(_chunks(storage, name), mimetype=OUTPUT_CONTENT_TYPE)
    response.content_length = stored.size
    response.set_etag(name.removesuffix(".webp"))
    response.last_modified = stored.modified
    response.headers["Cache-Control"] = IMMUTABLE
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.make_conditional(request.environ, accept_ranges=True, complete_length=stored.size)
    return response
