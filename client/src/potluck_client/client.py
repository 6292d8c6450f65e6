"""`Client`: the Potluck API as Python methods, typed models and exceptions."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from .models import ApiKey, Image, Page, Recipe, TokenPair, User
from .retries import RetryPolicy
from .session import ApiSession

RecipeRef = int | Recipe
MAX_PER_PAGE = 100


def _filters(**given: Any) -> dict[str, Any]:
    return {name: value for name, value in given.items() if value is not None}


class Client:
    """A client for one Potluck server, signed in with an API key or a token (or neither,
    for public reads). Use it as a context manager, or call `close()`.

    Example:
        >>> with Client("http://127.0.0.1:8000", api_key="pk_...") as client:
        ...     soup = client.create_recipe(name="Tomato Soup", ingredients=["1 kg tomatoes"])
        ...     client.publish(soup.id)

    Every POST carries a fresh `Idempotency-Key`, reused by its retries, so a retry never
    writes twice. Connection errors, 429 and 503 are retried as `retry` says, waiting what
    `Retry-After` asks (`sleep` does the waiting; tests pass their own). Edits send
    `If-Match` with the ETag this client last read, so an edit made meanwhile by someone
    else is a `PreconditionFailed` instead of being overwritten. A GET this client made
    before is revalidated with `If-None-Match`, and a 304 reuses the body it holds. With a
    `refresh_token`, a 401 trades it for new tokens once (passed to `on_tokens`) and retries.

    A PATCH, PUT or DELETE whose answer was lost and that is sent again can then find its
    own change and be refused with `PreconditionFailed`: read the recipe again to see.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        token: str | None = None,
        refresh_token: str | None = None,
        on_tokens: Callable[[TokenPair], None] | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.session = ApiSession(
            base_url,
            api_key=api_key,
            token=token,
            refresh_token=refresh_token,
            on_tokens=on_tokens,
            retry=retry,
            sleep=sleep,
            transport=transport,
            timeout=timeout,
        )
        # The ETag of each recipe as this client last read or wrote it, for If-Match.
        self._etags: dict[int, str] = {}

    @property
    def base_url(self) -> str:
        """The server's root URL. Example: ``Client("http://h:8000/api/v1").base_url == "http://h:8000"``"""
        return self.session.root

    @property
    def revalidated(self) -> int:
        """How many GETs a 304 answered from a body this client held.

        Example:
            >>> client.recipe(51); client.recipe(51); client.revalidated
            1
        """
        return self.session.revalidated

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections. Example: ``client.close()``"""
        self.session.close()

    # Accounts and credentials

    def register(self, username: str, email: str, password: str) -> User:
        """Create an account (it can log in once its email address is confirmed).

        Example:
            >>> client.register("sam", "sam@example.com", "a long passphrase")
        """
        body = {"username": username, "email": email, "password": password}
        return User.from_json(self.session.request("POST", "/users", body=body).json())

    def login(self, username: str, password: str) -> TokenPair:
        """Log in: this client then uses the access token, and refreshes it when it expires.

        Example:
            >>> tokens = client.login("sam", "a long passphrase")
        """
        body = {"username": username, "password": password}
        answer = self.session.request("POST", "/tokens", body=body, authorization="")
        tokens = TokenPair.from_json(answer.json())
        self.session.set_tokens(tokens)
        return tokens

    def refresh(self) -> TokenPair:
        """Trade the refresh token for a new pair now (a 401 does it by itself).

        Example:
            >>> client.refresh().access_token
        """
        return self.session.refresh()

    def logout(self) -> None:
        """Revoke the access token and the refresh token.

        Example:
            >>> client.logout()
        """
        body = {"refresh_token": self.session.refresh_token} if self.session.refresh_token else {}
        self.session.request("DELETE", "/tokens", body=body, refresh=False)
        self.session.token = self.session.refresh_token = None

    def me(self) -> User:
        """The signed-in user, email included. Example: ``client.me().username``"""
        return User.from_json(self.session.request("GET", "/me").json())

    def user(self, username: str) -> User:
        """A user's public profile. Example: ``client.user("sam").display_name``"""
        answer = self.session.request("GET", f"/users/{quote(username, safe='')}")
        return User.from_json(answer.json())

    def api_keys(self) -> list[ApiKey]:
        """Your API keys, without their secrets. Example: ``[k.name for k in client.api_keys()]``"""
        return [ApiKey.from_json(key) for key in self.session.request("GET", "/me/api-keys").json()]

    def create_api_key(
        self, name: str, scope: str = "read", expires_at: datetime | None = None
    ) -> ApiKey:
        """Create an API key (needs a login, not a key); its `key` is shown this once.

        Example:
            >>> secret = client.create_api_key("backup", scope="write").key
        """
        body = {"name": name, "scope": scope, "expires_at": expires_at and expires_at.isoformat()}
        return ApiKey.from_json(self.session.request("POST", "/me/api-keys", body=body).json())

    def revoke_api_key(self, key_id: int) -> None:
        """Revoke an API key: it stops working at once. Example: ``client.revoke_api_key(3)``"""
        self.session.request("DELETE", f"/me/api-keys/{key_id}")

    # Lists

    def _pages(self, path: str, params: Mapping[str, Any]) -> Iterator[Page[Recipe]]:
        cursor: str | None = None
        while True:
            query = {**params, **({"cursor": cursor} if cursor else {})}
            data = self.session.request("GET", path, params=query).json()
            page = Page(
                items=[Recipe.from_json(item) for item in data["data"]],
                total=data["total"],
                per_page=data["per_page"],
                next_cursor=data.get("next_cursor"),
                page=data.get("page"),
            )
            yield page
            if not page.next_cursor or not page.items:
                return
            cursor = page.next_cursor

    def recipe_pages(
        self,
        q: str | None = None,
        *,
        username: str | None = None,
        visibility: str | None = None,
        tag: list[str] | None = None,
        author: str | None = None,
        max_cook_time: int | None = None,
        sort: str | None = None,
        order: str | None = None,
        per_page: int = MAX_PER_PAGE,
    ) -> Iterator[Page[Recipe]]:
        """Pages of published recipes (or of `username`'s, with `visibility` "all" or
        "private" for your own drafts), following `next_cursor` to the end.

        Example:
            >>> first = next(client.recipe_pages(q="soup", per_page=10))
            >>> print(first.total, [r.name for r in first.items])
        """
        params = _filters(
            q=q,
            tag=tag,
            author=author,
            max_cook_time=max_cook_time,
            sort=sort,
            order=order,
            per_page=per_page,
        )
        if username is None:
            return self._pages("/recipes", params)
        params.update(_filters(visibility=visibility))
        return self._pages(f"/users/{quote(username, safe='')}/recipes", params)

    def recipes(self, q: str | None = None, **filters: Any) -> Iterator[Recipe]:
        """Every recipe of a list, page after page as you iterate (the filters of
        `recipe_pages`).

        Example:
            >>> for recipe in client.recipes(tag=["soup"], sort="name", order="asc"):
            ...     print(recipe.name)
        """
        for page in self.recipe_pages(q, **filters):
            yield from page.items

    def search(self, q: str, **filters: Any) -> Iterator[Recipe]:
        """Published recipes matching `q`, best match first.

        Example:
            >>> names = [r.name for r in itertools.islice(client.search("tomato"), 5)]
        """
        filters.setdefault("sort", "relevance")
        return self.recipes(q, **filters)

    def recipes_csv(self, username: str | None = None, **filters: Any) -> Iterator[str]:
        """A list as CSV text (the server's columns), one chunk a page, the header once.

        Example:
            >>> with open("recipes.csv", "w", newline="") as out:
            ...     out.writelines(client.recipes_csv(tag=["soup"]))
        """
        path = "/recipes" if username is None else f"/users/{quote(username, safe='')}/recipes"
        params: Mapping[str, Any] | None = _filters(per_page=MAX_PER_PAGE, **filters)
        first = True
        while path:
            answer = self.session.request(
                "GET", path, params=params, headers={"Accept": "text/csv"}
            )
            text = answer.text
            yield text if first else text.partition("\r\n")[2]
            first, params = False, None
            path = answer.links.get("next", {}).get("url", "")

    # One recipe

    def _recipe(self, answer: httpx.Response) -> Recipe:
        recipe = Recipe.from_json(answer.json(), answer.headers.get("ETag"))
        if recipe.etag:
            self._etags[recipe.id] = recipe.etag
        return recipe

    def recipe(self, recipe_id: int) -> Recipe:
        """One recipe (a draft only for its author); remembered for `If-Match` on edits.

        Example:
            >>> client.recipe(51).ingredients
            ['1 kg tomatoes', '1 onion']
        """
        return self._recipe(self.session.request("GET", f"/recipes/{recipe_id}"))

    def create_recipe(self, fields: Mapping[str, Any] | None = None, /, **more: Any) -> Recipe:
        """Write a recipe (a draft until published): `name` is required; `description`,
        `num_of_servings`, `cook_time`, `prep_time` (minutes), `ingredients`, `directions`,
        `tags` and `source_url` are optional.

        Example:
            >>> soup = client.create_recipe(name="Soup", cook_time=30, tags=["soup"])
        """
        body = {**(fields or {}), **more}
        return self._recipe(self.session.request("POST", "/recipes", body=body))

    def _if_match(self, recipe: RecipeRef) -> tuple[int, str]:
        if isinstance(recipe, Recipe) and recipe.etag:
            return recipe.id, recipe.etag
        recipe_id = recipe.id if isinstance(recipe, Recipe) else recipe
        etag = self._etags.get(recipe_id) or self.recipe(recipe_id).etag
        if etag is None:
            raise ValueError(f"Recipe {recipe_id} came without an ETag.")
        return recipe_id, etag

    def update_recipe(
        self, recipe: RecipeRef, changes: Mapping[str, Any] | None = None, /, **more: Any
    ) -> Recipe:
        """Change some fields (PATCH), provided nobody changed the recipe since this client
        (or the `Recipe` copy given) read it; else `PreconditionFailed`.

        Example:
            >>> client.update_recipe(51, cook_time=45, tags=["soup", "quick"])
        """
        recipe_id, etag = self._if_match(recipe)
        answer = self.session.request(
            "PATCH",
            f"/recipes/{recipe_id}",
            body={**(changes or {}), **more},
            headers={"If-Match": etag},
        )
        return self._recipe(answer)

    def replace_recipe(self, recipe: RecipeRef, fields: Mapping[str, Any]) -> Recipe:
        """Replace a recipe (PUT): fields left out go back to their defaults.

        Example:
            >>> client.replace_recipe(51, {"name": "Soup", "ingredients": ["water"]})
        """
        recipe_id, etag = self._if_match(recipe)
        answer = self.session.request(
            "PUT", f"/recipes/{recipe_id}", body=dict(fields), headers={"If-Match": etag}
        )
        return self._recipe(answer)

    def delete_recipe(self, recipe: RecipeRef) -> None:
        """Delete a recipe, unless it changed since this client read it.

        Example:
            >>> client.delete_recipe(51)
        """
        recipe_id, etag = self._if_match(recipe)
        self.session.request("DELETE", f"/recipes/{recipe_id}", headers={"If-Match": etag})
        self._etags.pop(recipe_id, None)

    def publish(self, recipe_id: int) -> None:
        """Publish a recipe: everyone can read and find it. Example: ``client.publish(51)``"""
        self.session.request("PUT", f"/recipes/{recipe_id}/publish")
        self._etags.pop(recipe_id, None)  # its version moved; the answer has no new ETag

    def unpublish(self, recipe_id: int) -> None:
        """Make a recipe a draft again. Example: ``client.unpublish(51)``"""
        self.session.request("DELETE", f"/recipes/{recipe_id}/publish")
        self._etags.pop(recipe_id, None)

    def import_recipe(self, url: str) -> Recipe:
        """Have the server fetch a recipe page and write it as your draft
        (``POST /recipes/import``); its `source_url` is `url`.

        Example:
            >>> client.import_recipe("https://example.com/tomato-soup")
        """
        return self._recipe(self.session.request("POST", "/recipes/import", body={"url": url}))

    # Images

    def cover(self, recipe_id: int) -> Image:
        """A recipe's cover URLs; `NotFound` when it has none.

        Example:
            >>> client.cover(51).large
            '/media/3f1c…-large.webp'
        """
        return Image.from_json(self.session.request("GET", f"/recipes/{recipe_id}/cover").json())

    def upload_cover(
        self, recipe_id: int, image: bytes | str | Path, filename: str | None = None
    ) -> Image:
        """Upload a recipe's cover (JPEG, PNG, WebP or GIF), replacing any before.

        Example:
            >>> client.upload_cover(51, "soup.jpg")
        """
        if isinstance(image, bytes):
            data, name = image, filename or "cover"
        else:
            data, name = Path(image).read_bytes(), filename or Path(image).name
        files = {"cover": (name, data, "application/octet-stream")}
        answer = self.session.request("PUT", f"/recipes/{recipe_id}/cover", files=files)
        self._etags.pop(recipe_id, None)
        return Image.from_json(answer.json())

    def remove_cover(self, recipe_id: int) -> None:
        """Remove a recipe's cover. Example: ``client.remove_cover(51)``"""
        self.session.request("DELETE", f"/recipes/{recipe_id}/cover")
        self._etags.pop(recipe_id, None)

    def download(self, url: str) -> bytes:
        """The bytes of an image (a `/media/…` path as the API gives it, or a full URL).

        Example:
            >>> Path("soup.webp").write_bytes(client.download(client.cover(51).large))
        """
        return self.session.request("GET", url).content
