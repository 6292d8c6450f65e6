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
