"""Public reads of recipes and list pages, answered again from memory in WSGI middleware,
before Flask, the ORM or a schema runs: to anonymous readers, and to signed-in ones whose
access token checks out (the answers offered do not depend on who asks; the headers Flask
gives a signed-in caller are kept apart). A site page that depends on the visitor's cookie
session is replayed to that same cookie only, while its account still checks out and for a
few minutes at most (the page carries the session's CSRF token, which ages).

A view opts its answer in (`offer_for_replay`, which the read path calls: http.reads); the
middleware keeps the final status line, headers and body, as every after-request hook left
them. An answer is replayed only while the cache generation it was built at is current, the
counter every write to recipes, tags or users moves in its own transaction (cache.py), so
no worker serves a page a commit has changed. On SQLite a worker notices any commit from
`PRAGMA data_version` and reads the generation (and a signed-in caller's account) only
then; elsewhere it reads them on every request, in one round trip over the thread's own
autocommit connection. A token is replayed to only once Flask has verified its signature
in this process (http.auth.VerifiedTokens); its account, session generation and
revocation are checked here with the one query Flask would ask. The replay counts the
request against the same rate limit as Flask-Limiter (per user, or per address) and sets a
fresh request id, rate-limit headers and Cache-Status; anything it does not handle goes on
to Flask unchanged.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, request
from limits import parse
from limits.errors import StorageError
from sqlalchemy.exc import OperationalError
from werkzeug.http import is_entity_header, parse_cookie

from potluck.domain.api_keys import KEY_PREFIX
from potluck.domain.database import db
from potluck.domain.preconditions import GZIP_SUFFIX, etag_listed
from potluck.http.auth import SESSION_ACCOUNT_KEY, verified_tokens, well_formed_session
from potluck.http.headers import ROUTE_KEY, UNMATCHED_ROUTE, log_access, request_id_for
from potluck.http.limits import limiter, storage_outage
from potluck.http.persistence import DATABASE_UNREACHABLE, statement_deadline, unreachable

StartResponse = Callable[..., Any]
log = logging.getLogger(__name__)

_OFFERED = "potluck.replayable"
# The generation the middleware read first: cache.current_generation takes it from here.
GENERATION_KEY = "potluck.generation"
# Set by the operations front (operations.py): probes, metrics and maintenance go to Flask.
THROUGH_FLASK = "potluck.through_flask"
# Headers that belong to one exchange, set again on every replay (Date by the server).
_PER_REQUEST = frozenset(
    {
        "date",
        "x-request-id",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "retry-after",
        "cache-status",
    }
)
# A request with any of these needs Flask: credentials, CORS, other preconditions, ranges.
_NEEDS_FLASK = (
    THROUGH_FLASK,
    "HTTP_ORIGIN",
    "HTTP_IF_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_UNMODIFIED_SINCE",
    "HTTP_RANGE",
)
_GENERATION_SQL = "SELECT value FROM cache_generations WHERE name = 'recipes'"
# How long a request waits for the same answer that another one is building in Flask before
# it goes to Flask itself.
_WAIT_FOR_FIRST_SECONDS = 1.0
# While rate limits count in memory (Redis down), how often a replayable read goes to Flask.
_PROBE_SECONDS = 1.0
# A signed-in caller's account: its session generation, whether it may log in, and whether
# this token was revoked: the one indexed query http.auth asks, in the driver's own words.
_ACCOUNT_SQL = (
    "SELECT session_generation, is_active, "
    "EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = {mark}) FROM users WHERE id = {mark}"
)
# Both in one round trip, for a server reached over the network (PostgreSQL).
_GENERATION_AND_ACCOUNT_SQL = (
    "SELECT g.value, u.session_generation, u.is_active, "
    "EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = %s) "
    "FROM cache_generations g LEFT JOIN users u ON u.id = %s WHERE g.name = 'recipes'"
)
# Session cookies decoded lately (the signature checked once per cookie value).
_SESSIONS_KEPT = 1024


# How long a page answered to one cookie session is replayed to it: its CSRF token is signed
# with a time, and must stay well inside Flask-WTF's limit when the form is finally sent.
SESSION_ANSWER_SECONDS = 300.0


def offer_for_replay() -> None:
    """Let the middleware replay this request's answer to the next asker of its kind: anyone
    anonymous, any signed-in API caller, or the same cookie session (see the module's text)."""
    if GENERATION_KEY in request.environ:
        request.environ[_OFFERED] = True


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    headers: list[tuple[str, str]]
    body: bytes
    etag: str
    route: str  # the URL rule, for the access log and the metrics
    expires: float = float("inf")  # time.monotonic() past which it is not replayed
    shows_limits: bool = True  # Flask's answer carried RateLimit-* (an API's; not a page's)


class GenerationProbe:
    """The current cache generation, read as rarely as the database allows; None when the
    database cannot be asked (the request then goes to Flask, which answers properly)."""

    def __init__(self, app: Flask) -> None:
        uri = str(app.config["SQLALCHEMY_DATABASE_URI"])
        self.sqlite_path = uri.removeprefix("sqlite:///") if uri.startswith("sqlite:///") else None
        with app.app_context():
            self.engine = db.engine
        # The app's own connection settings (a connect timeout), for the probe's connections.
        engine_options = app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {})
        self.connect_args: dict[str, Any] = dict(engine_options.get("connect_args", {}))
        self.app = app
        self.local = threading.local()
        # Every thread's server connection, closed when the probe goes (an app's end).
        self.servers: set[Any] = set()
        weakref.finalize(self, _close_all, self.servers)

    def current(self, account: tuple[int, str] | None = None) -> int | None:
        """The generation; with `account` (a user id and a credential's id), its state too
        where each question is a round trip (PostgreSQL): `account()` then answers from it."""
        try:
            if self.sqlite_path:
                return self._from_sqlite()
            self.local.__dict__.pop("prefetched", None)  # only this request's may be used
            return self._from_server() if account is None else self._with_account(*account)
        except Exception as error:  # any database trouble: Flask answers it properly
            self.local.__dict__.clear()
            if isinstance(error, self.engine.dialect.loaded_dbapi.OperationalError):
                error = OperationalError(_GENERATION_SQL, None, error)  # as SQLAlchemy says it
            if isinstance(error, OperationalError) and unreachable(error):
                self.local.lost = error  # Flask answers the 503 without asking again
            else:
                log.warning("cache generation unreadable; answering through Flask", exc_info=True)
            return None

    def _from_sqlite(self) -> int:
        connection: sqlite3.Connection | None = getattr(self.local, "connection", None)
        if connection is None:
            # One connection per worker thread: data_version compares commits it did not make.
            connection = sqlite3.connect(str(self.sqlite_path), isolation_level=None)
            self.local.connection = connection
            self.local.seen = None
        seen = connection.execute("PRAGMA data_version").fetchone()[0]
        if seen != self.local.seen:
            row = connection.execute(_GENERATION_SQL).fetchone()
            self.local.generation = row[0] if row else 0
            self.local.seen = seen
        return int(self.local.generation)

    def account(self, user_id: int, jti: str) -> tuple[int, bool, bool] | None:
        """(session generation, active, this token revoked) of an account, or None when it
        does not exist or the database cannot be asked. On SQLite, remembered until the
        next commit anywhere (PRAGMA data_version, read by `current` just before)."""
        try:
            if self.sqlite_path:
                accounts = self.local.__dict__.setdefault("accounts", {})
                if accounts.get("seen") != self.local.seen:
                    accounts.clear()
                    accounts["seen"] = self.local.seen
                if (user_id, jti) not in accounts:
                    sql = _ACCOUNT_SQL.format(mark="?")
                    row = self.local.connection.execute(sql, (jti, user_id)).fetchone()
                    accounts[user_id, jti] = row
                found = accounts[user_id, jti]
            else:
                prefetched = self.local.__dict__.pop("prefetched", None)
                if prefetched is not None and prefetched[0] == (user_id, jti):
                    found = prefetched[1]
                else:
                    found = self._ask_server(_ACCOUNT_SQL.format(mark="%s"), (jti, user_id))
        except Exception:  # any database trouble: Flask will meet it and answer properly
            log.warning("account unreadable; answering through Flask", exc_info=True)
            return None
        return (int(found[0]), bool(found[1]), bool(found[2])) if found else None

    def _ask_server(self, sql: str, parameters: tuple[Any, ...]) -> Any:
        """One question over this thread's own connection, in autocommit: one round trip,
        where a pooled connection would add a ping before and a COMMIT after. A connection
        that broke since its last question (the server restarted, or ended it) is replaced
        once, as the pool's ping would: only a new one failing means the server is gone."""
        kept = self.local.__dict__.get("server")
        if kept is not None:
            try:
                return self._fetch_one(kept, sql, parameters)
            except self.engine.dialect.loaded_dbapi.OperationalError:
                pass  # asked again below, over a new connection
        arguments, options = self.engine.dialect.create_connect_args(self.engine.url)
        connection = self.engine.dialect.loaded_dbapi.connect(
            *arguments, **{**options, **self.connect_args}, autocommit=True
        )
        self.local.server = connection
        self.servers.add(connection)
        return self._fetch_one(connection, sql, parameters)

    def _fetch_one(self, connection: Any, sql: str, parameters: tuple[Any, ...]) -> Any:
        deadline = statement_deadline(self.app)
        if deadline is not None:
            deadline.guard(connection)  # a server that stopped answering is cut off
        try:
            return connection.execute(sql, parameters).fetchone()
        except Exception:
            self.local.__dict__.pop("server", None)
            self.servers.discard(connection)
            connection.close()  # a new one next time: this one may be broken
            raise
        finally:
            if deadline is not None:
                deadline.release(connection)

    def _from_server(self) -> int:
        row = self._ask_server(_GENERATION_SQL, ())
        return int(row[0]) if row else 0

    def _with_account(self, user_id: int, jti: str) -> int:
        row = self._ask_server(_GENERATION_AND_ACCOUNT_SQL, (jti, user_id))
        if row is None:
            return 0
        account = tuple(row[1:]) if row[1] is not None else None
        self.local.prefetched = ((user_id, jti), account)
        return int(row[0])


class HotReads:
    """WSGI middleware replaying stored answers to public GETs (see the module's text)."""

    def __init__(self, wsgi_app: Any, app: Flask, max_entries: int = 10_000) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        self.probe = GenerationProbe(app)
        self.max_entries = max_entries
        self.answers: OrderedDict[tuple[str, ...], StoredAnswer] = OrderedDict()
        self.generation: int | None = None
        self.sessions: OrderedDict[str, tuple[Any, Any]] = OrderedDict()
        self.in_flight: dict[tuple[str, ...], threading.Event] = {}
        self.not_offered: OrderedDict[tuple[str, ...], None] = OrderedDict()
        self.lock = threading.Lock()
        self.next_probe = 0.0

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET" or any(h in environ for h in _NEEDS_FLASK):
            return self.wsgi_app(environ, start_response)  # type: ignore[no-any-return]
        account = None if self.probe.sqlite_path else self._account_to_check(environ)
        generation = self.probe.current(account)
        if generation is None:
            lost = self.probe.local.__dict__.pop("lost", None)
            if lost is not None:
                environ[DATABASE_UNREACHABLE] = lost
            return self.wsgi_app(environ, start_response)  # type: ignore[no-any-return]
        key = (
            environ.get("PATH_INFO", ""),
            environ.get("QUERY_STRING", ""),
            environ.get("HTTP_ACCEPT", ""),
            environ.get("HTTP_ACCEPT_ENCODING", ""),
            _kind_of_caller(environ),
        )
        with self.lock:
            if generation != self.generation:
                self.answers.clear()
                self.not_offered.clear()
                self.generation = generation
            stored = self.answers.get(key)
            if stored is not None and stored.expires <= time.monotonic():
                stored = None
            # The first asker of an answer not kept yet goes to Flask; those asking the same
            # meanwhile wait for its answer instead of all building it (after a write, say).
            ahead = self.in_flight.get(key) if stored is None else None
            mine = None
            if stored is None and ahead is None and key not in self.not_offered:
                mine = self.in_flight[key] = threading.Event()
        if ahead is not None and ahead.wait(_WAIT_FOR_FIRST_SECONDS):
            with self.lock:
                stored = self.answers.get(key) if generation == self.generation else None
        if stored is not None:
            caller = self._caller(environ)
            limit_headers = self._count(caller, stored.shows_limits) if caller is not None else None
            if limit_headers is not None:
                return self._replay(stored, environ, limit_headers, start_response)
        environ[GENERATION_KEY] = generation
        if mine is None:
            return self._pass_on(environ, start_response, key, generation)
        try:
            return self._pass_on(environ, start_response, key, generation)
        finally:
            with self.lock:
                del self.in_flight[key]
                if not environ.get(_OFFERED) and generation == self.generation:
                    self.not_offered[key] = None  # not replayable: let its askers run at once
                    while len(self.not_offered) > self.max_entries:
                        self.not_offered.popitem(last=False)
            mine.set()

    def _caller(self, environ: dict[str, Any]) -> str | None:
        """The rate-limit key of a caller whose credentials check out now; None sends the
        request to Flask."""
        if "HTTP_COOKIE" in environ and not self._session_checks_out(environ["HTTP_COOKIE"]):
            return None
        if "HTTP_AUTHORIZATION" in environ:
            return self._signed_in(environ["HTTP_AUTHORIZATION"])
        return f"ip:{environ.get('REMOTE_ADDR') or 'unknown'}"  # the site counts by address

    def _pass_on(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        key: tuple[str, ...],
        generation: int,
    ) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            captured.update(status=status, headers=headers)
            return start_response(status, headers, *args)

        body = self.wsgi_app(environ, capture)
        if not environ.get(_OFFERED) or not captured.get("status", "").startswith("200"):
            return body  # type: ignore[no-any-return]
        chunks = list(body)
        if hasattr(body, "close"):
            body.close()
        kept = [(name, value) for name, value in captured["headers"] if _kept(name)]
        etag = next((value for name, value in kept if name.lower() == "etag"), None)
        if etag is not None and not any(name.lower() == "set-cookie" for name, _ in kept):
            # Compared as the representation's own tag; a 304 sends the form the client holds.
            plain = (
                etag.removesuffix(GZIP_SUFFIX + '"') + '"'
                if etag.endswith(GZIP_SUFFIX + '"')
                else etag
            )
            route = environ.get(ROUTE_KEY, UNMATCHED_ROUTE)
            expires = (
                time.monotonic() + SESSION_ANSWER_SECONDS
                if "HTTP_COOKIE" in environ
                else float("inf")
            )
            shown = captured["headers"]
            shows_limits = any(name.lower() == "ratelimit-limit" for name, _ in shown)
            answer = StoredAnswer(kept, b"".join(chunks), plain, route, expires, shows_limits)
            self._store(key, generation, answer)
        return chunks

    def _store(self, key: tuple[str, ...], generation: int, answer: StoredAnswer) -> None:
        with self.lock:
            if generation != self.generation:
                return  # built from data a newer commit has changed
            self.answers[key] = answer
            while len(self.answers) > self.max_entries:
                self.answers.popitem(last=False)

    def _signed_in(self, authorization: str) -> str | None:
        """The rate-limit key of a caller whose access token checks out as http.auth would
        check it (signature verified before by Flask, not expired, account active, session
        generation current, token not revoked); None sends the request to Flask, which
        verifies a token it has not seen and answers every refusal. Offered answers do not
        depend on who asks (public recipes and lists), so a signed-in caller gets them too."""
        claims = self._access_claims(authorization)
        if claims is None:
            return None
        account = self.probe.account(int(claims["sub"]), claims["jti"])
        if account is None:
            return None
        generation, active, revoked = account
        if not active or revoked or generation != claims.get("gen"):
            return None
        return f"user:{claims['sub']}"

    def _access_claims(self, authorization: str) -> dict[str, Any] | None:
        """The claims of an access token this worker's Flask has verified, else None."""
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or token.startswith(KEY_PREFIX):
            return None  # API keys record their last use: Flask does that
        claims = verified_tokens(self.app).known(token)
        if claims is None or claims.get("type") != "access":
            return None
        return claims

    def _account_to_check(self, environ: dict[str, Any]) -> tuple[int, str] | None:
        """The account (user id, credential id) a replay to this request would check."""
        if "HTTP_AUTHORIZATION" in environ:
            claims = self._access_claims(environ["HTTP_AUTHORIZATION"])
            return (int(claims["sub"]), str(claims["jti"])) if claims else None
        if "HTTP_COOKIE" in environ:
            held = self._session(environ["HTTP_COOKIE"])
            account: Any = held.get(SESSION_ACCOUNT_KEY) if isinstance(held, dict) else None
            if well_formed_session(account):
                return account[0], account[2]
        return None

    def _session(self, cookie_header: str) -> Any:
        """The site's session in this Cookie header as Flask would open it: {} without a
        session cookie, None for one Flask would refuse (bad signature, too old)."""
        app = self.app
        value = parse_cookie(cookie_header).get(str(app.config["SESSION_COOKIE_NAME"]))
        if value is None:
            return {}  # other cookies only: the session is empty, as Flask would find it
        max_age = app.permanent_session_lifetime.total_seconds()
        known = self.sessions.get(value)
        if known is None:
            serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
            try:
                known = serializer.loads(value, max_age=max_age, return_timestamp=True)
            except Exception:  # a bad signature or an old cookie: Flask starts afresh
                return None
            with self.lock:
                self.sessions[value] = known
                while len(self.sessions) > _SESSIONS_KEPT:
                    self.sessions.popitem(last=False)
        held, signed = known
        return held if time.time() - signed.timestamp() <= max_age else None

    def _session_checks_out(self, cookie_header: str) -> bool:
        """Whether the site's session cookie is one Flask would take as it is: signed by
        this app and unexpired, no message waiting to be shown (showing it changes the
        session), and, when signed in, the account checked as web.session checks it (active,
        session generation current, the session not ended)."""
        held = self._session(cookie_header)
        if not isinstance(held, dict) or "_flashes" in held:
            return False
        account = held.get(SESSION_ACCOUNT_KEY)
        if account is None:
            return True
        if not well_formed_session(account) or account[3] < time.time():
            return False
        found = self.probe.account(account[0], account[2])
        if found is None:
            return False
        generation, active, revoked = found
        return active and not revoked and generation == account[1]

    def _count(self, caller: str, shows_limits: bool) -> list[tuple[str, str]] | None:
        """Count the request as Flask-Limiter's application limit would, with the RateLimit
        headers when Flask's answer showed them; None when Flask must answer: over the
        limit, or the counters' storage in trouble."""
        if not limiter.enabled:
            return []
        counter = limiter.limiter  # Flask-Limiter's in-memory fallback while Redis is down
        if counter.storage is not limiter.storage and self._time_to_probe():
            return None  # only Flask-Limiter's own checks find Redis back
        item = _limit(str(self.app.config["READ_RATE_LIMIT"]))
        arguments = (caller, "global")
        try:
            if not counter.hit(item, *arguments):
                return None  # Flask answers the 429, with its problem document
            if not shows_limits:
                return []
            reset, remaining = counter.get_window_stats(item, *arguments)
        except StorageError as error:
            storage_outage.found(error)
            return None  # Flask-Limiter meets it too, and counts in memory from then on
        return [
            ("RateLimit-Limit", str(item.amount)),
            ("RateLimit-Remaining", str(remaining)),
            ("RateLimit-Reset", str(max(0, int(reset - time.time())))),
        ]

    def _time_to_probe(self) -> bool:
        """True once a second, for one of the requests replayed in the meantime."""
        now = time.monotonic()
        with self.lock:
            if now < self.next_probe:
                return False
            self.next_probe = now + _PROBE_SECONDS
            return True

    def _replay(
        self,
        stored: StoredAnswer,
        environ: dict[str, Any],
        limit_headers: list[tuple[str, str]],
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        started = time.perf_counter()
        request_id = request_id_for(environ.get("HTTP_X_REQUEST_ID", ""))
        environ[ROUTE_KEY] = stored.route
        fresh = [
            ("X-Request-ID", request_id),
            ("Cache-Status", "Potluck; hit; detail=replay"),
            *limit_headers,
        ]
        matches = etag_listed(environ.get("HTTP_IF_NONE_MATCH"), stored.etag)
        if matches is None:
            start_response("200 OK", [*stored.headers, *fresh])
            self._log(environ, 200, len(stored.body), started, request_id, stored.route)
            return [stored.body]
        # Without the body's own headers, as Werkzeug sends every 304 (RFC 9110, 15.4.5).
        headers = [
            (name, matches if name.lower() == "etag" else value)
            for name, value in stored.headers
            if not is_entity_header(name) or name.lower() in {"expires", "content-location"}
        ]
        start_response("304 Not Modified", [*headers, *fresh])
        self._log(environ, 304, 0, started, request_id, stored.route)
        return []

    def _log(
        self,
        environ: dict[str, Any],
        status: int,
        length: int,
        started: float,
        request_id: str,
        route: str,
    ) -> None:
        if self.app.config["ACCESS_LOG"]:
            query = environ.get("QUERY_STRING", "")
            path = environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
            address = environ.get("REMOTE_ADDR")
            log_access(address, "GET", path, status, length, started, request_id, route)


def _close_all(connections: set[Any]) -> None:
    for connection in list(connections):
        connection.close()


_limit = functools.lru_cache(maxsize=8)(parse)  # the setting's text, parsed once


def _kind_of_caller(environ: dict[str, Any]) -> str:
    """Who an answer was made for. Flask's answer to a signed-in API caller may differ in
    its headers, never in its body; a site page may depend on the cookie session itself
    (who is signed in, the CSRF token in its forms), so it is kept for that exact cookie.
    Each caller gets what Flask gave its kind."""
    bearer = "signed-in" if "HTTP_AUTHORIZATION" in environ else ""
    return f"{bearer}|cookie:{environ['HTTP_COOKIE']}" if "HTTP_COOKIE" in environ else bearer


def _kept(name: str) -> bool:
    return name.lower() not in _PER_REQUEST


def init_app(app: Flask) -> None:
    uri = str(app.config["SQLALCHEMY_DATABASE_URI"])
    in_memory = (uri.startswith("sqlite") and ":memory:" in uri) or uri in {
        "sqlite://",
        "sqlite:///",
    }
    if app.config["HOT_READS"] and not in_memory:
        app.wsgi_app = HotReads(app.wsgi_app, app)  # type: ignore[method-assign]
