"""The profile page: display name, bio and avatar (processed and stored as the API does)."""

from __future__ import annotations

from flask import flash
from werkzeug.wrappers import Response

from potluck.domain.models import User
from potluck.domain.transactions import commit
from potluck.schemas.images import image_urls
from potluck.schemas.users import ProfileUpdateSchema
from potluck.services.media import replace_avatar
from potluck.web.base import login_required, page, see_other, site
from potluck.web.forms import ProfileForm
from potluck.web.session import current_cook
from potluck.web.validation import form_status, loaded, uploaded_image


@site.route("/account/profile", methods=["GET", "POST"])
@login_required
def profile() -> Response:
    user: User = current_cook()  # type: ignore[assignment]
    form = ProfileForm(obj=user)
    if form.validate_on_submit():
        fields = {"display_name": form.display_name.data or "", "bio": form.bio.data or ""}
        data = loaded(form, ProfileUpdateSchema(), fields)
        avatar = uploaded_image(form, "avatar")
        if data is not None and not form.errors:
            for name, value in data.items():
                setattr(user, name, value)
            if avatar is not None:
                replace_avatar(user, avatar)
            commit()
            flash("Your profile is saved.", "success")
            return see_other("web.profile")
    return page(
        "web/profile.html",
        form=form,
        avatar=image_urls(user.avatar_hash) if user.avatar_hash else None,
        user=user,
        status=form_status(form),
        cache="no-store",
    )


@site.post("/account/profile/avatar/remove")
@login_required
def remove_avatar() -> Response:
    user: User = current_cook()  # type: ignore[assignment]
    if user.avatar_hash is not None:
        replace_avatar(user, None)
        commit()
    flash("Your avatar is removed.", "success")
    return see_other("web.profile")
