"""Operation ids and OpenAPI links: how one answer leads to the next operation (create →
read → change → publish → delete, register → profile, key → revoke), for clients and for
stateful testing that follows them."""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec

_RECIPE = "/api/v1/recipes/{recipe_id}"
_CREATED_RECIPE = {"recipe_id": "$response.body#/id"}
# A write to a recipe just created: If-Match from the ETag the creation was answered with.
_CHANGE_CREATED = {**_CREATED_RECIPE, "header.If-Match": "$response.header.ETag"}
# A recipe as just read: its id from the path, and If-Match from the ETag it was sent with.
_READ_RECIPE = {"recipe_id": "$request.path.recipe_id", "header.If-Match": "$response.header.ETag"}

# Where a recipe just made (written or imported) leads.
_AFTER_CREATE = {
    "ReadRecipe": ("get", _RECIPE, _CREATED_RECIPE),
    "ChangeRecipe": ("patch", _RECIPE, _CHANGE_CREATED),
    "ReplaceRecipe": ("put", _RECIPE, _CHANGE_CREATED),
    "PublishRecipe": ("put", f"{_RECIPE}/publish", _CHANGE_CREATED),
    "UnpublishRecipe": ("delete", f"{_RECIPE}/publish", _CHANGE_CREATED),
    "UploadCover": ("put", f"{_RECIPE}/cover", _CHANGE_CREATED),
    "DeleteRecipe": ("delete", _RECIPE, _CHANGE_CREATED),
}

# (path, method, status) → {link name: (method, path, parameters)}
LINKS: dict[tuple[str, str, str], dict[str, tuple[str, str, dict[str, str]]]] = {
    ("/api/v1/recipes", "post", "201"): _AFTER_CREATE,
    ("/api/v1/recipes/import", "post", "201"): _AFTER_CREATE,
    (_RECIPE, "get", "200"): {
        "ChangeRecipe": ("patch", _RECIPE, _READ_RECIPE),
        "ReplaceRecipe": ("put", _RECIPE, _READ_RECIPE),
        "DeleteRecipe": ("delete", _RECIPE, _READ_RECIPE),
        "ReadCover": ("get", f"{_RECIPE}/cover", {"recipe_id": "$request.path.recipe_id"}),
    },
    (_RECIPE, "patch", "200"): {
        "ReadRecipe": ("get", _RECIPE, {"recipe_id": "$request.path.recipe_id"}),
        "PublishRecipe": ("put", f"{_RECIPE}/publish", {"recipe_id": "$request.path.recipe_id"}),
    },
    ("/api/v1/users", "post", "201"): {
        "ReadProfile": (
            "get",
            "/api/v1/users/{username}",
            {"username": "$response.body#/username"},
        ),
        "ListRecipes": (
            "get",
            "/api/v1/users/{username}/recipes",
            {"username": "$response.body#/username"},
        ),
    },
    ("/api/v1/me/api-keys", "post", "201"): {
        "ReadKey": ("get", "/api/v1/me/api-keys/{key_id}", {"key_id": "$response.body#/id"}),
        "RevokeKey": ("delete", "/api/v1/me/api-keys/{key_id}", {"key_id": "$response.body#/id"}),
    },
}


def operation_id(method: str, path: str) -> str:
    """`get_recipes_recipe_id` for GET /api/v1/recipes/{recipe_id}."""
    words = re.findall(r"[a-z0-9]+", path.removeprefix("/api/v1").lower())
    return "_".join([method, *words])


def declare_links(spec: APISpec) -> None:
    """Give every operation an id, and every answer in LINKS its links."""
    paths: dict[str, dict[str, Any]] = spec._paths  # apispec has no public way to edit a path
    for path, operations in paths.items():
        for method, operation in operations.items():
            if isinstance(operation, dict) and "responses" in operation:
                operation.setdefault("operationId", operation_id(method, path))
    for (path, method, status), links in LINKS.items():
        response = paths[path][method]["responses"][status]
        response["links"] = {
            name: {"operationId": operation_id(target_method, target), "parameters": parameters}
            for name, (target_method, target, parameters) in links.items()
        }
