"""The replay of reads (hot_reads.py): the same answer Flask gives, never a stale one after any
write on any instance, never one made for another session, and rate limited the same."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from conftest import PASSWORD, submit, through_flask
from flask import Flask, Response
from flask.testing import FlaskClient
from sqlalchemy import event, text
from werkzeug.http import http_date
from werkzeug.test import TestResponse

from potluck.domain.database import db

REPLAY = "Potluck; hit; detail=replay"
PER_REQUEST = {"Date", "X-Request-ID", "Cache-Status", "RateLimit-Remaining", "RateLimit-Reset"}
MakeRecipe = Callable[..., dict[str, Any]]


def lasting_headers(response: TestResponse) -> dict[str, str]:
    return {name: value for name, value in response.headers if name not in PER_REQUEST}


def replayed(response: TestResponse) -> bool:
    return response.headers.get("Cache-Status") == REPLAY


@pytest.fixture(name="through_flask")
def through_flask_client(app: Flask) -> FlaskClient:
    return through_flask(app)


@pytest.fixture
def recipe(auth_headers: dict[str, str], make_recipe: MakeRecipe) -> dict[str, Any]:
    return make_recipe(auth_headers, name="Lemon Tart")


def test_the_second_anonymous_get_is_replayed_as_flask_answered_it(
    client: FlaskClient, through_flask: FlaskClient, recipe: dict[str, Any]
) -> None:
    path = f"/api/v1/recipes/{recipe['id']}"
    first = client.get(path)
    assert first.status_code == 200
    assert not replayed(first)
    again = client.get(path)
    assert again.status_code == 200
    assert replayed(again)
    assert again.data == first.data
    assert again.json["name"] == "Lemon Tart"
    flask = through_flask.get(path)
    assert not replayed(flask)
    assert lasting_headers(again) == lasting_headers(flask)
    assert again.headers["X-Request-ID"] != first.headers["X-Request-ID"]
    echoed = client.get(path, headers={"X-Request-ID": "trace-42"})
    assert replayed(echoed)
    assert echoed.headers["X-Request-ID"] == "trace-42"


def test_a_replayed_304_is_the_304_flask_sends(
    client: FlaskClient, through_flask: FlaskClient, recipe: dict[str, Any]
) -> None:
    path = f"/api/v1/recipes/{recipe['id']}"
    etag = client.get(path).headers["ETag"]
    condition = {"If-None-Match": f'W/{etag}, "other"'}
    fresh = client.get(path, headers=condition)
    assert fresh.status_code == 304
    assert replayed(fresh)
    assert fresh.data == b""
    assert "Content-Type" not in fresh.headers
    flask = through_flask.get(path, headers=condition)
    assert flask.status_code == 304
    assert lasting_headers(fresh) == lasting_headers(flask)
    stale = client.get(path, headers={"If-None-Match": '"r0.0.0"'})
    assert stale.status_code == 200
    assert replayed(stale)


def test_gzip_answers_are_kept_apart_and_revalidate_in_either_form(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    recipe = make_recipe(auth_headers, description="Slowly. " * 100)
    path = f"/api/v1/recipes/{recipe['id']}"
    gzipped = {"Accept-Encoding": "gzip"}
    plain = client.get(path)
    client.get(path, headers=gzipped)
    packed = client.get(path, headers=gzipped)
    assert replayed(packed)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert packed.headers["ETag"] == plain.headers["ETag"][:-1] + '-gzip"'
    assert "Content-Encoding" not in client.get(path).headers
    for held in (packed.headers["ETag"], plain.headers["ETag"]):
        fresh = client.get(path, headers={**gzipped, "If-None-Match": held})
        assert (fresh.status_code, replayed(fresh)) == (304, True)
        assert fresh.headers["ETag"] == held


def test_a_write_is_seen_by_the_next_read(
    client: FlaskClient, auth_headers: dict[str, str], recipe: dict[str, Any]
) -> None:
    path = f"/api/v1/recipes/{recipe['id']}"
    client.get(path)
    assert replayed(client.get(path))
    changed = client.patch(path, json={"name": "Lime Tart"}, headers=auth_headers)
    assert changed.status_code == 200
    after = client.get(path)
    assert not replayed(after)
    assert after.json["name"] == "Lime Tart"
    assert after.headers["ETag"] == changed.headers["ETag"]
    assert replayed(client.get(path))
    assert client.delete(path, headers=auth_headers).status_code == 204
    gone = client.get(path)
    assert gone.status_code == 404
    assert gone.mimetype == "application/problem+json"


def test_a_write_on_another_instance_is_seen_at_once(
    client: FlaskClient, second_app: Flask, auth_headers: dict[str, str], recipe: dict[str, Any]
) -> None:
    path = f"/api/v1/recipes/{recipe['id']}"
    listing = "/api/v1/recipes"
    for _ in range(2):
        client.get(path)
        client.get(listing)
    assert replayed(client.get(path))
    assert replayed(client.get(listing))
    elsewhere = second_app.test_client()
    assert elsewhere.patch(path, json={"name": "Blood Orange Tart"}, headers=auth_headers).json
    assert client.get(path).json["name"] == "Blood Orange Tart"
    assert [r["name"] for r in client.get(listing).json["data"]] == ["Blood Orange Tart"]


def test_list_pages_are_replayed_until_a_recipe_is_published(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    make_recipe(auth_headers, name="Older")
    listing = "/api/v1/recipes?per_page=5"
    first = client.get(listing)
    again = client.get(listing)
    assert replayed(again)
    assert again.data == first.data
    assert again.headers["Link"] == first.headers["Link"]
    draft = make_recipe(auth_headers, name="Newer", publish=False)
    assert [r["name"] for r in client.get(listing).json["data"]] == ["Older"]
    client.put(f"/api/v1/recipes/{draft['id']}/publish", headers=auth_headers)
    assert [r["name"] for r in client.get(listing).json["data"]] == ["Newer", "Older"]


def test_drafts_and_errors_are_never_replayed(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    draft = make_recipe(auth_headers, publish=False)
    path = f"/api/v1/recipes/{draft['id']}"
    for _ in range(3):
        mine = client.get(path, headers=auth_headers)
        assert (mine.status_code, replayed(mine)) == (200, False)
        hidden = client.get(path)
        assert (hidden.status_code, replayed(hidden)) == (404, False)
        invalid = client.get("/api/v1/recipes?sort=bogus")
        assert (invalid.status_code, replayed(invalid)) == (400, False)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://example.com"},
        {"If-Modified-Since": "Sun, 01 Jan 2034 00:00:00 GMT"},
        {"Range": "bytes=0-10"},
        {"Authorization": "Bearer not-a-token"},
    ],
    ids=["cors", "if-modified-since", "range", "credentials"],
)
def test_requests_that_need_flask_get_flask(
    client: FlaskClient, recipe: dict[str, Any], headers: dict[str, str]
) -> None:
    path = f"/api/v1/recipes/{recipe['id']}"
    client.get(path)
    assert replayed(client.get(path))
    assert not replayed(client.get(path, headers=headers))


def test_an_answer_to_a_cookie_is_replayed_to_that_cookie_only(
    app: Flask, client: FlaskClient, recipe: dict[str, Any]
) -> None:
    path = f"/api/v1/recipes/{recipe['id']}"
    client.get(path)
    assert replayed(client.get(path))
    dark, light = app.test_client(), app.test_client()
    dark.set_cookie("theme", "dark")
    light.set_cookie("theme", "light")
    first = dark.get(path)
    assert not replayed(first)
    again = dark.get(path)
    assert replayed(again)
    assert again.data == first.data
    assert not replayed(light.get(path))


def test_head_and_other_media_types_get_flask(client: FlaskClient, recipe: dict[str, Any]) -> None:
    listing = "/api/v1/recipes"
    client.get(listing)
    assert not replayed(client.head(listing))
    csv = {"Accept": "text/csv"}
    client.get(listing, headers=csv)
    answer = client.get(listing, headers=csv)
    assert replayed(answer)
    assert answer.mimetype == "text/csv"
    assert "Lemon Tart" in answer.text
    assert client.get(listing, headers={"Accept": "image/png"}).status_code == 406


def test_stored_answers_are_bounded(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    # The replay sits right inside the operations front (operations.py).
    app.wsgi_app.wsgi_app.max_entries = 2  # type: ignore[attr-defined]
    paths = [f"/api/v1/recipes/{make_recipe(auth_headers)['id']}" for _ in range(3)]
    for path in paths:
        client.get(path)
    assert not replayed(client.get(paths[0]))  # the oldest was dropped for the newest
    assert replayed(client.get(paths[2]))


@pytest.mark.rate_limits
def test_replays_count_against_the_read_limit(
    app: Flask, client: FlaskClient, recipe: dict[str, Any]
) -> None:
    app.config["READ_RATE_LIMIT"] = "3 per minute"
    path = f"/api/v1/recipes/{recipe['id']}"
    answers = [client.get(path) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [replayed(a) for a in answers] == [False, True, True]
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
    assert {a.headers["RateLimit-Limit"] for a in answers} == {"3"}
    refused = client.get(path)
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert int(refused.headers["Retry-After"]) >= 1


# Signed-in readers: the same public answers, once their token checks out


def test_a_signed_in_reader_gets_the_public_answer_replayed(
    client: FlaskClient,
    through_flask: FlaskClient,
    recipe: dict[str, Any],
    other_headers: dict[str, str],
) -> None:
    for path in (f"/api/v1/recipes/{recipe['id']}", "/api/v1/recipes?per_page=5"):
        first = client.get(path, headers=other_headers)  # Flask verifies the token it never saw
        assert (first.status_code, replayed(first)) == (200, False)
        again = client.get(path, headers=other_headers)
        assert (again.status_code, replayed(again)) == (200, True)
        assert again.data == first.data
        # The headers Flask gives a signed-in caller.
        flask = through_flask.get(path, headers=other_headers)
        assert lasting_headers(again) == lasting_headers(flask)
        anonymous = client.get(path)
        assert (anonymous.data, replayed(anonymous)) == (again.data, False)
    assert (
        client.get("/api/v1/recipes?per_page=5", headers=other_headers).headers["Cache-Control"]
        == "public, no-cache"
    )


@pytest.mark.parametrize("ending", ["logout", "password change"])
def test_a_token_ended_anywhere_is_refused_not_replayed(
    client: FlaskClient,
    recipe: dict[str, Any],
    other_headers: dict[str, str],
    ending: str,
) -> None:
    path = f"/api/v1/recipes/{recipe['id']}"
    client.get(path, headers=other_headers)
    assert replayed(client.get(path, headers=other_headers))
    if ending == "logout":
        assert client.delete("/api/v1/tokens", headers=other_headers).status_code == 204
    else:
        change = {"current_password": PASSWORD, "new_password": "another long passphrase"}
        response = client.put("/api/v1/me/password", json=change, headers=other_headers)
        assert response.status_code == 200, response.json
    refused = client.get(path, headers=other_headers)
    assert (refused.status_code, replayed(refused)) == (401, False)
    assert "WWW-Authenticate" in refused.headers


def test_refresh_tokens_and_api_keys_go_to_flask(
    client: FlaskClient, recipe: dict[str, Any], user: dict[str, Any], auth_headers: dict[str, str]
) -> None:
    path = f"/api/v1/recipes/{recipe['id']}"
    tokens = client.post(
        "/api/v1/tokens", json={"username": user["username"], "password": PASSWORD}
    )
    refresh = {"Authorization": f"Bearer {tokens.json['refresh_token']}"}
    key = client.post(
        "/api/v1/me/api-keys", json={"name": "script", "scope": "read"}, headers=auth_headers
    ).json["key"]
    for headers in (refresh, {"Authorization": f"Bearer {key}"}):
        answers = [client.get(path, headers=headers) for _ in range(2)]
        assert not any(replayed(answer) for answer in answers)
    assert client.get(path, headers=refresh).status_code == 401


@pytest.mark.rate_limits
def test_signed_in_replays_count_against_the_readers_own_limit(
    app: Flask, client: FlaskClient, recipe: dict[str, Any], other_headers: dict[str, str]
) -> None:
    app.config["READ_RATE_LIMIT"] = "3 per minute"
    path = f"/api/v1/recipes/{recipe['id']}"
    answers = [client.get(path, headers=other_headers) for _ in range(3)]
    assert [replayed(a) for a in answers] == [False, True, True]
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
    assert client.get(path, headers=other_headers).status_code == 429
    assert client.get(path).status_code == 200  # the address has its own count


# The site's cookie sessions


@pytest.fixture
def site_browser(app: Flask, user: dict[str, Any]) -> FlaskClient:
    """A browser signed in to the site as `user` (its own cookie jar)."""
    browser = app.test_client()
    answer = submit(browser, "/account/login", {"login": user["username"], "password": PASSWORD})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return browser


def page_of(client: FlaskClient, recipe: dict[str, Any]) -> str:
    location: str = client.get(f"/recipes/{recipe['id']}-").headers["Location"]
    return location


def settled(browser: FlaskClient, path: str) -> TestResponse:
    """The page as Flask renders it once the session holds what the page writes into it (a
    waiting message shown, its CSRF token made): an answer that sets no cookie."""
    for _ in range(3):
        response = browser.get(path)
        assert response.status_code == 200
        if "Set-Cookie" not in response.headers:
            return response
    raise AssertionError("every visit writes the session again: nothing can be replayed")


def session_copy(app: Flask, browser: FlaskClient) -> FlaskClient:
    """A second client holding a copy of `browser`'s session cookie."""
    cookie = browser.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    copy = app.test_client()
    copy.set_cookie(cookie.key, cookie.value)
    return copy


def test_a_signed_in_page_is_replayed_to_its_own_session_only(
    app: Flask, client: FlaskClient, site_browser: FlaskClient, recipe: dict[str, Any]
) -> None:
    path = page_of(client, recipe)
    flask = settled(site_browser, path)
    assert not replayed(flask)
    again = site_browser.get(path)
    assert (again.status_code, replayed(again)) == (200, True)
    assert again.data == flask.data
    assert lasting_headers(again) == lasting_headers(flask)
    assert again.headers["Cache-Control"] == "private, no-cache"
    assert "Log out" in again.get_data(as_text=True)
    # The same cook in another site_browser has a session (and a CSRF token) of its own.
    elsewhere = app.test_client()
    submit(elsewhere, "/account/login", {"login": "alice", "password": PASSWORD})
    theirs = settled(elsewhere, path)
    assert not replayed(theirs)
    assert theirs.data != again.data
    anonymous = client.get(path)
    assert "Log out" not in anonymous.get_data(as_text=True)
    assert anonymous.headers["Cache-Control"] == "public, no-cache"


def test_a_replay_keeps_no_date_of_its_own(
    app: Flask, client: FlaskClient, recipe: dict[str, Any]
) -> None:
    # The server dates each answer it sends; a stored Date would tell the time of the first.
    def dated(response: Response) -> Response:  # as Werkzeug's make_conditional does
        response.headers.setdefault("Date", http_date(0))
        return response

    app.after_request_funcs.setdefault(None, []).append(dated)
    try:
        path = page_of(client, recipe)
        assert "Date" in client.get(path).headers
        again = client.get(path)
    finally:
        app.after_request_funcs[None].remove(dated)
    assert replayed(again)
    assert "Date" not in again.headers


@pytest.mark.parametrize("ending", ["logout", "password change"])
def test_a_session_ended_anywhere_is_not_replayed(
    app: Flask,
    client: FlaskClient,
    site_browser: FlaskClient,
    recipe: dict[str, Any],
    auth_headers: dict[str, str],
    ending: str,
) -> None:
    path = page_of(client, recipe)
    settled(site_browser, path)
    copy = session_copy(app, site_browser)
    assert replayed(copy.get(path))
    if ending == "logout":
        assert submit(site_browser, "/account/logout", page=path).status_code == 303
    else:
        change = {"current_password": PASSWORD, "new_password": "another long passphrase"}
        response = client.put("/api/v1/me/password", json=change, headers=auth_headers)
        assert response.status_code == 200, response.json
    refused = copy.get(path)
    assert (refused.status_code, replayed(refused)) == (200, False)
    body = refused.get_data(as_text=True)
    assert "Log out" not in body
    assert "Log in" in body


def test_a_waiting_message_is_shown_once_and_never_replayed(
    app: Flask, client: FlaskClient, site_browser: FlaskClient, recipe: dict[str, Any]
) -> None:
    path = page_of(client, recipe)
    visits = [site_browser.get(path) for _ in range(4)]
    welcomes = ["Welcome back" in visit.get_data(as_text=True) for visit in visits]
    assert welcomes == [True, False, False, False]
    assert not replayed(visits[0])
    assert replayed(visits[-1])


def test_a_page_kept_for_a_session_ages_out(
    monkeypatch: pytest.MonkeyPatch,
    client: FlaskClient,
    site_browser: FlaskClient,
    recipe: dict[str, Any],
) -> None:
    # Its forms carry a CSRF token signed with the time: it is rendered again well before
    # Flask-WTF would refuse the token.
    monkeypatch.setattr("potluck.http.hot_reads.SESSION_ANSWER_SECONDS", 0.0)
    path = page_of(client, recipe)
    settled(site_browser, path)
    assert not any(replayed(site_browser.get(path)) for _ in range(3))


def test_a_signed_in_replay_asks_the_database_one_question(
    app: Flask,
    client: FlaskClient,
    recipe: dict[str, Any],
    other_headers: dict[str, str],
    site_browser: FlaskClient,
) -> None:
    """On PostgreSQL (a round trip per question) the generation and the caller's account
    come in one query, over the probe's own connection (no pool checkout, so no ping and
    no COMMIT); on SQLite both are read from the file after a commit only."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("the server is asked on PostgreSQL only; the PostgreSQL pass runs this")
    api_path = f"/api/v1/recipes/{recipe['id']}"
    page_path = page_of(client, recipe)
    client.get(api_path, headers=other_headers)
    settled(site_browser, page_path)
    with app.app_context():
        pool = db.engine.pool
    checkouts: list[object] = []

    def counted(*_: Any) -> None:
        checkouts.append(None)

    probe = app.wsgi_app.wsgi_app.probe  # type: ignore[attr-defined]
    asked = probe._ask_server
    questions: list[str] = []

    def counted_question(sql: str, parameters: tuple[Any, ...]) -> Any:
        questions.append(sql)
        return asked(sql, parameters)

    event.listen(pool, "checkout", counted)
    probe._ask_server = counted_question
    try:
        answers = [client.get(api_path, headers=other_headers), site_browser.get(page_path)]
    finally:
        del probe._ask_server
        event.remove(pool, "checkout", counted)
    assert [replayed(answer) for answer in answers] == [True, True]
    assert len(questions) == 2
    assert checkouts == []


def test_a_replay_connection_the_server_ended_is_replaced_without_a_503(
    app: Flask, client: FlaskClient, recipe: dict[str, Any]
) -> None:
    """The replay's own connection (PostgreSQL) broken since its last question, as after a
    server restart, is replaced at once: the reader never sees the break."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("the server is asked on PostgreSQL only; the PostgreSQL pass runs this")
    path = f"/api/v1/recipes/{recipe['id']}"
    client.get(path)
    assert replayed(client.get(path))
    probe = app.wsgi_app.wsgi_app.probe  # type: ignore[attr-defined]
    ended = probe.local.server.info.backend_pid
    with app.app_context():
        db.session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": ended})
        db.session.commit()
    again = client.get(path)
    assert (again.status_code, replayed(again)) == (200, True)
    assert probe.local.server.info.backend_pid != ended


def test_askers_of_an_answer_being_built_wait_for_it_instead_of_building_it_too(
    app: Flask, client: FlaskClient, recipe: dict[str, Any]
) -> None:
    replay = app.wsgi_app.wsgi_app  # type: ignore[attr-defined]
    flask = replay.wsgi_app
    built: list[str] = []

    def slow_flask(environ: dict[str, Any], start_response: Any) -> Any:
        built.append(environ["PATH_INFO"])
        time.sleep(0.3)  # long enough for every other asker to arrive meanwhile
        return flask(environ, start_response)

    replay.wsgi_app = slow_flask
    askers = 6
    start = threading.Barrier(askers)

    def ask(path: str) -> TestResponse:
        start.wait()
        return app.test_client().get(path)

    try:
        for path in (f"/api/v1/recipes/{recipe['id']}", "/api/v1/me"):
            built.clear()
            with ThreadPoolExecutor(askers) as pool:
                answers = list(pool.map(ask, [path] * askers))
            if path.endswith("/me"):  # not replayable: every asker gets Flask's own answer
                assert [answer.status_code for answer in answers] == [401] * askers
                assert len(built) >= askers - 1  # only the first is waited for, once
                continue
            assert [answer.status_code for answer in answers] == [200] * askers
            assert built == [path]  # built once; the others waited and got it replayed
            assert sum(replayed(answer) for answer in answers) == askers - 1
            assert len({answer.data for answer in answers}) == 1
    finally:
        replay.wsgi_app = flask


def test_a_database_found_unreachable_is_a_503_at_once_and_one_warning(
    app: Flask,
    client: FlaskClient,
    recipe: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The replay's question is the request's first contact with the database: when it finds
    the database gone, Flask answers the 503 without a second connection attempt (each one
    may wait DATABASE_CONNECT_TIMEOUT_SECONDS), and the log gets no traceback per request."""
    from sqlalchemy.exc import OperationalError

    from potluck.http import persistence
    from potluck.http.hot_reads import GenerationProbe

    def gone(*_: Any) -> int:
        refused = ConnectionRefusedError("refused")
        raise OperationalError("SELECT 1", {}, refused, connection_invalidated=True)

    for question in ("_from_sqlite", "_from_server", "_with_account"):
        monkeypatch.setattr(GenerationProbe, question, gone)
    monkeypatch.setattr(persistence._outage, "until", 0.0)
    asked: list[str] = []

    def ask(*args: Any) -> None:
        asked.append(args[2])

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", ask)
    try:
        answers = [client.get(f"/api/v1/recipes/{recipe['id']}") for _ in range(3)]
    finally:
        event.remove(engine, "before_cursor_execute", ask)
    for answer in answers:
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == persistence.UNAVAILABLE_RETRY_SECONDS
        assert answer.mimetype == "application/problem+json"
    assert asked == []
    warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warnings) == 1
    assert not any(r.exc_info for r in caplog.records if r.levelname == "WARNING")
