"""The library against the live server: lists and cursors, one recipe's life cycle, typed
errors, If-Match, the ETag cache, API keys, covers and token refresh."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from conftest import PASSWORD, LiveServer, Sleeps, tiny_png, unique

from potluck_client import (
    Client,
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    Recipe,
    TokenPair,
    Unauthorized,
    ValidationFailed,
)


class Recording(httpx.HTTPTransport):
    """The real transport, keeping each (request, response) pair it carried."""

    def __init__(self) -> None:
        super().__init__()
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.exchanges.append((request, response))
        return response


def test_lists_follow_cursors_to_the_end(chef: Client, anonymous: Client) -> None:
    tag = unique("t")
    made = [chef.create_recipe(name=f"Cursor {n}", tags=[tag]) for n in range(5)]
    for recipe in made:
        chef.publish(recipe.id)

    pages = list(anonymous.recipe_pages(tag=[tag], per_page=2, sort="name", order="asc"))

    assert [len(page.items) for page in pages] == [2, 2, 1]
    assert all(page.total == 5 for page in pages)
    assert pages[-1].next_cursor is None
    assert pages[1].page is None  # cursor mode after the first page
    names = [recipe.name for recipe in anonymous.recipes(tag=[tag], per_page=2, sort="name")]
    assert names == sorted(f"Cursor {n}" for n in range(5))


def test_search_and_a_users_list(chef: Client, anonymous: Client) -> None:
    word = unique("w")
    draft = chef.create_recipe(name=f"Draft {word}", description=word)
    published = chef.create_recipe(name=f"Shown {word}", description=word)
    chef.publish(published.id)

    assert [r.id for r in anonymous.search(word)] == [published.id]
    mine = {r.id for r in chef.recipes(username="chef", visibility="all", q=word)}
    assert mine == {draft.id, published.id}
    drafts = {r.id for r in chef.recipes(username="chef", visibility="private", q=word)}
    assert drafts == {draft.id}
    with pytest.raises(Forbidden):
        list(anonymous.recipes(username="chef", visibility="all"))


def test_a_recipe_from_create_to_delete(chef: Client, anonymous: Client) -> None:
    created = chef.create_recipe(
        {"name": "Tomato Soup", "ingredients": "1 kg tomatoes\n1 onion"},
        cook_time=30,
        tags=["Soup"],
    )
    assert isinstance(created, Recipe)
    assert created.ingredients == ["1 kg tomatoes", "1 onion"]
    assert created.tags == ["soup"]
    assert created.is_publish is False
    assert created.author is not None
    assert created.author.username == "chef"
    assert created.etag

    with pytest.raises(NotFound):
        anonymous.recipe(created.id)  # a draft is nobody else's business
    chef.publish(created.id)
    assert anonymous.recipe(created.id).name == "Tomato Soup"

    changed = chef.update_recipe(created.id, cook_time=45)
    assert changed.cook_time == 45
    assert changed.name == "Tomato Soup"
    replaced = chef.replace_recipe(changed, {"name": "Plain Soup"})
    assert (replaced.name, replaced.cook_time, replaced.tags) == ("Plain Soup", None, [])

    chef.unpublish(created.id)
    with pytest.raises(NotFound):
        anonymous.recipe(created.id)
    chef.delete_recipe(created.id)
    with pytest.raises(NotFound):
        chef.recipe(created.id)


def test_errors_are_typed_and_carry_the_problem(
    chef: Client, sous: Client, make_client: Callable[..., Client]
) -> None:
    with pytest.raises(ValidationFailed) as invalid:
        chef.create_recipe(name="", cook_time=0)
    assert invalid.value.status == 400
    assert set(invalid.value.errors) == {"name", "cook_time"}
    assert invalid.value.problem["title"] == "Bad Request"

    recipe = chef.create_recipe(name="Mine")
    chef.publish(recipe.id)
    with pytest.raises(Forbidden) as forbidden:
        sous.update_recipe(recipe.id, name="Theirs")
    assert forbidden.value.status == 403
    assert chef.recipe(recipe.id).name == "Mine"

    with pytest.raises(NotFound) as missing:
        chef.recipe(10**9)
    assert missing.value.detail == f"There is no recipe {10**9}."

    with pytest.raises(Unauthorized) as refused:
        make_client(None, api_key="pk_not-a-key").me()
    assert refused.value.status == 401
    with pytest.raises(Conflict) as taken:
        chef.register("chef", "another@example.com", PASSWORD)
    assert taken.value.status == 409


def test_a_stale_edit_is_refused_not_lost(chef: Client, make_client: Callable[..., Client]) -> None:
    recipe = chef.create_recipe(name="Shared", cook_time=10)
    other = make_client("chef")
    other.update_recipe(recipe.id, cook_time=20)  # someone else edits meanwhile

    with pytest.raises(PreconditionFailed) as stale:
        chef.update_recipe(recipe, cook_time=99)  # `recipe` was read before that edit
    assert stale.value.status == 412
    assert chef.recipe(recipe.id).cook_time == 20
    assert chef.update_recipe(recipe.id, cook_time=30).cook_time == 30  # fresh read: fine
    with pytest.raises(PreconditionFailed):
        other.delete_recipe(recipe.id)  # other's copy is stale now
    assert chef.recipe(recipe.id).cook_time == 30


def test_a_second_read_is_revalidated_and_reuses_the_body(
    chef: Client, make_client: Callable[..., Client]
) -> None:
    recipe = chef.create_recipe(name="Cached", ingredients=["salt"])
    chef.publish(recipe.id)
    transport = Recording()
    reader = make_client(None, transport=transport)

    first = reader.recipe(recipe.id)
    second = reader.recipe(recipe.id)

    (request1, response1), (request2, response2) = transport.exchanges
    assert "If-None-Match" not in request1.headers
    assert response1.status_code == 200
    assert request2.headers["If-None-Match"] == response1.headers["ETag"]
    assert response2.status_code == 304
    assert reader.session.revalidated == 1
    assert second == first
    assert second.ingredients == ["salt"]

    chef.update_recipe(recipe.id, ingredients=["pepper"])
    third = reader.recipe(recipe.id)
    assert transport.exchanges[-1][1].status_code == 200
    assert third.ingredients == ["pepper"]


def test_api_keys_are_created_used_and_revoked(chef: Client, live_server: LiveServer) -> None:
    name = unique("key")
    key = chef.create_api_key(name, scope="read")
    assert key.key is not None
    assert key.key.startswith("pk_")
    assert name in [k.name for k in chef.api_keys()]
    with Client(live_server.url, api_key=key.key) as keyed:
        assert keyed.me().username == "chef"
        with pytest.raises(Forbidden):
            keyed.create_recipe(name="Not with a read key")
        chef.revoke_api_key(key.id)
        with pytest.raises(Unauthorized):
            keyed.me()


def test_covers_upload_show_download_remove(chef: Client, anonymous: Client) -> None:
    recipe = chef.create_recipe(name="Pictured")
    chef.publish(recipe.id)

    uploaded = chef.upload_cover(recipe.id, tiny_png(), "soup.png")
    assert uploaded.large.startswith("/media/")
    assert uploaded.width == 4
    assert anonymous.cover(recipe.id) == uploaded
    image = anonymous.download(uploaded.large)
    assert image[:4] == b"RIFF"
    assert image[8:12] == b"WEBP"
    assert anonymous.recipe(recipe.id).cover_url == uploaded.large

    chef.remove_cover(recipe.id)
    with pytest.raises(NotFound):
        anonymous.cover(recipe.id)


def test_an_expired_access_token_is_refreshed_once(
    live_server: LiveServer, tokens: dict[str, tuple[str, str]]
) -> None:
    with Client(live_server.url) as fresh:
        pair = fresh.login("sous", PASSWORD)  # its own pair: refreshing rotates it
    kept: list[TokenPair] = []
    with Client(
        live_server.url,
        token="expired.or.forged",
        refresh_token=pair.refresh_token,
        on_tokens=kept.append,
    ) as client:
        assert client.me().username == "sous"
        assert len(kept) == 1
        assert client.session.token == kept[0].access_token
        assert kept[0].refresh_token != pair.refresh_token
        client.logout()
        with pytest.raises(Unauthorized):
            client.me()  # no refresh token left to try: one 401 is the answer


class LosesFirstAnswer(Recording):
    """Carries the first POST to the server, then drops its answer, as a connection cut
    after the server committed would."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.method == "POST" and len(self.exchanges) == 1:
            response.read()
            raise httpx.ReadError("connection lost after the request was sent", request=request)
        return response


def test_a_create_retried_after_a_lost_answer_writes_one_recipe(
    make_client: Callable[..., Client], sleeps: Sleeps
) -> None:
    name = unique("Once ")
    transport = LosesFirstAnswer()
    client = make_client("chef", transport=transport, sleep=sleeps)

    created = client.create_recipe(name=name)

    (first, lost), (retried, replayed) = transport.exchanges
    assert lost.status_code == 201  # the server wrote it; the client never saw that
    assert retried.headers["Idempotency-Key"] == first.headers["Idempotency-Key"]
    assert replayed.status_code == 201
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert created.id == int(lost.headers["Location"].rsplit("/", 1)[1])
    mine = list(client.recipes(username="chef", visibility="all", q=name))
    assert [r.id for r in mine] == [created.id]
