"""The recipe editor on the site: write, edit (a concurrent edit is detected), cover,
publish, delete, import from a link, and my recipes; only the author may change a recipe."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from conftest import csrf_token, errors_beside, submit
from flask.testing import FlaskClient
from PIL import Image

from potluck.services import recipe_import
from potluck.services.recipe_import import ImportedRecipe

HOSTILE = '<script>alert("x")</script>'
FORM = {
    "name": "Tomato Soup",
    "description": "Quick.",
    "num_of_servings": "4",
    "prep_time": "10",
    "cook_time": "30",
    "ingredients": "1 kg tomatoes\r\n1 onion\r\n\r\n",
    "directions": "Chop.\nSimmer.",
    "tags": "Soup, vegetarian, ",
    "source_url": "https://example.com/soup",
}
LABELS = (
    "Name",
    "Description",
    "Servings",
    "Prep time (minutes)",
    "Cook time (minutes)",
    "Ingredients",
    "Directions",
    "Tags",
    "Source URL",
)


def text(response: Any) -> str:
    body: str = response.get_data(as_text=True)
    return body


def version_on(client: FlaskClient, recipe_id: int) -> str:
    page = text(client.get(f"/recipes/{recipe_id}/edit"))
    match = re.search(r'name="version" type="hidden" value="([^"]*)"', page)
    assert match, page
    return match.group(1).replace("&#34;", '"')


def save(client: FlaskClient, recipe_id: int, version: str, **fields: str) -> Any:
    path = f"/recipes/{recipe_id}/edit"
    return submit(client, path, {**FORM, "version": version, **fields}, page=path)


def png(colour: tuple[int, int, int] = (200, 80, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 40), colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def alice(
    client: FlaskClient, auth_headers: dict[str, str], site_login: Callable[[str], None]
) -> dict[str, str]:
    """Alice, signed in on the site; her API headers."""
    site_login("alice")
    return auth_headers


def test_write_a_recipe(client: FlaskClient, alice: dict[str, str]) -> None:
    page = client.get("/recipes/new")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    for label in LABELS:
        assert f">{label}</label>" in text(page)
    assert "Save recipe</button>" in text(page)
    created = submit(client, "/recipes/new", FORM, page="/recipes/new")
    assert created.status_code == 303
    recipe_id = int(created.headers["Location"].split("/")[2])
    assert created.headers["Location"] == f"/recipes/{recipe_id}/edit"
    recipe = client.get(f"/api/v1/recipes/{recipe_id}", headers=alice).json
    assert recipe["is_publish"] is False
    assert recipe["ingredients"] == ["1 kg tomatoes", "1 onion"]
    assert recipe["directions"] == ["Chop.", "Simmer."]
    assert recipe["tags"] == ["soup", "vegetarian"]
    assert (recipe["num_of_servings"], recipe["prep_time"], recipe["cook_time"]) == (4, 10, 30)
    edit = text(client.get(f"/recipes/{recipe_id}/edit"))
    assert "Draft" in edit
    assert "1 kg tomatoes\n1 onion</textarea>" in edit


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("name", "n" * 101),
        ("num_of_servings", "51"),
        ("num_of_servings", "four"),
        ("prep_time", "0"),
        ("cook_time", "1441"),
        ("tags", "ok, <b>bad</b>"),
        ("source_url", "javascript:alert(1)"),
        ("description", "d" * 1001),
        ("ingredients", "x" * 501),
    ],
)
def test_bad_fields_are_422_beside_the_field_and_nothing_is_saved(
    client: FlaskClient, alice: dict[str, str], field: str, value: str
) -> None:
    response = submit(client, "/recipes/new", {**FORM, field: value}, page="/recipes/new")
    assert response.status_code == 422
    assert response.headers["Cache-Control"] == "no-store"
    assert errors_beside(response, field)
    assert (
        client.get("/api/v1/users/alice/recipes?visibility=all", headers=alice).json["total"] == 0
    )


def test_hostile_input_is_stored_as_typed_and_shown_escaped(
    client: FlaskClient, alice: dict[str, str]
) -> None:
    fields = {
        "name": HOSTILE,
        "description": HOSTILE,
        "ingredients": HOSTILE,
        "directions": HOSTILE,
        "source_url": "https://example.com/?q=%3Cscript%3E&a=\"'",
    }
    created = submit(client, "/recipes/new", {**FORM, **fields}, page="/recipes/new")
    assert created.status_code == 303
    for path in (created.headers["Location"], "/my/recipes"):
        page = text(client.get(path))
        assert HOSTILE not in page
        assert "&lt;script&gt;" in page
    refused = submit(client, "/recipes/new", {**FORM, "tags": HOSTILE}, page="/recipes/new")
    assert refused.status_code == 422
    assert HOSTILE not in text(refused)


def test_edit_with_the_loaded_version_and_a_concurrent_edit_is_409(
    client: FlaskClient, alice: dict[str, str], make_recipe: Callable[..., dict[str, Any]]
) -> None:
    recipe = make_recipe(alice, publish=False)
    version = version_on(client, recipe["id"])
    saved = save(client, recipe["id"], version, name="Better Soup", cook_time="")
    assert saved.status_code == 303
    assert saved.headers["Location"] == f"/recipes/{recipe['id']}/edit"
    now = client.get(f"/api/v1/recipes/{recipe['id']}", headers=alice).json
    assert (now["name"], now["cook_time"]) == ("Better Soup", None)

    stale = version_on(client, recipe["id"])
    patched = client.patch(
        f"/api/v1/recipes/{recipe['id']}", json={"name": "Changed elsewhere"}, headers=alice
    )
    assert patched.status_code == 200
    conflict = save(client, recipe["id"], stale, name="Mine")
    assert conflict.status_code == 409
    page = text(conflict)
    assert "Someone changed this recipe meanwhile" in page
    assert 'value="Mine"' in page  # nothing the cook typed is lost
    saved = page.split('class="saved-version"', 1)[1].split("</section>", 1)[0]
    assert "<dt>Name</dt><dd>Changed elsewhere</dd>" in saved  # the saved recipe beside it
    assert "Better Soup" not in saved  # only what differs
    current = version_on(client, recipe["id"])
    assert current in page.replace("&#34;", '"')  # the form now names the saved version
    assert save(client, recipe["id"], "", name="No version").status_code == 409
    after = client.get(f"/api/v1/recipes/{recipe['id']}", headers=alice).json
    assert after["name"] == "Changed elsewhere"
    # Saving again replaces the saved recipe knowingly.
    assert save(client, recipe["id"], current, name="Mine").status_code == 303
    assert client.get(f"/api/v1/recipes/{recipe['id']}", headers=alice).json["name"] == "Mine"


def test_only_the_author_may_edit(
    client: FlaskClient,
    alice: dict[str, str],
    other_headers: dict[str, str],
    make_recipe: Callable[..., dict[str, Any]],
) -> None:
    published = make_recipe(other_headers)
    draft = make_recipe(other_headers, publish=False)
    for recipe, status in ((published, 403), (draft, 404)):
        rid = recipe["id"]
        assert client.get(f"/recipes/{rid}/edit").status_code == status
        assert client.get(f"/recipes/{rid}/delete").status_code == status
        for path in (
            f"/recipes/{rid}/edit",
            f"/recipes/{rid}/edit/publish",
            f"/recipes/{rid}/edit/unpublish",
            f"/recipes/{rid}/edit/cover/remove",
            f"/recipes/{rid}/delete",
        ):
            answer = submit(client, path, {**FORM, "version": '"x"'})
            assert answer.status_code == status, path
            assert answer.mimetype == "text/html"
    still = client.get(f"/api/v1/recipes/{published['id']}", headers=other_headers).json
    assert still["name"] == "Tomato Soup"
    assert still["is_publish"] is True


def test_cover_upload_shows_the_stored_cover_and_removal(
    client: FlaskClient, alice: dict[str, str], make_recipe: Callable[..., dict[str, Any]]
) -> None:
    recipe = make_recipe(alice, publish=False)
    path = f"/recipes/{recipe['id']}/edit"
    page = text(client.get(path))
    assert ">Cover image</label>" in page
    assert "Upload cover</button>" in page
    uploaded = client.post(
        f"{path}/cover",
        data={"csrf_token": csrf_token(client, path), "cover-image": (io.BytesIO(png()), "c.png")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 303
    assert uploaded.headers["Location"] == path
    cover = client.get(f"/api/v1/recipes/{recipe['id']}", headers=alice).json["cover"]
    assert cover["thumbnail"] in text(client.get(path))

    for upload in ((io.BytesIO(b"GIF89a not really"), "x.gif"), None):
        data: dict[str, Any] = {"csrf_token": csrf_token(client, path)}
        if upload:
            data["cover-image"] = upload
        refused = client.post(f"{path}/cover", data=data, content_type="multipart/form-data")
        assert refused.status_code == 422
        assert errors_beside(refused, "cover-image")
    assert client.get(f"/api/v1/recipes/{recipe['id']}", headers=alice).json["cover"] == cover

    removed = submit(client, f"{path}/cover/remove", page=path)
    assert removed.status_code == 303
    assert client.get(f"/api/v1/recipes/{recipe['id']}", headers=alice).json["cover"] is None


def test_publish_unpublish_and_delete(
    client: FlaskClient, alice: dict[str, str], make_recipe: Callable[..., dict[str, Any]]
) -> None:
    recipe = make_recipe(alice, publish=False)
    rid = recipe["id"]
    assert "Publish</button>" in text(client.get(f"/recipes/{rid}/edit"))
    published = submit(client, f"/recipes/{rid}/edit/publish")
    assert published.status_code == 303
    assert published.headers["Location"] == f"/recipes/{rid}/edit"
    assert client.get(f"/api/v1/recipes/{rid}").status_code == 200  # public now
    assert "Unpublish</button>" in text(client.get(f"/recipes/{rid}/edit"))
    assert submit(client, f"/recipes/{rid}/edit/unpublish").status_code == 303
    assert client.get(f"/api/v1/recipes/{rid}").status_code == 404

    confirm = client.get(f"/recipes/{rid}/delete")
    assert confirm.status_code == 200
    assert "Delete “Tomato Soup”?" in text(confirm)
    assert "Delete recipe</button>" in text(confirm)
    deleted = submit(client, f"/recipes/{rid}/delete", page=f"/recipes/{rid}/delete")
    assert deleted.status_code == 303
    assert deleted.headers["Location"] == "/my/recipes"
    assert client.get(f"/api/v1/recipes/{rid}", headers=alice).status_code == 404
    assert client.get(f"/recipes/{rid}/edit").status_code == 404


def test_import_from_a_link_makes_a_draft_and_errors_go_beside_the_url(
    client: FlaskClient, alice: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = submit(
        client, "/recipes/new/import", {"import-url": "http://10.0.0.1/soup"}, page="/recipes/new"
    )
    assert refused.status_code == 422
    assert errors_beside(refused, "import-url")
    empty = submit(client, "/recipes/new/import", {"import-url": ""}, page="/recipes/new")
    assert empty.status_code == 422
    assert errors_beside(empty, "import-url")

    page = ImportedRecipe({"name": "Imported Soup", "ingredients": ["1 leek"]}, None)
    monkeypatch.setattr(recipe_import, "read_recipe", lambda url: page)
    imported = submit(
        client, "/recipes/new/import", {"import-url": "https://example.com/r"}, page="/recipes/new"
    )
    assert imported.status_code == 303
    rid = int(imported.headers["Location"].split("/")[2])
    assert imported.headers["Location"] == f"/recipes/{rid}/edit"
    draft = client.get(f"/api/v1/recipes/{rid}", headers=alice).json
    assert (draft["name"], draft["is_publish"]) == ("Imported Soup", False)


def test_my_recipes_lists_drafts_marked_and_pages(
    client: FlaskClient,
    alice: dict[str, str],
    other_headers: dict[str, str],
    make_recipe: Callable[..., dict[str, Any]],
) -> None:
    make_recipe(other_headers, name="Not mine")
    make_recipe(alice, name="Published one")
    for number in range(20):
        make_recipe(alice, publish=False, name=f"Draft {number}")
    first = client.get("/my/recipes")
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "private, no-cache"
    body = text(first)
    assert "21 recipes" in body
    assert "Draft 19" in body
    assert "Not mine" not in body
    assert body.count('class="badge">Draft') == 20
    assert "/my/recipes?page=2" in body
    second = text(client.get("/my/recipes?page=2"))
    assert "Published one" in second
    assert re.search(r"/recipes/\d+/edit", second)
    assert client.get("/my/recipes?page=0").status_code == 400
    assert client.get("/my/recipes?page=x").status_code == 400
