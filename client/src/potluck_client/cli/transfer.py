"""`export` (CSV, JSON, JSON-LD) and `import` (a JSON or JSON-LD file, a URL, a list of URLs)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..client import Client
from ..errors import PotluckError
from ..formats import (
    ImportItem,
    read_import_file,
    to_export,
    to_jsonld,
    write_json_array,
    write_jsonld,
)
from ..models import Recipe
from .app import EXIT_API_ERROR, State, console, json_option, pass_state, print_json, stderr


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    )


def _visibility(state: State, username: str | None) -> str | None:
    """Your own export includes your drafts."""
    if username and state.settings.signed_in and username.lower() == state.username().lower():
        return "all"
    return None


def _walk(client: Client, progress: Progress, **scope: Any) -> Iterator[Recipe]:
    task = progress.add_task("Exporting", total=None)
    for page in client.recipe_pages(**scope):
        progress.update(task, total=page.total)
        for recipe in page.items:
            yield recipe
            progress.advance(task)


def _export_csv(client: Client, out: IO[str], progress: Progress, **scope: Any) -> int:
    username = scope.pop("username")
    total = next(client.recipe_pages(username=username, per_page=1, **scope)).total
    task = progress.add_task("Exporting", total=total)
    rows = 0
    for number, chunk in enumerate(client.recipes_csv(username, **scope)):
        out.write(chunk)
        written = sum(1 for _ in csv.reader(io.StringIO(chunk))) - (number == 0)
        rows += written
        progress.advance(task, written)
    return rows


@click.command()
@click.option(
    "--format",
    "-F",
    "form",
    type=click.Choice(("csv", "json", "jsonld")),
    default="json",
    show_default=True,
    help="json reads back with import; jsonld is schema.org Recipe.",
)
@click.option("--user", "-u", "username", help="This user's recipes (yours include drafts).")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    help="Write to this file (default: stdout).",
)
@pass_state
def export(state: State, form: str, username: str | None, output: str) -> None:
    """Export every published recipe, or every recipe of --user, page by page."""
    client = state.client()
    scope: dict[str, Any] = {"username": username, "visibility": _visibility(state, username)}
    opened = click.open_file(output, "w", encoding="utf-8", atomic=output != "-")
    with opened as out, _progress() as progress:
        if form == "csv":
            count = _export_csv(client, out, progress, **scope)
        elif form == "json":
            found = _walk(client, progress, **scope)
            count = write_json_array((to_export(r, client.base_url) for r in found), out)
            out.write("\n")
        else:
            found = _walk(client, progress, **scope)
            count = write_jsonld((to_jsonld(r, client.base_url) for r in found), out)
    where = "" if output == "-" else f" to {output}"
    plural = "s" if count != 1 else ""
    stderr.print(f"Exported {count} recipe{plural}{escape(where)}.", highlight=False)


@dataclass
class ImportReport:
    """What became of one item of an import."""

    source: str
    status: str  # created, skipped or failed
    id: int | None = None
    detail: str = ""


def _existing_sources(client: Client, username: str) -> set[str]:
    mine = client.recipes(username=username, visibility="all")
    return {recipe.source_url for recipe in mine if recipe.source_url}


def _write_item(client: Client, item: ImportItem) -> ImportReport:
    recipe = client.create_recipe(item.fields)
    detail = ""
    if item.cover_url:
        try:
            client.upload_cover(recipe.id, client.download(item.cover_url), "cover")
        except PotluckError as error:
            detail = f"cover not copied: {error.detail}"
    if item.publish:
        client.publish(recipe.id)
    return ImportReport(item.label or recipe.name, "created", recipe.id, detail)


def _import_one(client: Client, item: ImportItem | str, known: set[str]) -> ImportReport:
    source = item if isinstance(item, str) else item.source_url
    label = item if isinstance(item, str) else item.label
    if source and source in known:
        return ImportReport(label, "skipped", detail=f"already imported from {source}")
    try:
        if isinstance(item, str):
            recipe = client.import_recipe(item)
            report = ImportReport(label, "created", recipe.id)
            source = recipe.source_url or item
        else:
            report = _write_item(client, item)
    except PotluckError as error:
        return ImportReport(label, "failed", detail=f"{error.detail} ({error.status})")
    if source:
        known.add(source)
    return report


def _items(source: str | None, from_list: Path | None) -> list[ImportItem | str]:
    items: list[ImportItem | str] = []
    if from_list is not None:
        lines = from_list.read_text(encoding="utf-8").splitlines()
        items.extend(line.strip() for line in lines if line.strip() and not line.startswith("#"))
    if source is None:
        return items
    if source.startswith(("http://", "https://")):
        items.append(source)
    elif Path(source).is_file():
        try:
            items.extend(read_import_file(Path(source)))
        except ValueError as error:  # json.JSONDecodeError is a ValueError
            raise click.BadParameter(str(error), param_hint="SOURCE") from error
    else:
        raise click.BadParameter(f"{source} is neither a file nor an http(s) URL.")
    return items


@click.command("import")
@click.argument("source", required=False)
@click.option(
    "--from-list",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file of recipe page URLs, one a line (# starts a comment).",
)
@json_option
@pass_state
def import_(state: State, source: str | None, from_list: Path | None, as_json: bool) -> None:
    """Import recipes as yours: SOURCE is a JSON export, a JSON-LD file (one recipe or a
    list) or a recipe page's URL (the server fetches it).

    Recipes whose source URL one of yours already has are skipped. Exits 1 if any failed.
    """
    items = _items(source, from_list)
    if not items:
        raise click.UsageError("Give a FILE, a URL or --from-list.")
    client = state.client(signed_in=True)
    known = _existing_sources(client, state.username())
    reports: list[ImportReport] = []
    with _progress() as progress:
        task = progress.add_task("Importing", total=len(items))
        for item in items:
            reports.append(_import_one(client, item, known))
            progress.advance(task)
    if as_json:
        print_json([asdict(report) for report in reports])
    else:
        table = Table("source", "status", "id", "detail")
        for report in reports:
            cells = (report.source, report.status, str(report.id or ""), report.detail)
            table.add_row(*(escape(cell) for cell in cells))
        console().print(table)
    counts = {
        status: sum(r.status == status for r in reports)
        for status in ("created", "skipped", "failed")
    }
    stderr.print(", ".join(f"{n} {status}" for status, n in counts.items()))
    if counts["failed"]:
        raise click.exceptions.Exit(EXIT_API_ERROR)
