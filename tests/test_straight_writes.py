"""Straight writes: one transaction per request, the idempotency record in it, a recipe row
written once, and few statements (counted: that is deterministic, unlike timings)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import RECIPE
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select

from potluck.domain.database import db as _db
from potluck.domain.models import IdempotencyKey, Recipe

Counter = Callable[[], contextlib.AbstractContextManager[list[str]]]


@contextlib.contextmanager
def counting_commits(app: Flask) -> Iterator[list[int]]:
    commits: list[int] = []

    def record(connection: Any) -> None:
        commits.append(1)

    with app.app_context():
        engine = _db.engine
    event.listen(engine, "commit", record)
    try:
        yield commits
    finally:
        event.remove(engine, "commit", record)


def _writes_to(statements: list[str], table: str) -> list[str]:
    return [
        s
        for s in statements
        if s.lstrip()
        .upper()
        .startswith((f"INSERT INTO {table.upper()} ", f"UPDATE {table.upper()} "))
    ]


def test_a_create_with_a_key_is_at_most_eight_statements_and_one_commit(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str], count_queries: Counter
) -> None:
    headers = {**auth_headers, "Idempotency-Key": "create-once"}
    with count_queries() as statements, counting_commits(app) as commits:
        response = client.post("/api/v1/recipes", json=RECIPE, headers=headers)
    assert response.status_code == 201
    assert len(statements) <= 8, statements
    assert len(commits) == 1
    assert len(_writes_to(statements, "recipes")) == 1  # inserted whole, never updated
    assert len(_writes_to(statements, "idempotency_keys")) == 1
    with app.app_context():
        stored = _db.session.get(
            IdempotencyKey, (f"user:{response.json['author']['id']}", "create-once")
        )
        assert stored is not None
        assert stored.status == 201


def test_a_patch_is_at_most_six_statements_and_one_commit(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: Callable[..., dict[str, Any]],
    count_queries: Counter,
) -> None:
    recipe = make_recipe(auth_headers)  # published: its lists must be invalidated too
    with count_queries() as statements, counting_commits(app) as commits:
        response = client.patch(
            f"/api/v1/recipes/{recipe['id']}", json={"name": "Better Soup"}, headers=auth_headers
        )
    assert response.status_code == 200
    assert response.json["name"] == "Better Soup"
    assert len(statements) <= 6, statements
    assert len(commits) == 1
    assert len(_writes_to(statements, "recipes")) == 1


def test_an_unauthenticated_post_with_a_key_writes_nothing(app: Flask, client: FlaskClient) -> None:
    response = client.post("/api/v1/recipes", json=RECIPE, headers={"Idempotency-Key": "anon"})
    assert response.status_code == 401
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0


def test_a_refused_write_stores_neither_the_write_nor_the_key(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    headers = {**auth_headers, "Idempotency-Key": "bad-body"}
    response = client.post("/api/v1/recipes", json={"name": ""}, headers=headers)
    assert response.status_code == 400
    retried = client.post("/api/v1/recipes", json=RECIPE, headers=headers)
    assert retried.status_code == 201  # the key stayed free for the corrected request
    assert "Idempotent-Replayed" not in retried.headers
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(Recipe)) == 1


@pytest.mark.parametrize("publish", [False, True])
def test_only_public_changes_move_the_list_generation(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: Callable[..., dict[str, Any]],
    count_queries: Counter,
    publish: bool,
) -> None:
    recipe = make_recipe(auth_headers, publish=publish)
    with count_queries() as statements:
        response = client.patch(
            f"/api/v1/recipes/{recipe['id']}", json={"cook_time": 12}, headers=auth_headers
        )
    assert response.status_code == 200
    bumped = [s for s in statements if "cache_generations" in s]
    assert bool(bumped) is publish  # a draft's edit invalidates no public answer
