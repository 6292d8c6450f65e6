"""The one way the server fetches from the web (recipe import, and its cover image).

Server-side request forgery is what it guards against: a URL a user gives must never make the
server reach its own network (a database, a cloud metadata service, an admin page on
loopback). So every hop of a fetch, redirects included, is resolved here, every address the
name resolves to is checked, and the connection goes to exactly the address that was checked:
the request is sent to the IP, with the name in the Host header and in TLS SNI (and the
certificate checked against the name), so no second DNS answer can slip in between check and
connect. Size, total time and redirects are capped, proxies from the environment are ignored,
and only a 2xx answer of the expected media type is returned.
"""

from __future__ import annotations

import codecs
import contextlib
import ipaddress
import re
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from flask import current_app

from potluck.services.addresses import IPAddress, Network, is_address, refusal

Expected = Literal["page", "image"]

USER_AGENT = "Potluck recipe import"
MAX_URL_LENGTH = 2048
_SHOWN_URL_LENGTH = 200
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PAGE_TYPES = ("text/html", "application/xhtml+xml")
_ACCEPT = {"page": "text/html,application/xhtml+xml;q=0.9", "image": "image/*"}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE)


class FetchError(Exception):
    """An outbound fetch gave nothing usable; `detail` says why, in words for the user."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class FetchRefused(FetchError):
    """The server does not fetch from this address (not http(s), credentials, a private
    network), so nothing was sent."""


class FetchFailed(FetchError):
    """The remote site did not give a usable answer: unreachable, an error status, the wrong
    media type, too big or too slow."""


@dataclass(frozen=True, slots=True)
class FetchLimits:
    timeout_seconds: float  # for the whole fetch, every redirect and the body included
    max_bytes: int
    max_redirects: int
    allowed_networks: tuple[Network, ...] = ()  # private networks allowed anyway (tests)
    public: bool = True  # False: nothing but the allowed networks, and no name resolved

    @classmethod
    def from_config(cls, *, max_bytes: int | None = None) -> FetchLimits:
        config = current_app.config
        return cls(
            timeout_seconds=float(config["FETCH_TIMEOUT_SECONDS"]),
            max_bytes=int(max_bytes or config["FETCH_MAX_BYTES"]),
            max_redirects=int(config["FETCH_MAX_REDIRECTS"]),
            allowed_networks=tuple(
                ipaddress.ip_network(network, strict=False)
                for network in config["FETCH_ALLOWED_NETWORKS"]
            ),
            public=bool(config["FETCH_PUBLIC"]),
        )


@dataclass(frozen=True, slots=True)
class Fetched:
    """A 2xx answer: where it finally came from (after redirects) and what it said."""

    url: str
    media_type: str
    body: bytes
    charset: str | None = None

    def text(self) -> str:
        """The body decoded by its declared charset, else a <meta charset>, else UTF-8."""
        for candidate in (self.charset, _meta_charset(self.body)):
            if candidate and _known_codec(candidate):
                return self.body.decode(candidate, errors="replace")
        return self.body.decode("utf-8", errors="replace")


def fetch_page(url: str) -> Fetched:
    """An HTML page, within the configured limits."""
    return fetch(url, "page", FetchLimits.from_config())


def fetch_image(url: str) -> Fetched:
    """An image, capped at the size of an image upload."""
    limits = FetchLimits.from_config(max_bytes=current_app.config["MAX_IMAGE_BYTES"])
    return fetch(url, "image", limits)


def fetch(url: str, expected: Expected, limits: FetchLimits) -> Fetched:
    """GET `url`, following redirects, each hop checked; raises FetchRefused or FetchFailed."""
    deadline = time.monotonic() + limits.timeout_seconds
    current, via = checked_url(url), None
    for _ in range(limits.max_redirects + 1):
        answer = _fetch_hop(current, via, expected, limits, deadline)
        if isinstance(answer, Fetched):
            return answer
        current, via = checked_url(answer, redirected_from=current), current
    raise FetchFailed(
        f"{_shown(url)} redirected more than {limits.max_redirects} times; "
        "give the address of the page itself."
    )


def checked_url(raw: str | httpx.URL, *, redirected_from: httpx.URL | None = None) -> httpx.URL:
    """The URL if it is one the server may request (http or https, a host, no credentials)."""
    where = (
        f"{_shown(redirected_from)} redirected to an address that"
        if redirected_from
        else "The address"
    )
    if len(str(raw)) > MAX_URL_LENGTH:
        raise FetchRefused(f"{where} is longer than {MAX_URL_LENGTH} characters.")
    try:
        url = httpx.URL(raw)
    except httpx.InvalidURL as error:
        raise FetchRefused(f"{where} is not a valid web address ({error}).") from None
    if url.scheme not in {"http", "https"}:
        scheme = f"a {url.scheme}: address" if url.scheme else "a relative address"
        raise FetchRefused(f"{where} is {scheme}; only http and https addresses can be fetched.")
    if url.userinfo:
        raise FetchRefused(
            f"{where} contains a user name or password; only public pages can be fetched."
        )
    if not url.raw_host:
        raise FetchRefused(f"{where} has no host name.")
    return url


def _public_addresses(
    url: httpx.URL, via: httpx.URL | None, limits: FetchLimits
) -> list[IPAddress]:
    """Every address the URL's host resolves to, once; refused if any of them is not public
    (a name that also points inside is not fetched from at all)."""
    host = url.raw_host.decode("ascii")
    port = url.port or (443 if url.scheme == "https" else 80)
    if not limits.public and not is_address(host):
        raise FetchRefused(
            f"This server fetches only from its own networks (FETCH_PUBLIC is off), by "
            f"address; {host} was not looked up."
        )
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        if isinstance(error, socket.gaierror) and error.errno in _NO_SUCH_NAME:
            raise FetchRefused(f"There is no site at {host}: the name does not resolve.") from None
        raise FetchFailed(f"Could not look up {host} ({error}); try again later.") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(answer[4][0]) for answer in answers))
    where = f"{_shown(via)} redirected to {_shown(url)}, which" if via else _shown(url)
    for address in addresses:
        reason = refusal(address, limits.allowed_networks, public=limits.public)
        if reason is not None:
            raise FetchRefused(
                f"{where} leads to {address}, {reason}; only public web sites can be fetched."
            )
    if not addresses:
        raise FetchFailed(f"{host} has no address to connect to.")
    return addresses


_NO_SUCH_NAME = frozenset(
    code for code in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None)) if code is not None
)


def _fetch_hop(
    url: httpx.URL, via: httpx.URL | None, expected: Expected, limits: FetchLimits, deadline: float
) -> Fetched | httpx.URL:
    """One request (`via` the URL that redirected here): the answer, or where it redirects."""
    failure: httpx.ConnectError | None = None
    for address in _public_addresses(url, via, limits):
        try:
            return _exchange(url, address, expected, limits, deadline)
        except httpx.ConnectError as error:
            failure = error  # the next address of the same name may answer
    raise FetchFailed(f"Could not connect to {url.host}: {failure}.")


def _exchange(
    url: httpx.URL, address: IPAddress, expected: Expected, limits: FetchLimits, deadline: float
) -> Fetched | httpx.URL:
    host = url.raw_host.decode("ascii")
    headers = {
        "Host": url.netloc.decode("ascii"),
        "User-Agent": USER_AGENT,
        "Accept": _ACCEPT[expected],
    }
    with _Watchdog(deadline) as watchdog:
        # SNI and the certificate check use the name the user gave, not the address.
        extensions: dict[str, Any] = {"trace": watchdog.trace}
        if url.scheme == "https":
            extensions["sni_hostname"] = host
        timeout = max(0.001, deadline - time.monotonic())
        try:
            # A client per hop: a pooled TLS connection must never serve another name.
            with httpx.Client(trust_env=False, follow_redirects=False, timeout=timeout) as client:
                request = client.build_request(
                    "GET", url.copy_with(host=str(address)), headers=headers, extensions=extensions
                )
                response = client.send(request, stream=True)
                try:
                    answer = _answer(url, response, expected, limits, deadline)
                finally:
                    response.close()
        except httpx.TimeoutException:
            raise _too_slow(url, limits) from None
        except httpx.HTTPError as error:
            if watchdog.fired:
                raise _too_slow(url, limits) from None
            if isinstance(error, httpx.ConnectError):
                raise
            raise FetchFailed(f"{_shown(url)} could not be read: {error}.") from None
        if watchdog.fired:  # a body without a length ends when the watchdog cuts it
            raise _too_slow(url, limits)
        return answer


class _Watchdog:
    """Shuts the connection down at the deadline. Timeouts bound each read; this bounds
    the whole, so a server that drips a byte at a time cannot hold a worker."""

    def __init__(self, deadline: float) -> None:
        self.fired = False
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace extension: learn the socket once connected (again after TLS)."""
        if event in {"connection.connect_tcp.complete", "connection.start_tls.complete"}:
            with self._lock:
                self._socket = info["return_value"].get_extra_info("socket")
                if self.fired:
                    self._shut_down()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            self._shut_down()

    def _shut_down(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):
                # The plain socket's shutdown, also under TLS: it wakes a blocked read.
                socket.socket.shutdown(self._socket, socket.SHUT_RDWR)

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()


def _answer(
    url: httpx.URL,
    response: httpx.Response,
    expected: Expected,
    limits: FetchLimits,
    deadline: float,
) -> Fetched | httpx.URL:
    status = response.status_code
    if status in _REDIRECTS and "Location" in response.headers:
        try:
            return url.join(response.headers["Location"])
        except httpx.InvalidURL:
            raise FetchFailed(f"{_shown(url)} redirected to an invalid address.") from None
    if not 200 <= status < 300:
        raise FetchFailed(
            f"{_shown(url)} answered {status} {response.reason_phrase}".rstrip()
            + "; check that the page opens without logging in."
        )
    media_type = response.headers.get("Content-Type", "").partition(";")[0].strip().lower()
    wanted = media_type in _PAGE_TYPES if expected == "page" else media_type.startswith("image/")
    if not wanted:
        what = "a web page (HTML)" if expected == "page" else "an image"
        raise FetchFailed(f"{_shown(url)} is {media_type or 'of no stated type'}, not {what}.")
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise _too_big(url, limits)
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > limits.max_bytes:
            raise _too_big(url, limits)
        if time.monotonic() > deadline:
            raise _too_slow(url, limits)
    return Fetched(str(url), media_type, bytes(body), response.charset_encoding)


def _too_big(url: httpx.URL, limits: FetchLimits) -> FetchFailed:
    return FetchFailed(f"{_shown(url)} is larger than {limits.max_bytes:,} bytes.")


def _too_slow(url: httpx.URL, limits: FetchLimits) -> FetchFailed:
    return FetchFailed(
        f"{_shown(url)} did not answer within {limits.timeout_seconds:g} seconds; try again later."
    )


def _shown(url: str | httpx.URL | None) -> str:
    text = str(url)
    return text if len(text) <= _SHOWN_URL_LENGTH else text[:_SHOWN_URL_LENGTH] + "…"


def _meta_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:4096])
    return match.group(1).decode("ascii") if match else None


def _known_codec(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True
