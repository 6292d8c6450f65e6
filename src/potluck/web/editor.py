"""The recipe editor: write a new recipe, import one from a link, edit your own. Checked by
the API's own schema; a save names the version its form was loaded at, so an edit made
meanwhile (in another tab, or through the API) is never overwritten unseen."""

from __future__ import annotations

from typing import Any

from flask import flash
from werkzeug.wrappers import Response

from potluck.domain.errors import ConcurrentChange, PreconditionFailed
from potluck.domain.models import Recipe, User
from potluck.domain.preconditions import Preconditions
from potluck.domain.recipes import (
    RECIPE_DEFAULTS,
    RecipeVersion,
    create_recipe,
    readable_recipe,
    writable_recipe,
    write_fields,
)
from potluck.domain.transactions import commit
from potluck.http.limits import strict_limit
from potluck.schemas.images import image_urls
from potluck.schemas.recipe_imports import RecipeImportSchema
from potluck.schemas.recipes import RecipeInputSchema
from potluck.services.fetcher import FetchError
from potluck.services.recipe_import import NoRecipeFound, import_recipe
from potluck.web.base import login_required, page, see_other, site
from potluck.web.forms import CoverForm, ImportForm, RecipeForm
from potluck.web.session import current_cook
from potluck.web.validation import INVALID, form_status, loaded, refuse

CHANGED_MEANWHILE = (
    "Someone changed this recipe meanwhile (in another tab, or another device), so nothing "
    "was saved. Your text is still in the form; where the saved recipe differs, it is shown "
    "above the form. Save again to replace the saved recipe with yours."
)
# The fields a cook writes, compared with the saved recipe after a concurrent change.
_WRITTEN = (
    "name",
    "description",
    "num_of_servings",
    "prep_time",
    "cook_time",
    "ingredients",
    "directions",
    "tags",
    "source_url",
)


def _document(form: RecipeForm) -> dict[str, Any]:
    """The form as the API's schema reads a recipe: lines as text, tags split at commas."""
    document: dict[str, Any] = {
        "name": form.name.data or "",
        "description": form.description.data or "",
        "prep_time": form.prep_time.data,
        "cook_time": form.cook_time.data,
        "ingredients": form.ingredients.data or "",
        "directions": form.directions.data or "",
        "tags": (form.tags.data or "").split(","),
        "source_url": (form.source_url.data or "").strip() or None,
    }
    if form.num_of_servings.data is not None:
        document["num_of_servings"] = form.num_of_servings.data
    return document


def _filled(recipe: Recipe) -> RecipeForm:
    """The form showing the recipe as saved, at its current version."""
    return RecipeForm(
        formdata=None,
        data={
            "version": RecipeVersion.of(recipe).etag,
            "name": recipe.name,
            "description": recipe.description,
            "num_of_servings": recipe.num_of_servings,
            "prep_time": recipe.prep_time,
            "cook_time": recipe.cook_time,
            "ingredients": "\n".join(recipe.ingredients),
            "directions": "\n".join(recipe.directions),
            "tags": ", ".join(recipe.tags),
            "source_url": recipe.source_url or "",
        },
    )


def editor_page(
    recipe: Recipe,
    form: RecipeForm | None = None,
    cover_form: CoverForm | None = None,
    status: int = 200,
    saved_differences: list[tuple[str, str]] | None = None,
) -> Response:
    """The edit page of `recipe`, with a form that was refused if given (and, after a
    concurrent change, the saved recipe's fields that differ from the form's)."""
    return page(
        "web/editor.html",
        recipe=recipe,
        saved_differences=saved_differences or [],
        form=form or _filled(recipe),
        cover_form=cover_form or CoverForm(formdata=None, prefix="cover"),
        cover=image_urls(recipe.cover_hash) if recipe.cover_hash else None,
        status=status,
        cache="no-store",
    )


def _new_page(form: RecipeForm, import_form: ImportForm, status: int) -> Response:
    return page(
        "web/editor.html",
        recipe=None,
        form=form,
        import_form=import_form,
        status=status,
        cache="no-store",
    )


@site.route("/recipes/new", methods=["GET", "POST"])
@login_required
def new_recipe() -> Response:
    user: User = current_cook()  # type: ignore[assignment]
    form = RecipeForm()
    if form.validate_on_submit():
        data = loaded(form, RecipeInputSchema(), _document(form))
        if data is not None:
            recipe = create_recipe(user, data)
            commit()
            flash("Your recipe is saved as a draft: publish it when it is ready.", "success")
            return see_other("web.edit_recipe", recipe_id=recipe.id)
    import_form = ImportForm(formdata=None, prefix="import")
    return _new_page(form, import_form, form_status(form))


@site.post("/recipes/new/import", endpoint="import_recipe")
@login_required
@strict_limit("IMPORT_RATE_LIMIT", "recipe imports")
def import_recipe_page() -> Response:
    user: User = current_cook()  # type: ignore[assignment]
    import_form = ImportForm(prefix="import")
    data = loaded(import_form, RecipeImportSchema(), {"url": import_form.url.data or ""})
    if data is not None:
        try:
            recipe = import_recipe(data["url"], user)
        except (FetchError, NoRecipeFound) as failure:
            refuse(import_form, {"url": [failure.detail]})
        else:
            flash("Imported as a draft: check it, then publish it.", "success")
            return see_other("web.edit_recipe", recipe_id=recipe.id)
    return _new_page(RecipeForm(formdata=None), import_form, INVALID)


@site.route("/recipes/<int:recipe_id>/edit", methods=["GET", "POST"])
@login_required
def edit_recipe(recipe_id: int) -> Response:
    user: User = current_cook()  # type: ignore[assignment]
    form = RecipeForm()
    if not form.validate_on_submit():
        recipe = writable_recipe(recipe_id, user, Preconditions())
        return editor_page(recipe, form if form.errors else None, status=form_status(form))
    # A form without its version cannot say what it changes: it is refused like a stale one.
    expected = Preconditions(if_match=form.version.data or '""')
    try:
        recipe = writable_recipe(recipe_id, user, expected)
    except PreconditionFailed:
        return _changed_meanwhile(recipe_id, user, form)
    data = loaded(form, RecipeInputSchema(), _document(form))
    if data is None:
        return editor_page(recipe, form, status=INVALID)
    write_fields(recipe, {**RECIPE_DEFAULTS, **data})
    try:
        commit()
    except ConcurrentChange:
        return _changed_meanwhile(recipe_id, user, form)
    flash("Your changes are saved.", "success")
    return see_other("web.edit_recipe", recipe_id=recipe.id)


def _changed_meanwhile(recipe_id: int, user: User, form: RecipeForm) -> Response:
    """The form as the cook sent it, now naming the saved version (so saving again replaces
    it knowingly), with the saved recipe's differing fields shown beside it: nothing typed
    is lost."""
    recipe = readable_recipe(recipe_id, user)
    saved = _filled(recipe)
    form.version.data = saved.version.data
    form.form_errors.append(CHANGED_MEANWHILE)
    differences = [
        (str(saved[name].label.text), _shown(saved[name].data))
        for name in _WRITTEN
        if _shown(saved[name].data) != _shown(form[name].data)
    ]
    return editor_page(recipe, form, status=409, saved_differences=differences)


def _shown(value: Any) -> str:
    """A field's value as the form shows it (line endings as a textarea sends them)."""
    return "" if value is None else str(value).replace("\r\n", "\n").strip()
