"""`recipes`: list, search, show, create, edit, publish, unpublish, delete, cover."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.markup import escape
from rich.table import Table

from ..models import Recipe
from .app import State, console, json_option, pass_state, print_json, stderr

F = TypeVar("F", bound=Callable[..., Any])
SORTS = ("created_at", "updated_at", "name", "cook_time", "num_of_servings", "relevance")


@click.group()
def recipes() -> None:
    """Read and write recipes."""


def _list_options(command: F) -> F:
    options = [
        click.option("--tag", "-t", multiple=True, help="Only with this tag (repeatable)."),
        click.option("--author", help="Only by this author (username)."),
        click.option("--max-cook-time", type=click.IntRange(1, 1440), help="In minutes."),
        click.option("--sort", type=click.Choice(SORTS), help="Sort by this field."),
        click.option("--order", type=click.Choice(("asc", "desc"))),
        click.option(
            "--limit",
            "-n",
            type=click.IntRange(min=0),
            default=20,
            show_default=True,
            help="Show at most this many (0: all of them).",
        ),
        json_option,
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _show_list(found: Iterator[Recipe], limit: int, as_json: bool) -> None:
    shown = list(itertools.islice(found, limit or None))
    if as_json:
        print_json([recipe.to_json() for recipe in shown])
        return
    table = Table("id", "name", "tags", "cook", "serves", "published", "author")
    for recipe in shown:
        table.add_row(
            str(recipe.id),
            escape(recipe.name),
            escape(", ".join(recipe.tags)),
            f"{recipe.cook_time} min" if recipe.cook_time else "",
            str(recipe.num_of_servings),
            "yes" if recipe.is_publish else "draft",
            escape(recipe.author.username) if recipe.author else "",
        )
    console().print(table)
    if not shown:
        stderr.print("No recipes found.")


def _filters(tag: tuple[str, ...], **given: Any) -> dict[str, Any]:
    return {"tag": list(tag) or None, **given}


@recipes.command("list")
@click.option("--user", "-u", "username", help="This user's recipes (yours include drafts).")
@click.option("--drafts", is_flag=True, help="Only your drafts (with --user you, or alone).")
@_list_options
@pass_state
def list_(
    state: State,
    /,
    username: str | None,
    drafts: bool,
    tag: tuple[str, ...],
    limit: int,
    as_json: bool,
    **filters: Any,
) -> None:
    """List published recipes, newest first, or a user's."""
    visibility = None
    if drafts or (username and state.settings.signed_in and username == state.username()):
        username = username or state.username()
        visibility = "private" if drafts else "all"
    client = state.client(signed_in=drafts)
    found = client.recipes(username=username, visibility=visibility, **_filters(tag, **filters))
    _show_list(found, limit, as_json)


@recipes.command()
@click.argument("query")
@_list_options
@pass_state
def search(
    state: State, /, query: str, tag: tuple[str, ...], limit: int, as_json: bool, **filters: Any
) -> None:
    """Search published recipes (name, description, ingredients, tags), best match first."""
    found = state.client().search(query, **_filters(tag, **filters))
    _show_list(found, limit, as_json)


def _show(recipe: Recipe, as_json: bool) -> None:
    if as_json:
        print_json(recipe.to_json())
        return
    out = console()
    status = "published" if recipe.is_publish else "draft"
    author = recipe.author.username if recipe.author else "?"
    title = f"[bold]{escape(recipe.name)}[/bold]  #{recipe.id} by {escape(author)} ({status})"
    out.print(title, highlight=False)
    if recipe.description:
        out.print(recipe.description, markup=False, highlight=False)
    times = [f"serves {recipe.num_of_servings}"]
    times += [f"prep {recipe.prep_time} min"] if recipe.prep_time else []
    times += [f"cook {recipe.cook_time} min"] if recipe.cook_time else []
    out.print(" · ".join(times), highlight=False)
    if recipe.tags:
        out.print("tags: " + ", ".join(recipe.tags), markup=False, highlight=False)
    if recipe.ingredients:
        out.print("\n[bold]Ingredients[/bold]")
        for line in recipe.ingredients:
            out.print(f"  - {line}", markup=False, highlight=False)
    if recipe.directions:
        out.print("\n[bold]Directions[/bold]")
        for number, step in enumerate(recipe.directions, start=1):
            out.print(f"  {number}. {step}", markup=False, highlight=False)
    if recipe.source_url:
        out.print(f"\nsource: {recipe.source_url}", markup=False, highlight=False)


@recipes.command()
@click.argument("recipe_id", type=int)
@json_option
@pass_state
def show(state: State, recipe_id: int, as_json: bool) -> None:
    """Show one recipe."""
    _show(state.client().recipe(recipe_id), as_json)


def _field_options(command: F) -> F:
    options = [
        click.option("--name", help="1 to 100 characters."),
        click.option("--description"),
        click.option("--servings", "num_of_servings", type=click.IntRange(1, 50)),
        click.option("--cook-time", type=click.IntRange(1, 1440), help="Minutes."),
        click.option("--prep-time", type=click.IntRange(1, 1440), help="Minutes."),
        click.option(
            "--ingredient", "-i", "ingredients", multiple=True, help="A line (repeatable)."
        ),
        click.option("--step", "-s", "directions", multiple=True, help="A step (repeatable)."),
        click.option("--tag", "-t", "tags", multiple=True, help="A tag (repeatable)."),
        click.option("--source-url", help="Where the recipe comes from."),
        click.option(
            "--file",
            "-f",
            "from_file",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="Take the fields from a JSON object (options override it).",
        ),
        json_option,
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _fields(from_file: Path | None, given: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if from_file is not None:
        loaded = json.loads(from_file.read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            raise click.BadParameter("The file must hold one JSON object.", param_hint="--file")
        fields.update(loaded)
    for name, value in given.items():
        if isinstance(value, tuple):
            value = list(value) or None
        if value is not None:
            fields[name] = value
    return fields


@recipes.command()
@_field_options
@click.option("--publish", is_flag=True, help="Publish it at once (else it is a draft).")
@pass_state
def create(
    state: State, /, from_file: Path | None, publish: bool, as_json: bool, **given: Any
) -> None:
    """Write a new recipe (a draft unless --publish).

    Example: potluck-client recipes create --name "Tomato Soup" -i "1 kg tomatoes" -s Simmer.
    """
    fields = _fields(from_file, given)
    if "name" not in fields:
        raise click.UsageError("A recipe needs --name (or a name in --file).")
    client = state.client(signed_in=True)
    recipe = client.create_recipe(fields)
    if publish:
        client.publish(recipe.id)
        recipe = client.recipe(recipe.id)
    if as_json:
        print_json(recipe.to_json())
    else:
        stderr.print(f"Created recipe #{recipe.id}: {escape(recipe.name)}", highlight=False)
        click.echo(recipe.id)


@recipes.command()
@click.argument("recipe_id", type=int)
@_field_options
@pass_state
def edit(
    state: State, /, recipe_id: int, from_file: Path | None, as_json: bool, **given: Any
) -> None:
    """Change some fields of a recipe; a list option replaces the whole list.

    The change is refused (exit code 5) if the recipe changed since it was read.
    """
    changes = _fields(from_file, given)
    if not changes:
        raise click.UsageError("Nothing to change: give at least one field option.")
    recipe = state.client(signed_in=True).update_recipe(recipe_id, changes)
    if as_json:
        print_json(recipe.to_json())
    else:
        stderr.print(f"Updated recipe #{recipe.id}: {', '.join(sorted(changes))}")


@recipes.command()
@click.argument("recipe_id", type=int)
@pass_state
def publish(state: State, recipe_id: int) -> None:
    """Publish a recipe: everyone can read and find it."""
    state.client(signed_in=True).publish(recipe_id)
    stderr.print(f"Published recipe #{recipe_id}.")


@recipes.command()
@click.argument("recipe_id", type=int)
@pass_state
def unpublish(state: State, recipe_id: int) -> None:
    """Make a recipe a draft again (only you can see it)."""
    state.client(signed_in=True).unpublish(recipe_id)
    stderr.print(f"Recipe #{recipe_id} is a draft again.")


@recipes.command()
@click.argument("recipe_id", type=int)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def delete(state: State, recipe_id: int, yes: bool) -> None:
    """Delete a recipe (and its cover)."""
    client = state.client(signed_in=True)
    recipe = client.recipe(recipe_id)
    if not yes:
        click.confirm(f"Delete recipe #{recipe_id} ({recipe.name})?", abort=True)
    client.delete_recipe(recipe)
    stderr.print(f"Deleted recipe #{recipe_id}.")


@recipes.command()
@click.argument("recipe_id", type=int)
@click.argument(
    "image", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--remove", is_flag=True, help="Remove the cover.")
@click.option(
    "--download",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the cover (large WebP) to this file.",
)
@json_option
@pass_state
def cover(
    state: State,
    recipe_id: int,
    image: Path | None,
    remove: bool,
    download: Path | None,
    as_json: bool,
) -> None:
    """Upload (IMAGE: JPEG, PNG, WebP or GIF), show, download or remove a recipe's cover."""
    if image and remove:
        raise click.UsageError("Give an IMAGE to upload, or --remove, not both.")
    client = state.client(signed_in=bool(image or remove))
    if remove:
        client.remove_cover(recipe_id)
        stderr.print(f"Removed the cover of recipe #{recipe_id}.")
        return
    shown = client.upload_cover(recipe_id, image) if image else client.cover(recipe_id)
    if download is not None:
        download.write_bytes(client.download(shown.large))
        stderr.print(f"Saved {escape(str(download))}.")
    if as_json:
        print_json(asdict(shown))
    else:
        click.echo(
            f"large: {client.base_url}{shown.large}\nthumbnail: {client.base_url}{shown.thumbnail}"
        )
