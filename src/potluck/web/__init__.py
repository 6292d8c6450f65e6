"""The front page: where to find the API and its documentation."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template

web = Blueprint("web", __name__)


@web.get("/")
def index() -> str:
    return render_template("index.html")


def init_app(app: Flask) -> None:
    app.register_blueprint(web)
