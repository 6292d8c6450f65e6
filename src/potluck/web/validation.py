"""Forms checked by the API's own schemas and services: what the schema (or the image check)
says of a field is shown beside that field, and a form with errors is answered 422."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow as ma
from flask import current_app
from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage

from potluck.http.errors import flatten_errors
from potluck.services.images import ImageRejected, ProcessedImage, process_upload

INVALID = 422


def loaded(form: FlaskForm, schema: ma.Schema, data: Mapping[str, Any]) -> dict[str, Any] | None:
    """`data` as `schema` loads it, or None with each message put beside its field."""
    if form.errors:
        return None  # the fields' own checks (a number that is no number) failed already
    try:
        result: dict[str, Any] = schema.load(data)
    except ma.ValidationError as invalid:
        refuse(form, flatten_errors(invalid.messages_dict))
        return None
    return result


def refuse(form: FlaskForm, errors: Mapping[str, list[str]] | None, detail: str = "") -> None:
    """Put messages beside the fields they name; the rest (and `detail`) above the form."""
    for name, messages in (errors or {}).items():
        field = form._fields.get(str(name).split(".")[0]) if name else None
        if field is None or name == "csrf_token":
            form.form_errors.extend(messages)
        else:
            field.errors = [*field.errors, *messages]
    if detail and not errors:
        form.form_errors.append(detail)


def form_status(form: FlaskForm) -> int:
    return INVALID if form.errors else 200


def uploaded_image(form: FlaskForm, field: str) -> ProcessedImage | None:
    """The image in a file field, checked and processed; None when no file was chosen (or
    when it was refused, with the reason beside the field)."""
    upload = form[field].data
    if not isinstance(upload, FileStorage) or not upload.filename:
        return None
    limit = current_app.config["MAX_IMAGE_BYTES"]
    try:
        return process_upload(
            upload.stream.read(limit + 1),
            max_bytes=limit,
            max_pixels=current_app.config["MAX_IMAGE_PIXELS"],
        )
    except ImageRejected as rejected:
        refuse(form, {field: [rejected.detail]})
        return None
