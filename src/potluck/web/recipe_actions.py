"""What the editor's buttons do to a recipe: upload or remove its cover, publish or
unpublish it, delete it (after a confirmation page). Each answers 303 to the page that
shows the result."""

from __future__ import annotations

from flask import flash, request
from werkzeug.wrappers import Response

from potluck.domain.database import db
from potluck.domain.models import User
from potluck.domain.preconditions import NO_PRECONDITIONS
from potluck.domain.recipes import set_published, writable_recipe
from potluck.domain.transactions import after_commit, commit
from potluck.services.media import release_images, replace_cover
from potluck.web.base import login_required, page, see_other, site
from potluck.web.editor import editor_page
from potluck.web.forms import ActionForm, CoverForm
from potluck.web.session import current_cook
from potluck.web.validation import INVALID, refuse, uploaded_image


def _cook() -> User:
    user: User = current_cook()  # type: ignore[assignment]
    return user


@site.post("/recipes/<int:recipe_id>/edit/cover")
@login_required
def upload_cover(recipe_id: int) -> Response:
    recipe = writable_recipe(recipe_id, _cook(), NO_PRECONDITIONS)
    form = CoverForm(prefix="cover")
    image = uploaded_image(form, "image")
    if image is None:
        if not form.errors:
            refuse(form, {"image": ["Choose an image file to upload."]})
        return editor_page(recipe, cover_form=form, status=INVALID)
    replace_cover(recipe, image)
    flash("The new cover is saved.", "success")
    return see_other("web.edit_recipe", recipe_id=recipe_id)


@site.post("/recipes/<int:recipe_id>/edit/cover/remove")
@login_required
def remove_cover(recipe_id: int) -> Response:
    recipe = writable_recipe(recipe_id, _cook(), NO_PRECONDITIONS)
    if recipe.cover_hash is not None:
        replace_cover(recipe, None)
    flash("The cover is removed.", "success")
    return see_other("web.edit_recipe", recipe_id=recipe_id)


@site.post("/recipes/<int:recipe_id>/edit/publish")
@login_required
def publish_recipe(recipe_id: int) -> Response:
    set_published(writable_recipe(recipe_id, _cook(), NO_PRECONDITIONS), True)
    commit()
    flash("Your recipe is published: everyone can find it now.", "success")
    return see_other("web.edit_recipe", recipe_id=recipe_id)


@site.post("/recipes/<int:recipe_id>/edit/unpublish")
@login_required
def unpublish_recipe(recipe_id: int) -> Response:
    set_published(writable_recipe(recipe_id, _cook(), NO_PRECONDITIONS), False)
    commit()
    flash("Your recipe is a draft again: only you can see it.", "success")
    return see_other("web.edit_recipe", recipe_id=recipe_id)


@site.route("/recipes/<int:recipe_id>/delete", methods=["GET", "POST"])
@login_required
def delete_recipe(recipe_id: int) -> Response:
    recipe = writable_recipe(recipe_id, _cook(), NO_PRECONDITIONS)
    if request.method == "GET":
        form = ActionForm(formdata=None)
        return page("web/delete.html", recipe=recipe, form=form, cache="no-store")
    name, cover = recipe.name, recipe.cover_hash
    db.session.delete(recipe)
    commit()
    after_commit(lambda: release_images([cover]))
    flash(f"“{name}” is deleted.", "success")
    return see_other("web.my_recipes")
