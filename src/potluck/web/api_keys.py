"""API keys page: the signed-in cook's keys, a form to create one (its secret shown once,
on the page the form's 303 leads to) and a revoke button per key."""

from __future__ import annotations

from flask import flash, session
from werkzeug.wrappers import Response

from potluck.domain.api_keys import api_keys_of, mint_api_key, revoke_api_key
from potluck.domain.models import User
from potluck.domain.transactions import commit
from potluck.schemas.api_keys import ApiKeyCreateSchema
from potluck.web.base import login_required, page, see_other, site
from potluck.web.forms import ApiKeyForm
from potluck.web.session import current_cook
from potluck.web.validation import form_status, loaded

# The new key's secret rides in the (signed, HttpOnly) session cookie from the POST to the one
# page view that shows it, and is dropped there: it is never stored on the server.
_SHOWN_ONCE = "new_api_key"


@site.route("/account/api-keys", methods=["GET", "POST"])
@login_required
def api_keys() -> Response:
    user: User = current_cook()  # type: ignore[assignment]
    form = ApiKeyForm()
    if form.validate_on_submit():
        expires = form.expires_at.data
        fields = {
            "name": form.name.data or "",
            "scope": form.scope.data,
            # The key works until the end of the chosen day, in UTC.
            "expires_at": f"{expires.isoformat()}T23:59:59+00:00" if expires else None,
        }
        data = loaded(form, ApiKeyCreateSchema(), fields)
        if data is not None:
            key, secret = mint_api_key(user, data["name"], data["scope"], data["expires_at"])
            commit()
            session[_SHOWN_ONCE] = {"id": key.id, "secret": secret}
            return see_other("web.api_keys")
    new_key = session.pop(_SHOWN_ONCE, None) if form_status(form) == 200 else None
    return page(
        "web/api_keys.html",
        form=form,
        keys=api_keys_of(user),
        new_key=new_key,
        status=form_status(form),
        cache="no-store",
    )


@site.post("/account/api-keys/<int:key_id>/revoke")
@login_required
def revoke_key(key_id: int) -> Response:
    user: User = current_cook()  # type: ignore[assignment]
    revoke_api_key(user, key_id)
    commit()
    flash("The key is revoked: it no longer works.", "success")
    return see_other("web.api_keys")
