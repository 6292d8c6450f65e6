"""Covers and avatars: what is accepted, what is refused, what is stored, and how it is served."""

from __future__ import annotations

import io
import struct
import threading
import zipfile
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import PROBLEM, assert_problem
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image, ImageCms
from sqlalchemy import func, select, update
from werkzeug.datastructures import FileStorage
from werkzeug.test import EnvironBuilder, encode_multipart, run_wsgi_app

from potluck.domain.models import Recipe, StoredImage
from potluck.services.media import release_images
from potluck.services.storage import LocalMediaStorage

ACCEPTED = "JPEG, PNG, WebP or GIF"


def photo(size: tuple[int, int] = (640, 480), seed: int = 0) -> Image.Image:
    """A photo-like picture: a gradient with some noise."""
    noise = Image.effect_noise(size, 40 + seed)
    gradient = Image.linear_gradient("L").resize(size)
    return Image.merge("RGB", (gradient, noise, Image.new("L", size, 90 + seed)))


def encoded(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg(seed: int = 0, size: tuple[int, int] = (640, 480)) -> bytes:
    return encoded(photo(size, seed), "JPEG", quality=90)


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def media_files(app: Flask) -> list[str]:
    root = Path(app.config["MEDIA_ROOT"])
    return sorted(path.name for path in root.iterdir()) if root.exists() else []


def image_rows(db: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(StoredImage)) or 0)


@pytest.fixture
def upload(client: FlaskClient) -> Callable[..., Any]:
    def upload(
        url: str,
        data: bytes,
        headers: dict[str, str],
        field: str = "cover",
        filename: str = "photo.jpg",
        content_type: str = "image/jpeg",
    ) -> Any:
        # Encoded in memory: the test client's own encoder leaves big bodies in open temp files.
        upload = FileStorage(io.BytesIO(data), filename=filename, content_type=content_type)
        boundary, body = encode_multipart({field: upload})
        content_type = f"multipart/form-data; boundary={boundary}"
        return client.put(url, data=body, headers=headers, content_type=content_type)

    return upload


@pytest.fixture
def recipe(make_recipe: Callable[..., dict[str, Any]], auth_headers: dict[str, str]) -> Any:
    return make_recipe(auth_headers)


def cover_url(recipe: dict[str, Any]) -> str:
    return f"/api/v1/recipes/{recipe['id']}/cover"


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (120, 80), colour) for colour in ("red", "blue")]
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)


ACCEPTED_UPLOADS = {
    "jpeg": (lambda: jpeg(), "photo.jpg"),
    "png with alpha": (
        lambda: encoded(Image.new("RGBA", (300, 200), (0, 128, 0, 100)), "PNG"),
        "picture.png",
    ),
    "webp": (lambda: encoded(photo((500, 500)), "WEBP"), "picture.webp"),
    "animated gif": (_animated_gif, "anim.gif"),
    "named wrongly": (lambda: encoded(photo(), "PNG"), "notes.txt"),
    "cmyk jpeg": (lambda: encoded(photo().convert("CMYK"), "JPEG"), "print.jpg"),
}


@pytest.mark.parametrize("kind", ACCEPTED_UPLOADS)
def test_each_format_is_accepted_and_served_as_webp(
    kind: str,
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    recipe: dict[str, Any],
    upload: Callable[..., Any],
) -> None:
    make, filename = ACCEPTED_UPLOADS[kind]
    response = upload(cover_url(recipe), make(), auth_headers, filename=filename)
    assert response.status_code == 201, response.json
    assert response.headers["Location"] == cover_url(recipe)
    body = response.json
    assert set(body) == {"large", "thumbnail", "width", "height"}
    assert body["large"].startswith("/media/")
    assert body["large"].endswith("-large.webp")
    assert body["thumbnail"].endswith("-thumbnail.webp")
    assert len(media_files(app)) == 2

    large = client.get(body["large"])
    assert large.status_code == 200
    assert large.content_type == "image/webp"
    picture = decoded(large.data)
    assert picture.format == "WEBP"
    assert picture.size == (body["width"], body["height"])
    assert picture.mode == ("RGBA" if kind == "png with alpha" else "RGB")
    if kind == "animated gif":
        red, _green, blue = picture.convert("RGB").getpixel((60, 40))  # type: ignore[misc]
        assert red > 200
        assert blue < 60

    shown = client.get(f"/api/v1/recipes/{recipe['id']}").json
    assert shown["cover_url"] == body["large"]
    assert shown["cover"] == {"large": body["large"], "thumbnail": body["thumbnail"]}
    assert client.get(cover_url(recipe)).json == body


def test_sizes_are_capped_and_small_images_not_enlarged(
    client: FlaskClient,
    auth_headers: dict[str, str],
    recipe: dict[str, Any],
    make_recipe: Callable[..., dict[str, Any]],
    upload: Callable[..., Any],
) -> None:
    big = upload(cover_url(recipe), jpeg(size=(3200, 2000)), auth_headers).json
    assert (big["width"], big["height"]) == (1600, 1000)
    assert decoded(client.get(big["thumbnail"]).data).size == (400, 250)

    other = make_recipe(auth_headers)
    small = upload(cover_url(other), jpeg(size=(300, 200)), auth_headers).json
    assert (small["width"], small["height"]) == (300, 200)
    assert decoded(client.get(small["thumbnail"]).data).size == (300, 200)


def test_orientation_is_applied_and_metadata_stripped(
    client: FlaskClient,
    auth_headers: dict[str, str],
    recipe: dict[str, Any],
    upload: Callable[..., Any],
) -> None:
    sideways = Image.new("RGB", (400, 200), "blue")
    sideways.paste(Image.new("RGB", (200, 200), "red"), (0, 0))  # red on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    exif[0x010F] = "SecretCam"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)})
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encoded(
        sideways, "JPEG", exif=exif, icc_profile=srgb, xmp=b"<x:xmpmeta>home-address</x:xmpmeta>"
    )
    original = decoded(data)
    assert original.getexif().get_ifd(0x8825)  # the upload really carries GPS tags
    assert b"home-address" in data

    body = upload(cover_url(recipe), data, auth_headers).json
    assert (body["width"], body["height"]) == (200, 400)  # upright: portrait
    served = client.get(body["large"]).data
    picture = decoded(served)
    top = picture.getpixel((100, 20))
    bottom = picture.getpixel((100, 380))
    assert isinstance(top, tuple)
    assert isinstance(bottom, tuple)
    assert top[0] > 200
    assert top[2] < 60
    assert bottom[2] > 200
    assert bottom[0] < 60
    assert not picture.getexif()
    assert not {"exif", "xmp", "icc_profile"} & set(picture.info)
    for secret in (b"Exif", b"SecretCam", b"home-address", b"xmpmeta", b"ICC_PROFILE"):
        assert secret not in served


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares huge dimensions around a few bytes of data."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload)
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


BOMBS = {
    "over our limit": lambda: encoded(Image.new("1", (6000, 5000)), "PNG"),
    "past Pillow's warning": lambda: _png_header_only(10_000, 10_000),
    "past Pillow's error": lambda: _png_header_only(30_000, 30_000),
}


@pytest.mark.parametrize("kind", BOMBS)
def test_decompression_bombs_are_a_400(
    kind: str,
    app: Flask,
    db: Any,
    auth_headers: dict[str, str],
    recipe: dict[str, Any],
    upload: Callable[..., Any],
) -> None:
    data = BOMBS[kind]()
    assert len(data) < 200_000  # small on the wire, huge once decoded
    response = upload(cover_url(recipe), data, auth_headers, filename="bomb.png")
    assert response.status_code == 400
    assert response.content_type == PROBLEM
    assert "pixels" in response.json["detail"]
    assert "Resize it" in response.json["detail"]
    assert media_files(app) == []
    assert image_rows(db) == 0


def _truncated_jpeg() -> bytes:
    data = jpeg()
    return data[: len(data) // 2]


def _polyglot() -> bytes:
    # A valid GIF that is also an HTML page once a browser sniffs it.
    return encoded(Image.new("RGB", (10, 10), "red"), "GIF") + b"<html><script>alert(1)</script>"


def _gifar() -> bytes:
    # A GIF with a JAR (a ZIP) appended: the classic GIFAR.
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as jar:
        jar.writestr("Evil.class", b"\xca\xfe\xba\xbe")
    return encoded(Image.new("RGB", (10, 10), "red"), "GIF") + archive.getvalue()


REFUSED = {
    "svg with a script": (
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "cover.svg",
        "image/svg+xml",
    ),
    "html named .jpg": (b"<!doctype html><h1>hi</h1>", "photo.jpg", "image/jpeg"),
    "pdf": (b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "menu.png", "image/png"),
    "html polyglot": (_polyglot(), "photo.gif", "image/gif"),
    "gifar": (_gifar(), "photo.gif", "image/gif"),
    "truncated jpeg": (_truncated_jpeg(), "photo.jpg", "image/jpeg"),
    "zero bytes": (b"", "photo.jpg", "image/jpeg"),
    "bmp": (encoded(Image.new("RGB", (10, 10)), "BMP"), "photo.bmp", "image/bmp"),
}


@pytest.mark.parametrize("kind", REFUSED)
def test_anything_else_is_a_415_and_leaves_nothing(
    kind: str,
    app: Flask,
    db: Any,
    client: FlaskClient,
    auth_headers: dict[str, str],
    recipe: dict[str, Any],
    upload: Callable[..., Any],
) -> None:
    data, filename, content_type = REFUSED[kind]
    response = upload(
        cover_url(recipe), data, auth_headers, filename=filename, content_type=content_type
    )
    assert response.status_code == 415, response.json
    assert response.content_type == PROBLEM
    assert ACCEPTED in response.json["detail"]
    assert response.json["errors"]["cover"] == [response.json["detail"]]
    assert media_files(app) == []
    assert image_rows(db) == 0
    assert client.get(f"/api/v1/recipes/{recipe['id']}").json["cover"] is None


def test_a_30_mb_upload_is_refused_before_it_is_read(
    app: Flask, auth_headers: dict[str, str], recipe: dict[str, Any], upload: Callable[..., Any]
) -> None:
    huge = jpeg() + b"\x00" * (30 * 1024 * 1024)
    response = upload(cover_url(recipe), huge, auth_headers)
    assert response.status_code == 413
    assert response.content_type == PROBLEM
    assert response.json["detail"] == "Images can be at most 10 MiB; resize it and try again."
    assert media_files(app) == []


class EndlessUpload(io.RawIOBase):
    """A multipart body that never ends, counting what the server reads of it."""

    def __init__(self) -> None:
        self.head = (
            b"--B\r\nContent-Disposition: form-data; name=cover; filename=a.jpg\r\n"
            b"Content-Type: image/jpeg\r\n\r\n"
        )
        self.sent = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self.head if self.sent == 0 else b"\xff" * len(buffer)
        count = min(len(buffer), len(chunk))
        buffer[:count] = chunk[:count]
        self.sent += count
        return count


def test_a_streamed_upload_without_length_is_cut_off_at_the_cap(
    app: Flask, auth_headers: dict[str, str], recipe: dict[str, Any]
) -> None:
    stream = EndlessUpload()
    builder = EnvironBuilder(
        path=cover_url(recipe),
        method="PUT",
        headers=auth_headers,
        content_type="multipart/form-data; boundary=B",
    )
    environ = builder.get_environ()
    builder.close()
    # A chunked body: no Content-Length, the server reads until the stream ends (it never does).
    del environ["CONTENT_LENGTH"]
    environ.update({"wsgi.input": stream, "wsgi.input_terminated": True})
    body, status, headers = run_wsgi_app(app, environ, buffered=True)
    assert status.startswith("413")
    assert headers["Content-Type"] == PROBLEM
    assert b"at most 10 MiB" in b"".join(body)
    assert stream.sent < app.config["MAX_IMAGE_BYTES"] + 2 * 1024 * 1024
    assert media_files(app) == []


def test_the_file_itself_is_capped_inside_a_small_body(
    app: Flask, auth_headers: dict[str, str], recipe: dict[str, Any], upload: Callable[..., Any]
) -> None:
    data = jpeg(size=(200, 150))
    app.config["MAX_IMAGE_BYTES"] = len(data) - 1  # the body is within the cap's slack
    response = upload(cover_url(recipe), data, auth_headers)
    assert response.status_code == 413
    assert media_files(app) == []


@pytest.mark.parametrize(
    ("form", "content_type", "status", "detail"),
    [
        ({"image": (io.BytesIO(b"x"), "a.jpg")}, "multipart/form-data", 400, "named 'cover'"),
        ({}, "multipart/form-data", 400, "named 'cover'"),
        (None, "application/json", 415, "multipart/form-data"),
    ],
)
def test_the_upload_must_be_a_multipart_cover_field(
    form: dict[str, Any] | None,
    content_type: str,
    status: int,
    detail: str,
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    recipe: dict[str, Any],
) -> None:
    kwargs: dict[str, Any] = {"data": form} if form is not None else {"json": {"cover": "x"}}
    response = client.put(
        cover_url(recipe), content_type=content_type, headers=auth_headers, **kwargs
    )
    assert response.status_code == status
    assert response.content_type == PROBLEM
    assert detail in response.json["detail"]
    assert media_files(app) == []


def test_only_the_author_changes_a_cover(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    other_headers: dict[str, str],
    recipe: dict[str, Any],
    upload: Callable[..., Any],
) -> None:
    assert upload(cover_url(recipe), jpeg(), {}).status_code == 401
    forbidden = upload(cover_url(recipe), jpeg(), other_headers)
    assert forbidden.status_code == 403
    assert forbidden.content_type == PROBLEM
    assert media_files(app) == []
    assert upload(cover_url(recipe), jpeg(), auth_headers).status_code == 201
    assert client.delete(cover_url(recipe), headers=other_headers).status_code == 403
    assert len(media_files(app)) == 2
    missing = upload("/api/v1/recipes/999/cover", jpeg(), auth_headers)
    assert missing.status_code == 404


def test_a_drafts_cover_is_private(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: Callable[..., dict[str, Any]],
    upload: Callable[..., Any],
) -> None:
    draft = make_recipe(auth_headers, publish=False)
    assert upload(cover_url(draft), jpeg(), auth_headers).status_code == 201
    assert client.get(cover_url(draft), headers=auth_headers).status_code == 200
    assert client.get(cover_url(draft)).status_code == 404


def test_replacing_and_deleting_leave_no_orphans(
    app: Flask,
    db: Any,
    client: FlaskClient,
    auth_headers: dict[str, str],
    recipe: dict[str, Any],
    upload: Callable[..., Any],
) -> None:
    first = upload(cover_url(recipe), jpeg(seed=1), auth_headers).json
    second = upload(cover_url(recipe), jpeg(seed=2), auth_headers)
    assert second.status_code == 200  # replaced, not created
    urls = {second.json["large"], second.json["thumbnail"]}
    assert media_files(app) == sorted(url.removeprefix("/media/") for url in urls)
    assert client.get(first["large"]).status_code == 404
    assert image_rows(db) == 1

    deleted = client.delete(cover_url(recipe), headers=auth_headers)
    assert deleted.status_code == 204
    assert media_files(app) == []
    assert image_rows(db) == 0
    assert client.get(cover_url(recipe)).status_code == 404
    again = client.delete(cover_url(recipe), headers=auth_headers)
    assert again.status_code == 404
    assert "no cover" in again.json["detail"]


def test_a_shared_image_stays_until_its_last_recipe_lets_go(
    app: Flask,
    db: Any,
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: Callable[..., dict[str, Any]],
    upload: Callable[..., Any],
) -> None:
    one, two = make_recipe(auth_headers), make_recipe(auth_headers)
    data = jpeg(seed=3)
    first = upload(cover_url(one), data, auth_headers).json
    assert upload(cover_url(two), data, auth_headers).json == first  # one copy, by content
    assert len(media_files(app)) == 2
    assert image_rows(db) == 1

    assert client.delete(cover_url(one), headers=auth_headers).status_code == 204
    assert len(media_files(app)) == 2  # the other recipe still shows it
    assert client.get(first["large"]).status_code == 200

    assert client.delete(f"/api/v1/recipes/{two['id']}", headers=auth_headers).status_code == 204
    assert media_files(app) == []
    assert image_rows(db) == 0


def test_a_failed_commit_leaves_no_file(
    app: Flask,
    db: Any,
    client: FlaskClient,
    auth_headers: dict[str, str],
    recipe: dict[str, Any],
    upload: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def failing_commit() -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr("potluck.services.media.commit", failing_commit)
    with pytest.raises(RuntimeError, match="went away"):
        upload(cover_url(recipe), jpeg(), auth_headers)
    assert media_files(app) == []
    assert image_rows(db) == 0
    monkeypatch.undo()
    assert client.get(cover_url(recipe)).status_code == 404


def test_a_cover_racing_another_change_is_a_409_and_leaves_nothing(
    app: Flask,
    db: Any,
    auth_headers: dict[str, str],
    recipe: dict[str, Any],
    upload: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two uploads to one recipe at once (found under load as a 500): the one whose versioned
    UPDATE of the recipe matches no row any more is told to retry, and leaves no file."""
    from potluck.services import media

    attach = media.set_cover

    def changed_meanwhile(recipe_row: Any, image_hash: str | None) -> None:
        # Another request's commit, as the database sees it: the version this one read is gone.
        db.session.execute(
            update(Recipe).where(Recipe.id == recipe_row.id).values(version=Recipe.version + 1),
            execution_options={"synchronize_session": False},  # this request has not seen it
        )
        attach(recipe_row, image_hash)

    monkeypatch.setattr(media, "set_cover", changed_meanwhile)
    answer = upload(cover_url(recipe), jpeg(), auth_headers)
    assert_problem(answer, 409)
    assert media_files(app) == []
    assert image_rows(db) == 0


def test_avatar_life_cycle_and_book_alias(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    recipe: dict[str, Any],
    upload: Callable[..., Any],
) -> None:
    assert client.get("/api/v1/me/avatar", headers=auth_headers).status_code == 404
    created = upload("/api/v1/me/avatar", jpeg(seed=4), auth_headers, field="avatar")
    assert created.status_code == 201
    avatar = {"large": created.json["large"], "thumbnail": created.json["thumbnail"]}
    profile = client.get("/api/v1/users/alice").json
    assert profile["avatar"] == avatar
    assert profile["avatar_url"] == avatar["large"]
    author = client.get(f"/api/v1/recipes/{recipe['id']}").json["author"]
    assert author["avatar"] == avatar

    replaced = upload("/users/avatar", jpeg(seed=5), auth_headers, field="avatar")
    assert replaced.status_code == 200
    assert client.get(avatar["large"]).status_code == 404
    assert len(media_files(app)) == 2
    assert client.delete("/users/avatar", headers=auth_headers).status_code == 204
    assert media_files(app) == []
    assert client.get("/api/v1/users/alice").json["avatar"] is None
    assert upload("/api/v1/me/avatar", jpeg(), auth_headers).status_code == 400  # field avatar


def test_the_root_alias_takes_covers_too(
    auth_headers: dict[str, str], recipe: dict[str, Any], upload: Callable[..., Any]
) -> None:
    response = upload(f"/recipes/{recipe['id']}/cover", jpeg(), auth_headers)
    assert response.status_code == 201
    assert response.json["large"].startswith("/media/")


@pytest.fixture
def served(
    client: FlaskClient,
    auth_headers: dict[str, str],
    recipe: dict[str, Any],
    upload: Callable[..., Any],
) -> tuple[str, bytes, Any]:
    url = upload(cover_url(recipe), jpeg(), auth_headers).json["large"]
    response = client.get(url)
    return url, response.data, response


def test_media_is_served_immutable_with_validators(
    client: FlaskClient, served: tuple[str, bytes, Any]
) -> None:
    url, data, response = served
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Content-Type"] == "image/webp"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Content-Length"] == str(len(data))
    etag = response.headers["ETag"]
    assert etag.startswith('"')
    assert not etag.startswith("W/")
    assert etag.strip('"') in url
    last_modified = response.headers["Last-Modified"]

    for headers in ({"If-None-Match": etag}, {"If-None-Match": f"W/{etag}"}):
        revalidated = client.get(url, headers=headers)
        assert revalidated.status_code == 304
        assert revalidated.headers["ETag"] == etag
        assert revalidated.data == b""
    since = client.get(url, headers={"If-Modified-Since": last_modified})
    assert since.status_code == 304
    changed = client.get(url, headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200
    assert changed.data == data

    head = client.head(url)
    assert head.status_code == 200
    assert head.data == b""
    assert head.headers["Content-Length"] == str(len(data))


def test_byte_ranges(client: FlaskClient, served: tuple[str, bytes, Any]) -> None:
    url, data, _ = served
    size = len(data)
    first = client.get(url, headers={"Range": "bytes=0-9"})
    assert first.status_code == 206
    assert first.data == data[:10]
    assert first.headers["Content-Range"] == f"bytes 0-9/{size}"
    assert first.headers["Cache-Control"] == "public, max-age=31536000, immutable"

    suffix = client.get(url, headers={"Range": "bytes=-5"})
    assert suffix.status_code == 206
    assert suffix.data == data[-5:]
    assert suffix.headers["Content-Range"] == f"bytes {size - 5}-{size - 1}/{size}"

    beyond = client.get(url, headers={"Range": f"bytes={size}-"})
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{size}"
    assert beyond.content_type == PROBLEM


@pytest.mark.parametrize(
    "name",
    ["0" * 64 + "-large.webp", "../instance/potluck.db", "A" * 64 + "-large.webp", "x-huge.webp"],
)
def test_unknown_media_is_a_404(client: FlaskClient, name: str) -> None:
    response = client.get(f"/media/{name}")
    assert response.status_code == 404
    assert response.content_type == PROBLEM


def test_storage_writes_atomically_and_refuses_path_tricks(tmp_path: Path) -> None:
    storage = LocalMediaStorage(tmp_path / "media")
    assert storage.save("abc-large.webp", b"one") is True
    assert storage.save("abc-large.webp", b"two") is False  # content-addressed: first one stays
    with storage.open("abc-large.webp") as stream:
        assert stream.read() == b"one"
    assert list(storage.names()) == ["abc-large.webp"]
    assert sorted(p.name for p in (tmp_path / "media").iterdir()) == ["abc-large.webp"]
    for name in ("../escape.webp", ".hidden.webp", "a/b.webp", ""):
        with pytest.raises(ValueError, match="not a media file name"):
            storage.save(name, b"x")
    storage.delete("abc-large.webp")
    storage.delete("abc-large.webp")  # already gone is fine
    assert storage.stat("abc-large.webp") is None


def test_openapi_documents_the_uploads(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").json
    for path, field in (
        ("/api/v1/recipes/{recipe_id}/cover", "cover"),
        ("/api/v1/me/avatar", "avatar"),
    ):
        put = spec["paths"][path]["put"]
        schema = put["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert schema["properties"][field]["format"] == "binary"
        assert {"200", "201", "400", "403", "413", "415"} <= set(put["responses"])
    recipe = spec["components"]["schemas"]["RecipeOutput"]["properties"]
    assert {"cover", "cover_url"} <= set(recipe)


def test_an_image_in_use_is_never_released(
    app: Flask,
    db: Any,
    auth_headers: dict[str, str],
    recipe: dict[str, Any],
    upload: Callable[..., Any],
) -> None:
    body = upload(cover_url(recipe), jpeg(), auth_headers).json
    image_hash = body["large"].removeprefix("/media/").split("-")[0]
    assert release_images([image_hash, None]) == []
    assert image_rows(db) == 1
    assert len(media_files(app)) == 2


@pytest.mark.parametrize("name", ["avatar", "Activate", "password-reset", "activation-email"])
def test_names_of_user_actions_cannot_be_usernames(client: FlaskClient, name: str) -> None:
    # /users/avatar (the course's alias) and /users/activate... would shadow a user's profile.
    body = {"username": name, "email": "x@example.com", "password": "long enough password"}
    response = client.post("/api/v1/users", json=body)
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert "username" in response.json["errors"]


def test_the_avatar_alias_is_not_shadowed_by_a_profile(client: FlaskClient) -> None:
    response = client.get("/users/avatar")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"PUT", "DELETE", "OPTIONS"}


def _profile_with_red_and_blue_swapped() -> bytes:
    """An RGB ICC profile whose red and blue primaries are swapped: an sRGB conversion
    turns its red pixels blue, which plain pass-through would not."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    (count,) = struct.unpack(">I", profile[128:132])
    table = {bytes(profile[132 + 12 * i : 136 + 12 * i]): 132 + 12 * i for i in range(count)}
    red, blue = table[b"rXYZ"] + 4, table[b"bXYZ"] + 4
    profile[red : red + 8], profile[blue : blue + 8] = (
        profile[blue : blue + 8],
        profile[red : red + 8],
    )
    return bytes(profile)


def test_colours_are_converted_to_srgb_by_the_embedded_profile(
    client: FlaskClient,
    auth_headers: dict[str, str],
    recipe: dict[str, Any],
    upload: Callable[..., Any],
) -> None:
    tagged = encoded(
        Image.new("RGB", (64, 64), (220, 30, 30)),
        "PNG",
        icc_profile=_profile_with_red_and_blue_swapped(),
    )
    body = upload(cover_url(recipe), tagged, auth_headers, filename="tagged.png").json
    picture = decoded(client.get(body["large"]).data)
    red, _green, blue = picture.getpixel((32, 32))  # type: ignore[misc]
    assert blue > 180
    assert red < 60
    assert "icc_profile" not in picture.info


def test_simultaneous_uploads_of_one_image_share_one_copy(
    app: Flask,
    db: Any,
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: Callable[..., dict[str, Any]],
) -> None:
    recipes = [make_recipe(auth_headers) for _ in range(4)]
    data = jpeg(seed=9)
    boundary, body = encode_multipart({"cover": FileStorage(io.BytesIO(data), filename="a.jpg")})
    start = threading.Barrier(len(recipes))

    def put_cover(recipe: dict[str, Any]) -> tuple[int, Any]:
        own_client = app.test_client()
        start.wait()
        response = own_client.put(
            cover_url(recipe),
            data=body,
            content_type=f"multipart/form-data; boundary={boundary}",
            headers=auth_headers,
        )
        return response.status_code, response.json

    with ThreadPoolExecutor(len(recipes)) as pool:
        results = list(pool.map(put_cover, recipes))
    assert [status for status, _ in results] == [201] * len(recipes)
    assert len({body["large"] for _, body in results}) == 1
    assert len(media_files(app)) == 2
    assert image_rows(db) == 1
    assert client.get(results[0][1]["large"]).status_code == 200


def test_a_list_shows_each_recipe_as_get_one_does(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: Callable[..., dict[str, Any]],
    upload: Callable[..., Any],
) -> None:
    """A list page builds the documents it lacks from plain rows (services.recipe_documents);
    each must be what the model gives GET one: tags, cover, source, author and avatar."""
    from potluck.domain.database import db as _db
    from potluck.domain.models import Recipe as RecipeModel
    from potluck.services.recipe_documents import recipe_document

    assert (
        upload("/api/v1/me/avatar", jpeg(seed=5), auth_headers, field="avatar").status_code == 201
    )
    plain = make_recipe(auth_headers, name="Plain toast", tags=[])
    dressed = make_recipe(
        auth_headers,
        name="Dressed toast",
        tags=["zesty", "breakfast"],
        source_url="https://example.com/toast",
        prep_time=None,
    )
    assert upload(cover_url(dressed), jpeg(seed=6), auth_headers).status_code == 201
    listed = client.get("/api/v1/recipes?sort=name&per_page=50").json["data"]
    by_id = {recipe["id"]: recipe for recipe in listed}
    with app.app_context():
        for made in (plain, dressed):
            model = _db.session.get(RecipeModel, made["id"])
            assert by_id[made["id"]] == orjson.loads(recipe_document(model))
    assert by_id[dressed["id"]]["tags"] == ["breakfast", "zesty"]
    assert by_id[dressed["id"]]["cover"] is not None
    assert by_id[dressed["id"]]["author"]["avatar"] is not None
