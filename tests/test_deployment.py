"""The scaled-out topology, proven: nginx (TLS, HTTP/2) in front of two `potluck serve`
instances that share one PostgreSQL database, one Redis and one media directory, started once
for the module by deploy/up.sh itself (what `make up` runs) on free ports, and stopped by
deploy/down.sh. It runs on the PostgreSQL pass (TEST_DATABASE_URL and TEST_REDIS_URL set);
under CI=true a missing nginx fails it instead of skipping."""

from __future__ import annotations

import io
import os
import re
import socket
import ssl
from collections.abc import Iterator

import httpx
import pytest
import redis
from conftest import RECIPE, throwaway_postgres_database
from deployment import PASSWORD, Topology, deployed
from PIL import Image

pytestmark = pytest.mark.skipif(
    not (os.environ.get("TEST_DATABASE_URL") and os.environ.get("TEST_REDIS_URL")),
    reason="the scaled-out topology runs on the PostgreSQL pass (make test-postgres)",
)

READ_LIMIT = 40
# The hidden CSRF field of a site form.
_CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*\svalue="([^"]+)"')


@pytest.fixture(scope="module")
def topology() -> Iterator[Topology]:
    redis_url = os.environ["TEST_REDIS_URL"].rsplit("/", 1)[0] + "/5"  # the tests flush /0
    with redis.Redis.from_url(redis_url) as connection:
        connection.flushdb()
    with throwaway_postgres_database("potluck_deploy") as database_url:
        settings = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "READ_RATE_LIMIT": f"{READ_LIMIT} per minute",
        }
        with deployed(settings) as topology:
            yield topology


def _png() -> bytes:
    image = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 60, 20)).save(image, "PNG")
    return image.getvalue()


def _published_recipe(topology: Topology, headers: dict[str, str], via: str) -> int:
    with topology.client() as client:
        created = client.post(f"{via}/api/v1/recipes", json=RECIPE, headers=headers)
        assert created.status_code == 201, created.text
        recipe_id: int = created.json()["id"]
        published = client.put(f"{via}/api/v1/recipes/{recipe_id}/publish", headers=headers)
        assert published.status_code == 204
    return recipe_id


def test_nginx_speaks_tls_with_http2_and_redirects_plain_http(topology: Topology) -> None:
    verify = ssl.create_default_context(cafile=topology.deploy_dir / "tls" / "ca.crt")
    verify.set_alpn_protocols(["h2", "http/1.1"])
    port = int(topology.public.rsplit(":", 1)[1])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        verify.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.selected_alpn_protocol() == "h2"

    with topology.client() as client:
        plain = client.get(f"http://127.0.0.1:{topology.http_port}/api/v1/recipes?page=1")
        assert plain.status_code == 301
        assert plain.headers["Location"] == f"{topology.public}/api/v1/recipes?page=1"
        secure = client.get(f"{topology.public}/api/v1/recipes")
    assert secure.status_code == 200
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_a_recipe_written_on_one_instance_is_read_revalidated_and_fresh_on_the_other(
    topology: Topology,
) -> None:
    one, other = topology.instances
    chef = topology.login("chef")
    recipe_id = _published_recipe(topology, chef, via=one)
    path = f"/api/v1/recipes/{recipe_id}"

    with topology.client("127.0.0.31") as anonymous:
        first = anonymous.get(f"{other}{path}")
        assert first.status_code == 200
        assert first.json()["name"] == RECIPE["name"]
        etag = first.headers["ETag"]
        again = anonymous.get(f"{other}{path}")
        assert "hit" in again.headers["Cache-Status"]
        assert again.headers["ETag"] == etag
        unchanged = anonymous.get(f"{other}{path}", headers={"If-None-Match": etag})
        assert unchanged.status_code == 304
        assert unchanged.headers["ETag"] == etag
        proxied = anonymous.get(f"{topology.public}{path}", headers={"If-None-Match": etag})
        assert proxied.status_code == 304

        with topology.client() as client:
            edited = client.patch(
                f"{one}{path}",
                json={"name": "Roasted Tomato Soup"},
                headers={**chef, "If-Match": etag},
            )
        assert edited.status_code == 200, edited.text

        # The other instance and both behind nginx (round robin) answer the new version at
        # once: no stale replay, no stale 304.
        for base in (other, topology.public, topology.public, one):
            fresh = anonymous.get(f"{base}{path}", headers={"If-None-Match": etag})
            assert fresh.status_code == 200, base
            assert fresh.json()["name"] == "Roasted Tomato Soup"
            assert fresh.headers["ETag"] != etag


def test_a_token_revoked_on_one_instance_is_refused_by_the_other(topology: Topology) -> None:
    one, other = topology.instances
    sous = topology.login("sous")
    with topology.client() as client:
        for base in topology.instances:
            assert client.get(f"{base}/api/v1/me", headers=sous).status_code == 200
        assert client.delete(f"{one}/api/v1/tokens", headers=sous).status_code == 204
        for base in (other, topology.public, topology.public):
            refused = client.get(f"{base}/api/v1/me", headers=sous)
            assert refused.status_code == 401, base
            assert "WWW-Authenticate" in refused.headers


def _signed_in_cookie(client: httpx.Client, base: str, username: str) -> str:
    """Log in through the site's form on `base`; the Cookie header of the session."""
    form = client.get(f"{base}/account/login")
    token = _CSRF_FIELD.search(form.text)
    assert token, form.text
    answer = client.post(
        f"{base}/account/login",
        data={"csrf_token": token.group(1), "login": username, "password": PASSWORD},
        headers={"Cookie": f"session={form.cookies['session']}"},
    )
    assert answer.status_code == 303, answer.text
    return f"session={answer.cookies['session']}"


def test_a_site_session_ended_on_one_instance_is_refused_by_the_other(
    topology: Topology,
) -> None:
    one, other = topology.instances
    with topology.client() as client:
        cookie = _signed_in_cookie(client, one, "chef")
        for _ in range(3):  # later ones may be replayed to this session: they still ask
            mine = client.get(f"{other}/my/recipes", headers={"Cookie": cookie})
            assert mine.status_code == 200
            assert "Log out" in mine.text
            if "session" in mine.cookies:  # the session as this page left it (its CSRF token)
                cookie = f"session={mine.cookies['session']}"
        token = _CSRF_FIELD.search(mine.text)
        assert token
        ended = client.post(
            f"{one}/account/logout",
            data={"csrf_token": token.group(1)},
            headers={"Cookie": cookie},
        )
        assert ended.status_code == 303
        for base in (other, one):
            refused = client.get(f"{base}/my/recipes", headers={"Cookie": cookie})
            assert refused.status_code == 303, base  # to the login page: a copy is worthless
            assert "/account/login" in refused.headers["Location"]


def test_rate_limits_add_up_across_instances(topology: Topology) -> None:
    with topology.client("127.0.0.41") as client:
        for count in range(1, READ_LIMIT + 1):
            base = topology.instances[count % 2]
            response = client.get(f"{base}/api/v1/tags")
            assert response.status_code == 200, count
            assert response.headers["RateLimit-Remaining"] == str(READ_LIMIT - count)
        for base in topology.instances:
            refused = client.get(f"{base}/api/v1/tags")
            assert refused.status_code == 429
            assert int(refused.headers["Retry-After"]) > 0


def _limited_addresses(topology: Topology) -> set[str]:
    with redis.Redis.from_url(topology.setting("REDIS_URL")) as connection:
        keys = [key.decode() for key in connection.scan_iter("*ip:*")]
    return {key.split("ip:", 1)[1].split("/", 1)[0] for key in keys}


def test_the_app_believes_forwarded_headers_from_nginx_only(topology: Topology) -> None:
    one = topology.instances[0]
    # Through nginx a client's own X-Forwarded-For changes nothing: every request counts
    # against its connection's address, which nginx forwards.
    with topology.client("127.0.0.51") as client:
        for count in range(READ_LIMIT):
            spoofed = {"X-Forwarded-For": f"203.0.113.{count}"}
            response = client.get(f"{topology.public}/api/v1/tags", headers=spoofed)
            assert response.status_code == 200, count
        refused = client.get(f"{topology.public}/api/v1/tags", headers=spoofed)
        assert refused.status_code == 429
    # ...while another client behind the same nginx has a counter of its own.
    with topology.client("127.0.0.52") as client:
        response = client.get(f"{topology.public}/api/v1/tags")
        assert response.headers["RateLimit-Remaining"] == str(READ_LIMIT - 1)
        # The scheme too: a session cookie is Secure when the client came over HTTPS.
        page = client.get(f"{topology.public}/account/login")
        assert "secure" in page.headers["Set-Cookie"].lower()

    forged = {"X-Forwarded-For": "203.0.113.99", "X-Forwarded-Proto": "https"}
    # A direct client that is not a trusted proxy is believed in nothing it forwards.
    with topology.client("127.0.0.53") as client:
        page = client.get(f"{one}/account/login", headers=forged)
        assert "secure" not in page.headers["Set-Cookie"].lower()
    # The proxy's address is (TRUSTED_PROXIES=127.0.0.1).
    with topology.client("127.0.0.1") as client:
        page = client.get(f"{one}/account/login", headers={"X-Forwarded-Proto": "https"})
        assert "secure" in page.headers["Set-Cookie"].lower()

    seen = _limited_addresses(topology)
    assert {"127.0.0.51", "127.0.0.52", "127.0.0.53"} <= seen
    assert not any(address.startswith("203.0.113.") for address in seen), seen


def test_media_is_served_by_nginx_from_the_shared_directory(topology: Topology) -> None:
    one, other = topology.instances
    chef = topology.login("chef")
    recipe_id = _published_recipe(topology, chef, via=one)
    with topology.client() as client:
        uploaded = client.put(
            f"{other}/api/v1/recipes/{recipe_id}/cover",
            files={"cover": ("cover.png", _png(), "image/png")},
            headers=chef,
        )
        assert uploaded.status_code == 201, uploaded.text
        url = uploaded.json()["large"]
        name = url.removeprefix("/media/")

        served = client.get(f"{topology.public}{url}")
        assert served.status_code == 200
        assert served.headers["Content-Type"] == "image/webp"
        assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert served.content == (topology.deploy_dir / "media" / name).read_bytes()
        # nginx answered from disk: the app puts an X-Request-ID on every answer it gives.
        assert "X-Request-ID" not in served.headers
        assert "X-Request-ID" in client.get(f"{one}{url}").headers
        revalidated = client.get(
            f"{topology.public}{url}", headers={"If-None-Match": served.headers["ETag"]}
        )
        assert revalidated.status_code == 304
        # Only the names the app writes: never a half-written upload or another file.
        (topology.deploy_dir / "media" / ".upload-x").write_bytes(b"partial")
        assert client.get(f"{topology.public}/media/.upload-x").status_code == 404
