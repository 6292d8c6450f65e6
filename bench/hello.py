"""The ceiling: a hello-world Flask app, served by the same server with the same settings."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> dict[str, str]:
    return {"hello": "world"}
