"""Retries against a scripted stub server: 503 then 200, 429 with Retry-After, dropped
connections, bounded attempts and total sleep, and one Idempotency-Key per POST."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from conftest import RECIPE, Answer, Sleeps, StubServer, page_of

from potluck_client import (
    Client,
    ConnectionFailed,
    RateLimited,
    RetryPolicy,
    Unavailable,
)

RECIPE_ROUTE = "GET /api/v1/recipes/7"


def test_a_503_is_retried_after_a_jittered_backoff(
    stub: StubServer, stub_client: Client, sleeps: Sleeps
) -> None:
    stub.on(RECIPE_ROUTE, Answer(503, {"title": "Service Unavailable"}), Answer(200, RECIPE))

    recipe = stub_client.recipe(7)

    assert recipe.name == "Stub Soup"
    assert len(stub.requests(RECIPE_ROUTE)) == 2
    assert len(sleeps.waits) == 1
    assert 0.25 <= sleeps.waits[0] <= 0.5  # the first backoff, 0.5 s, jittered to half


def test_backoff_doubles_and_attempts_are_bounded(
    stub: StubServer, stub_client: Client, sleeps: Sleeps
) -> None:
    stub.on(RECIPE_ROUTE, Answer(503, {"title": "Service Unavailable", "detail": "Starting."}))

    with pytest.raises(Unavailable) as failed:
        stub_client.recipe(7)

    assert failed.value.status == 503
    assert failed.value.detail == "Starting."
    assert len(stub.requests(RECIPE_ROUTE)) == 4  # RetryPolicy().attempts
    ceilings = [0.5, 1.0, 2.0]
    assert len(sleeps.waits) == len(ceilings)
    for wait, ceiling in zip(sleeps.waits, ceilings, strict=True):
        assert ceiling / 2 <= wait <= ceiling


def test_retry_after_in_seconds_is_honoured(
    stub: StubServer, stub_client: Client, sleeps: Sleeps
) -> None:
    limited = Answer(429, {"title": "Too Many Requests"}, {"Retry-After": "3"})
    stub.on(RECIPE_ROUTE, limited, Answer(200, RECIPE))

    assert stub_client.recipe(7).id == 7
    assert sleeps.waits == [3.0]


def test_retry_after_as_a_date_is_honoured(
    stub: StubServer, stub_client: Client, sleeps: Sleeps
) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
    stub.on(RECIPE_ROUTE, Answer(503, {}, {"Retry-After": when}), Answer(200, RECIPE))

    assert stub_client.recipe(7).id == 7
    (wait,) = sleeps.waits
    assert 3.0 <= wait <= 5.0


def test_a_retry_after_too_long_is_raised_at_once(stub: StubServer, sleeps: Sleeps) -> None:
    stub.on(RECIPE_ROUTE, Answer(429, {"detail": "Slow down."}, {"Retry-After": "120"}))

    client = Client(stub.url, sleep=sleeps, retry=RetryPolicy(max_delay=30))
    with client, pytest.raises(RateLimited) as limited:
        client.recipe(7)

    assert limited.value.retry_after == 120.0
    assert limited.value.detail == "Slow down."
    assert sleeps.waits == []
    assert len(stub.requests(RECIPE_ROUTE)) == 1


def test_the_total_sleep_is_capped(stub: StubServer, sleeps: Sleeps) -> None:
    stub.on(RECIPE_ROUTE, Answer(429, {}, {"Retry-After": "4"}))
    policy = RetryPolicy(attempts=10, max_total_sleep=10)

    with Client(stub.url, sleep=sleeps, retry=policy) as client, pytest.raises(RateLimited):
        client.recipe(7)

    assert sleeps.waits == [4.0, 4.0]  # a third wait would pass 10 s
    assert len(stub.requests(RECIPE_ROUTE)) == 3


def test_a_dropped_connection_is_retried(
    stub: StubServer, stub_client: Client, sleeps: Sleeps
) -> None:
    stub.on(RECIPE_ROUTE, Answer(0, drop=True), Answer(200, RECIPE))

    assert stub_client.recipe(7).name == "Stub Soup"
    assert len(sleeps.waits) == 1


def test_no_answer_at_all_is_a_connection_failure(sleeps: Sleeps) -> None:
    policy = RetryPolicy(attempts=2)
    client = Client("http://127.0.0.1:9", sleep=sleeps, retry=policy)  # the discard port
    with client, pytest.raises(ConnectionFailed) as failed:
        client.recipe(1)
    assert failed.value.status == 0
    assert "ConnectError" in failed.value.detail
    assert len(sleeps.waits) == 1


def test_a_post_keeps_one_idempotency_key_across_its_retries(
    stub: StubServer, stub_client: Client, sleeps: Sleeps
) -> None:
    created = Answer(201, RECIPE, {"Location": "/api/v1/recipes/7", "ETag": '"r7.1.1"'})
    stub.on("POST /api/v1/recipes", Answer(0, drop=True), Answer(503, {}), created)

    recipe = stub_client.create_recipe(name="Stub Soup")
    stub_client.create_recipe(name="Stub Soup")  # a second create is a new request

    assert recipe.etag == '"r7.1.1"'
    posts = stub.requests("POST /api/v1/recipes")
    keys = [post.headers["Idempotency-Key"] for post in posts]
    assert len(keys) == 4
    assert keys[0] == keys[1] == keys[2]
    assert keys[3] != keys[0]
    assert {post.body for post in posts} == {b'{"name": "Stub Soup"}'}
    assert len(sleeps.waits) == 2


def test_a_refresh_is_never_resent_once_it_may_have_arrived(
    stub: StubServer, sleeps: Sleeps
) -> None:
    stub.on("GET /api/v1/me", Answer(401, {"title": "Unauthorized"}))
    stub.on("POST /api/v1/tokens/refresh", Answer(0, drop=True))

    client = Client(stub.url, token="old", refresh_token="once", sleep=sleeps)
    with client, pytest.raises(ConnectionFailed):
        client.me()

    assert len(stub.requests("POST /api/v1/tokens/refresh")) == 1
    assert sleeps.waits == []


def test_lists_send_the_cursor_back(stub: StubServer, stub_client: Client) -> None:
    second = {**RECIPE, "id": 8}
    stub.on(
        "GET /api/v1/recipes",
        Answer(200, page_of(RECIPE, next_cursor="c2")),
        Answer(200, page_of(second)),
    )

    assert [r.id for r in stub_client.recipes(tag=["soup", "quick"])] == [7, 8]

    first, then = stub.requests("GET /api/v1/recipes")
    assert "cursor" not in first.path
    assert "tag=soup&tag=quick" in first.path
    assert "cursor=c2" in then.path
    assert "tag=soup&tag=quick" in then.path


@pytest.mark.parametrize("retry", range(6))
def test_every_backoff_stays_in_its_bounds(retry: int) -> None:
    policy = RetryPolicy(attempts=10, backoff=0.5, max_delay=8, max_total_sleep=1000)
    ceiling = min(8, 0.5 * 2**retry)
    rng = random.Random(retry)
    waits = [policy.delay(retry, None, 0.0, rng) for _ in range(50)]
    assert all(wait is not None and ceiling / 2 <= wait <= ceiling for wait in waits)
    assert len(set(waits)) > 1  # jittered, so clients that failed together spread out
