"""`Idempotency-Key` on POST: a retry gets the first answer and never writes twice."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from conftest import PASSWORD, PROBLEM, RECIPE, assert_problem
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from werkzeug.test import TestResponse

from potluck.domain.database import db as _db
from potluck.domain.models import IdempotencyKey, Recipe, utcnow

LIST = "/api/v1/recipes"


def recipe_count(app: Flask) -> int:
    with app.app_context():
        count = _db.session.scalar(select(func.count(Recipe.id))) or 0
        _db.session.remove()
    return count


def post_recipe(
    client: FlaskClient, headers: dict[str, str], key: str, body: dict[str, Any] | None = None
) -> TestResponse:
    return client.post(
        LIST, json=RECIPE if body is None else body, headers={**headers, "Idempotency-Key": key}
    )


def test_a_retry_gets_the_first_answer(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    key = str(uuid.uuid4())
    first = post_recipe(client, auth_headers, key)
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    retry = post_recipe(client, auth_headers, key)
    assert retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.headers["Location"] == first.headers["Location"]
    assert retry.headers["ETag"] == first.headers["ETag"]
    assert retry.content_type == first.content_type == "application/json"
    assert retry.json == first.json
    assert retry.headers["Cache-Control"] == "no-store"
    assert recipe_count(app) == 1
    # Another key is another request.
    other = post_recipe(client, auth_headers, str(uuid.uuid4()))
    assert other.status_code == 201
    assert other.headers["Location"] != first.headers["Location"]
    assert recipe_count(app) == 2


def test_the_same_key_with_another_body_is_422(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    key = "order-42"
    assert post_recipe(client, auth_headers, key).status_code == 201
    changed = post_recipe(client, auth_headers, key, {**RECIPE, "name": "Another soup"})
    body = assert_problem(changed, 422)
    assert "Idempotency-Key" in body["detail"]
    assert "Idempotent-Replayed" not in changed.headers
    assert recipe_count(app) == 1
    # The same key on another endpoint is another request too.
    elsewhere = client.post(
        "/api/v1/users",
        json={"username": "carol", "email": "carol@example.com", "password": PASSWORD},
        headers={**auth_headers, "Idempotency-Key": key},
    )
    assert_problem(elsewhere, 422)
    assert client.get("/api/v1/users/carol").status_code == 404


@pytest.mark.parametrize(
    "key", ["", "x" * 256, "clé-1", "two words", "tab\there", "ключ"], ids=repr
)
def test_invalid_keys_are_400(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str], key: str
) -> None:
    response = client.post(
        LIST,
        json=RECIPE,
        headers={**auth_headers, "Idempotency-Key": key.encode().decode("latin-1")},
    )
    body = assert_problem(response, 400)
    assert "Idempotency-Key" in body["detail"]
    assert recipe_count(app) == 0


def test_the_longest_valid_key_is_accepted(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    key = "k" * 255
    assert post_recipe(client, auth_headers, key).status_code == 201
    assert post_recipe(client, auth_headers, key).headers["Idempotent-Replayed"] == "true"
    assert recipe_count(app) == 1


def test_a_failed_request_leaves_the_key_free(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    key = "retry-me"
    invalid = post_recipe(client, auth_headers, key, {**RECIPE, "num_of_servings": 0})
    assert_problem(invalid, 400)
    again = post_recipe(client, auth_headers, key, {**RECIPE, "num_of_servings": 0})
    assert_problem(again, 400)
    assert "Idempotent-Replayed" not in again.headers
    corrected = post_recipe(client, auth_headers, key)
    assert corrected.status_code == 201
    assert "Idempotent-Replayed" not in corrected.headers
    replayed = post_recipe(client, auth_headers, key)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.headers["Location"] == corrected.headers["Location"]
    assert recipe_count(app) == 1


def test_keys_belong_to_their_credentials(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    other_headers: dict[str, str],
) -> None:
    key = "shared-key"
    alices = post_recipe(client, auth_headers, key)
    bobs = post_recipe(client, other_headers, key)
    assert alices.status_code == bobs.status_code == 201
    assert "Idempotent-Replayed" not in bobs.headers
    assert bobs.headers["Location"] != alices.headers["Location"]
    assert bobs.json["author"]["username"] == "bob"
    assert alices.json["author"]["username"] == "alice"
    assert recipe_count(app) == 2
    assert post_recipe(client, auth_headers, key).json == alices.json
    assert post_recipe(client, other_headers, key).json == bobs.json
    assert recipe_count(app) == 2


def test_concurrent_retries_create_one_recipe(app: Flask, auth_headers: dict[str, str]) -> None:
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    responses: list[TestResponse] = []
    failures: list[BaseException] = []
    key = str(uuid.uuid4())

    def retry() -> None:
        client = app.test_client()
        try:
            barrier.wait(timeout=30)
            responses.append(post_recipe(client, auth_headers, key))
        except BaseException as error:  # re-raised in the test's thread below
            failures.append(error)

    threads = [threading.Thread(target=retry) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    if failures:
        raise failures[0]
    assert recipe_count(app) == 1
    assert len(responses) == threads_count
    statuses = [response.status_code for response in responses]
    assert set(statuses) <= {201, 409}, [response.json for response in responses]
    created = [response for response in responses if response.status_code == 201]
    assert len(created) >= threads_count - 2, statuses
    originals = [r for r in created if "Idempotent-Replayed" not in r.headers]
    assert len(originals) == 1
    assert {r.headers["Location"] for r in created} == {originals[0].headers["Location"]}
    assert all(r.json == originals[0].json for r in created)
    for busy in (response for response in responses if response.status_code == 409):
        assert busy.content_type == PROBLEM
        assert int(busy.headers["Retry-After"]) >= 1


def test_logins_are_never_replayed(app: Flask, client: FlaskClient, user: dict[str, Any]) -> None:
    credentials = {"username": user["username"], "password": PASSWORD}
    headers = {"Idempotency-Key": "login-1"}
    first = client.post("/api/v1/tokens", json=credentials, headers=headers)
    second = client.post("/api/v1/tokens", json=credentials, headers=headers)
    assert first.status_code == second.status_code == 200
    assert "Idempotent-Replayed" not in second.headers
    assert first.json["access_token"] != second.json["access_token"]
    assert first.json["refresh_token"] != second.json["refresh_token"]
    refreshed = [
        client.post(
            "/api/v1/tokens/refresh",
            headers={
                "Authorization": f"Bearer {first.json['refresh_token']}",
                "Idempotency-Key": "refresh-1",
            },
        ),
        client.post(
            "/api/v1/tokens/refresh",
            headers={
                "Authorization": f"Bearer {second.json['refresh_token']}",
                "Idempotency-Key": "refresh-1",
            },
        ),
    ]
    assert [r.status_code for r in refreshed] == [200, 200]
    assert refreshed[0].json["access_token"] != refreshed[1].json["access_token"]
    with app.app_context():
        stored = _db.session.scalar(select(func.count()).select_from(IdempotencyKey))
        _db.session.remove()
    assert stored == 0  # no token ever lands in the table


def test_keys_expire_after_a_day(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    key = "yesterday"
    first = post_recipe(client, auth_headers, key)
    assert first.status_code == 201
    with app.app_context():
        _db.session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == key)
            .values(created_at=utcnow() - timedelta(hours=23))
        )
        _db.session.commit()
        _db.session.remove()
    assert post_recipe(client, auth_headers, key).headers["Idempotent-Replayed"] == "true"
    assert recipe_count(app) == 1
    with app.app_context():
        _db.session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == key)
            .values(created_at=utcnow() - timedelta(days=1, minutes=1))
        )
        _db.session.commit()
        _db.session.remove()
    again = post_recipe(client, auth_headers, key)
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert again.headers["Location"] != first.headers["Location"]
    assert recipe_count(app) == 2
    assert post_recipe(client, auth_headers, key).headers["Location"] == again.headers["Location"]
    assert recipe_count(app) == 2
