"""`potluck media check`: drift between image rows and files is reported, and repaired."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from potluck.cli import main
from potluck.domain.models import RecipeCover, StoredImage

OLD = time.time() - 2 * 3600


def check(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(cli=main, args=["media", "check", *args])


def media_root(app: Flask) -> Path:
    return Path(app.config["MEDIA_ROOT"])


def count(db: Any, model: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def covered_recipe(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: Callable[..., dict[str, Any]],
) -> dict[str, Any]:
    recipe = make_recipe(auth_headers)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "orange").save(buffer, "PNG")
    boundary, body = encode_multipart(
        {"cover": FileStorage(io.BytesIO(buffer.getvalue()), "a.png")}
    )
    response = client.put(
        f"/api/v1/recipes/{recipe['id']}/cover",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=auth_headers,
    )
    assert response.status_code == 201
    return {**recipe, "cover": response.json}


def test_a_consistent_store_is_reported_clean(app: Flask, covered_recipe: dict[str, Any]) -> None:
    result = check(app)
    assert result.exit_code == 0, result.output
    assert "Media storage and database agree." in result.output


def test_a_missing_file_is_reported_then_the_cover_detached(
    app: Flask, db: Any, client: FlaskClient, covered_recipe: dict[str, Any]
) -> None:
    large = media_root(app) / covered_recipe["cover"]["large"].removeprefix("/media/")
    large.unlink()

    report = check(app)
    assert report.exit_code == 1
    assert "1 rows whose files are missing" in report.output
    assert "--repair" in report.output
    assert count(db, StoredImage) == 1  # only reported

    repaired = check(app, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert "Repaired." in repaired.output
    assert count(db, StoredImage) == 0
    assert count(db, RecipeCover) == 0
    assert list(media_root(app).iterdir()) == []  # the thumbnail went too
    recipe = client.get(f"/api/v1/recipes/{covered_recipe['id']}").json
    assert recipe["cover"] is None
    assert check(app).exit_code == 0


def test_old_orphan_files_and_stale_uploads_are_removed_young_ones_kept(
    app: Flask, covered_recipe: dict[str, Any]
) -> None:
    root = media_root(app)
    orphan = root / ("f" * 64 + "-large.webp")
    orphan.write_bytes(b"left behind")
    os.utime(orphan, (OLD, OLD))
    young = root / ("e" * 64 + "-large.webp")  # may be an upload still in its transaction
    young.write_bytes(b"in flight")
    stale = root / ".upload-crashed"
    stale.write_bytes(b"half")
    os.utime(stale, (OLD, OLD))

    report = check(app)
    assert report.exit_code == 1
    assert f"1 files with no row: {orphan.name}" in report.output
    assert "1 leftovers of interrupted uploads: .upload-crashed" in report.output
    assert orphan.exists()
    assert stale.exists()

    assert check(app, "--repair").exit_code == 0
    assert not orphan.exists()
    assert not stale.exists()
    assert young.exists()
    assert len(list(root.glob("*-large.webp"))) == 2  # the cover's file and the young one


def test_an_unreferenced_image_is_released(
    app: Flask, db: Any, client: FlaskClient, covered_recipe: dict[str, Any]
) -> None:
    db.session.execute(RecipeCover.__table__.delete())
    db.session.commit()

    report = check(app)
    assert report.exit_code == 1
    assert "1 images no cover or avatar uses" in report.output

    assert check(app, "--repair").exit_code == 0
    assert count(db, StoredImage) == 0
    assert list(media_root(app).iterdir()) == []
    assert client.get(covered_recipe["cover"]["large"]).status_code == 404
