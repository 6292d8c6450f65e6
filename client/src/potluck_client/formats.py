"""Recipes in files: the JSON export (the API's own shape, which `import` reads back) and
schema.org JSON-LD (`Recipe`, read and written)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urljoin

from .models import WRITABLE_FIELDS, Recipe

SCHEMA_ORG = "https://schema.org"
_DURATION = re.compile(
    r"^P(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


@dataclass
class ImportItem:
    """One recipe read from a file, ready to write: its fields, whether it was published,
    and a cover to copy."""

    fields: dict[str, Any]
    publish: bool = False
    cover_url: str | None = None
    label: str = field(default="")

    @property
    def source_url(self) -> str | None:
        """Where the recipe came from, if known. Example: ``item.source_url in already_imported``"""
        value = self.fields.get("source_url")
        return str(value) if value else None


def iso_duration(minutes: int | None) -> str | None:
    """Minutes as an ISO 8601 duration.

    Example:
        >>> iso_duration(90)
        'PT1H30M'
    """
    if not minutes:
        return None
    hours, rest = divmod(minutes, 60)
    return "PT" + (f"{hours}H" if hours else "") + (f"{rest}M" if rest or not hours else "")


def duration_minutes(value: Any) -> int | None:
    """An ISO 8601 duration in whole minutes (rounded up), or None.

    Example:
        >>> duration_minutes("PT1H30M")
        90
    """
    match = _DURATION.match(value.strip()) if isinstance(value, str) else None
    if not match:
        return None
    parts = {name: float(amount or 0) for name, amount in match.groupdict().items()}
    seconds = parts["days"] * 86400 + parts["hours"] * 3600 + parts["minutes"] * 60
    total = int(-(-(seconds + parts["seconds"]) // 60))
    return total or None


def to_jsonld(recipe: Recipe, base_url: str) -> dict[str, Any]:
    """A recipe as a schema.org `Recipe` node, URLs absolute under `base_url`.

    Example:
        >>> to_jsonld(recipe, "http://127.0.0.1:8000")["recipeInstructions"][0]
        {'@type': 'HowToStep', 'position': 1, 'text': 'Chop.'}
    """
    root = base_url.rstrip("/") + "/"
    url = urljoin(root, f"api/v1/recipes/{recipe.id}")
    servings = recipe.num_of_servings
    node: dict[str, Any] = {
        "@type": "Recipe",
        "@id": url,
        "url": url,
        "name": recipe.name,
        "description": recipe.description,
        "recipeIngredient": list(recipe.ingredients),
        "recipeInstructions": [
            {"@type": "HowToStep", "position": number, "text": step}
            for number, step in enumerate(recipe.directions, start=1)
        ],
        "recipeYield": f"{servings} serving{'s' if servings != 1 else ''}",
        "keywords": ", ".join(recipe.tags),
    }
    durations = {
        "cookTime": iso_duration(recipe.cook_time),
        "prepTime": iso_duration(recipe.prep_time),
        "totalTime": iso_duration((recipe.cook_time or 0) + (recipe.prep_time or 0)),
    }
    node.update({name: value for name, value in durations.items() if value})
    if recipe.author:
        username = recipe.author.username
        node["author"] = {
            "@type": "Person",
            "name": username,
            "url": urljoin(root, f"api/v1/users/{quote(username, safe='')}"),
        }
    if recipe.cover:
        node["image"] = [urljoin(root, recipe.cover.large), urljoin(root, recipe.cover.thumbnail)]
    if recipe.created_at:
        node["datePublished"] = recipe.created_at.isoformat()
    if recipe.updated_at:
        node["dateModified"] = recipe.updated_at.isoformat()
    if recipe.source_url:
        node["isBasedOn"] = recipe.source_url
    return node


def to_export(recipe: Recipe, base_url: str) -> dict[str, Any]:
    """A recipe as `export --format json` writes it: the API's JSON, its cover URL absolute
    so another server can copy it.

    Example:
        >>> to_export(recipe, "http://127.0.0.1:8000")["cover_url"]
        'http://127.0.0.1:8000/media/3f1c…-large.webp'
    """
    data = recipe.to_json()
    if recipe.cover_url:
        data["cover_url"] = urljoin(base_url.rstrip("/") + "/", recipe.cover_url)
    return data


def write_json_array(items: Iterable[dict[str, Any]], out: IO[str], prefix: str = "[") -> int:
    """Write `items` as a JSON array one at a time, so a long export never sits in memory;
    returns how many. `prefix` opens the array (inside an object, for JSON-LD's @graph).

    Example:
        >>> write_json_array(({"n": n} for n in range(3)), sys.stdout)
        3
    """
    count = 0
    out.write(prefix)
    for item in items:
        out.write(",\n  " if count else "\n  ")
        out.write(json.dumps(item, ensure_ascii=False))
        count += 1
    out.write("\n]" if count else "]")
    return count


def write_jsonld(nodes: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """Write recipe nodes as one JSON-LD document: ``{"@context": …, "@graph": [...]}``.

    Example:
        >>> write_jsonld((to_jsonld(r, url) for r in client.recipes()), out)
    """
    count = write_json_array(nodes, out, prefix=f'{{"@context": "{SCHEMA_ORG}", "@graph": [')
    out.write("}\n")
    return count


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("text") or value.get("name") or "").strip()
    return str(value).strip()


def _steps(value: Any) -> list[str]:
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    steps: list[str] = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict) and "itemListElement" in item:  # a HowToSection
            steps.extend(_steps(item["itemListElement"]))
        elif text := _text(item):
            steps.append(text)
    return steps


def _is_recipe(node: Any) -> bool:
    if not isinstance(node, dict):
        return False
    kind = node.get("@type")
    return kind == "Recipe" or (isinstance(kind, list) and "Recipe" in kind)


def jsonld_recipes(document: Any) -> Iterator[dict[str, Any]]:
    """The `Recipe` nodes of a JSON-LD document: one node, a list, or an `@graph`.

    Example:
        >>> [n["name"] for n in jsonld_recipes({"@graph": [{"@type": "Recipe", "name": "Soup"}]})]
        ['Soup']
    """
    if isinstance(document, list):
        for node in document:
            yield from jsonld_recipes(node)
    elif _is_recipe(document):
        yield document
    elif isinstance(document, dict) and "@graph" in document:
        yield from jsonld_recipes(document["@graph"])


def from_jsonld(node: dict[str, Any]) -> ImportItem:
    """A schema.org `Recipe` node as the fields of a new recipe.

    Example:
        >>> from_jsonld({"@type": "Recipe", "name": "Soup", "cookTime": "PT30M"}).fields
        {'name': 'Soup', 'cook_time': 30}
    """
    fields: dict[str, Any] = {"name": _text(node.get("name", ""))}
    if node.get("description"):
        fields["description"] = _text(node["description"])
    servings = node.get("recipeYield")
    servings = servings[0] if isinstance(servings, list) and servings else servings
    if match := re.search(r"\d+", str(servings or "")):
        fields["num_of_servings"] = int(match.group())
    for key, name in (("cookTime", "cook_time"), ("prepTime", "prep_time")):
        if minutes := duration_minutes(node.get(key)):
            fields[name] = minutes
    if ingredients := node.get("recipeIngredient"):
        fields["ingredients"] = [_text(line) for line in ingredients if _text(line)]
    if steps := _steps(node.get("recipeInstructions") or []):
        fields["directions"] = steps
    keywords = node.get("keywords") or []
    keywords = keywords.split(",") if isinstance(keywords, str) else keywords
    if tags := [str(tag).strip() for tag in keywords if str(tag).strip()]:
        fields["tags"] = tags
    source = node.get("isBasedOn") or node.get("url")
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        fields["source_url"] = source
    image = node.get("image")
    image = image[0] if isinstance(image, list) and image else image
    image = image.get("url") if isinstance(image, dict) else image
    cover = image if isinstance(image, str) else None
    return ImportItem(fields, publish=False, cover_url=cover, label=fields["name"])


def from_export(item: dict[str, Any]) -> ImportItem:
    """An item of a JSON export (or any dict with the API's recipe fields) to write again.

    Example:
        >>> from_export({"name": "Soup", "is_publish": True, "id": 4}).fields
        {'name': 'Soup'}
    """
    fields = {name: item[name] for name in WRITABLE_FIELDS if item.get(name) is not None}
    cover = item.get("cover_url")
    return ImportItem(
        fields,
        publish=bool(item.get("is_publish")),
        cover_url=cover if isinstance(cover, str) else None,
        label=str(item.get("name", "")),
    )


def read_import_file(path: Path) -> list[ImportItem]:
    """The recipes of a JSON export or a JSON-LD file: one recipe or a list of them.

    Example:
        >>> [item.label for item in read_import_file(Path("recipes.json"))]
    """
    document = json.loads(path.read_text(encoding="utf-8"))
    nodes = list(jsonld_recipes(document))
    if nodes:
        return [from_jsonld(node) for node in nodes]
    items = document if isinstance(document, list) else [document]
    if not all(isinstance(item, dict) and "name" in item for item in items):
        raise ValueError(
            f"{path} holds neither recipes (objects with a name) nor schema.org Recipe nodes."
        )
    return [from_export(item) for item in items]
