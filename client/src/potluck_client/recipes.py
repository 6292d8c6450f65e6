"""Recipes: lists that follow cursors, CSV pages, one recipe's life cycle with If-Match,
server-side import and covers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from .models import Image, Page, Recipe
from .session import ApiSession

RecipeRef = int | Recipe
MAX_PER_PAGE = 100


def _filters(**given: Any) -> dict[str, Any]:
    return {name: value for name, value in given.items() if value is not None}


class RecipeMethods:
    """The recipe half of `Client` (see there)."""

    session: ApiSession
    # The ETag of each recipe as this client last read or wrote it, for If-Match.
    _etags: dict[int, str]

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
