"""Regression tests for flask-smorest 0.47's ETag gaps, closed in api/base.py's Blueprint:
a 304 without its ETag, weak tags ignored in If-None-Match, and If-Match demanded (428)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient


@pytest.mark.parametrize("form", ["{}", "W/{}", '"other", {}', "*"])
def test_304_carries_the_etag_and_weak_tags_match(
    client: FlaskClient, user: dict[str, Any], form: str
) -> None:
    first = client.get("/api/v1/users/alice")
    etag = first.headers["ETag"]
    assert first.status_code == 200
    revalidated = client.get("/api/v1/users/alice", headers={"If-None-Match": form.format(etag)})
    assert revalidated.status_code == 304
    assert revalidated.headers["ETag"] == etag
    assert revalidated.data == b""
    assert "Content-Type" not in revalidated.headers


def test_a_stale_tag_gets_the_full_answer(client: FlaskClient, user: dict[str, Any]) -> None:
    response = client.get("/api/v1/users/alice", headers={"If-None-Match": '"stale"'})
    assert response.status_code == 200
    assert response.json["username"] == "alice"
    assert response.headers["ETag"] != '"stale"'


def test_profile_edits_honour_if_match(client: FlaskClient, auth_headers: dict[str, str]) -> None:
    etag = client.get("/api/v1/me", headers=auth_headers).headers["ETag"]
    changed = client.patch(
        "/api/v1/me", json={"bio": "Bakes bread."}, headers={**auth_headers, "If-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    stale = client.patch(
        "/api/v1/me", json={"bio": "Lost update"}, headers={**auth_headers, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert stale.content_type == "application/problem+json"
    assert client.get("/api/v1/me", headers=auth_headers).json["bio"] == "Bakes bread."
    # Without If-Match the edit goes through (If-Match is honoured, not demanded: no 428).
    assert client.patch("/api/v1/me", json={"bio": "x"}, headers=auth_headers).status_code == 200
