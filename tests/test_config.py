"""Settings: secrets are refused outside development, URLs are normalized."""

from __future__ import annotations

from pathlib import Path

import pytest

from potluck import create_app
from potluck.app.config import ConfigurationError, load_settings

STRONG = "k" * 48


@pytest.mark.parametrize("secret", [None, "", "changeme", "super-secret-key", "short-but-random"])
def test_production_refuses_missing_or_weak_secret(secret: str | None, tmp_path: Path) -> None:
    environ = {"POTLUCK_ENV": "production"}
    if secret is not None:
        environ["SECRET_KEY"] = secret
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        create_app(environ=environ | {"POTLUCK_INSTANCE_PATH": str(tmp_path)})


def test_production_refuses_weak_jwt_secret(tmp_path: Path) -> None:
    environ = {"POTLUCK_ENV": "production", "SECRET_KEY": STRONG, "JWT_SECRET_KEY": "jwt"}
    with pytest.raises(ConfigurationError, match="JWT_SECRET_KEY"):
        load_settings(environ, tmp_path)


def test_environment_defaults_to_production(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        load_settings({}, tmp_path)
    settings = load_settings({"SECRET_KEY": STRONG}, tmp_path)
    assert settings["POTLUCK_ENV"] == "production"
    assert settings["JWT_SECRET_KEY"] == STRONG
    assert settings["SEED_DEMO_DATA"] is False


def test_unknown_environment_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="staging"):
        load_settings({"POTLUCK_ENV": "staging"}, tmp_path)


def test_development_generates_and_keeps_a_private_secret(tmp_path: Path) -> None:
    first = load_settings({"POTLUCK_ENV": "development"}, tmp_path)
    second = load_settings({"POTLUCK_ENV": "development"}, tmp_path)
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert len(first["SECRET_KEY"]) >= 48
    assert (tmp_path / "secret-key").stat().st_mode & 0o777 == 0o600
    assert first["SEED_DEMO_DATA"] is True
    assert first["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'potluck.db'}"


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://u:p@db/potluck", "postgresql+psycopg://u:p@db/potluck"),
        ("postgresql://u:p@db/potluck", "postgresql+psycopg://u:p@db/potluck"),
        ("postgresql+psycopg://u@db/x", "postgresql+psycopg://u@db/x"),
        ("sqlite:////srv/potluck.db", "sqlite:////srv/potluck.db"),
    ],
)
def test_database_url_names_the_driver(given: str, used: str, tmp_path: Path) -> None:
    settings = load_settings({"SECRET_KEY": STRONG, "DATABASE_URL": given}, tmp_path)
    assert settings["SQLALCHEMY_DATABASE_URI"] == used


def test_mail_settings_come_from_the_environment(tmp_path: Path) -> None:
    environ = {
        "POTLUCK_ENV": "development",
        "SECRET_KEY": STRONG,
        "MAIL_SERVER": "smtp.example.org",
        "MAIL_USE_SSL": "true",
        "MAIL_USERNAME": "potluck",
        "MAIL_PASSWORD": "pw",
        "MAIL_DEFAULT_SENDER": "Recipes <recipes@example.org>",
        "MAIL_DELIVERY": "worker",
        "PUBLIC_BASE_URL": "https://recipes.example.org/",
        "REDIS_URL": "redis://cache:6379/1",
    }
    settings = load_settings(environ, tmp_path)
    assert settings["MAIL_SERVER"] == "smtp.example.org"
    assert settings["MAIL_PORT"] == 465
    assert settings["MAIL_USE_SSL"] is True
    assert settings["MAIL_USE_TLS"] is False
    assert (settings["MAIL_USERNAME"], settings["MAIL_PASSWORD"]) == ("potluck", "pw")
    assert settings["MAIL_DEFAULT_SENDER"] == "Recipes <recipes@example.org>"
    assert settings["MAIL_DELIVERY"] == "worker"
    assert settings["PUBLIC_BASE_URL"] == "https://recipes.example.org"
    assert settings["RATELIMIT_STORAGE_URI"] == "redis://cache:6379/1"


def test_embedded_defaults_log_mail_and_count_in_process(tmp_path: Path) -> None:
    settings = load_settings({"POTLUCK_ENV": "development", "PORT": "9000"}, tmp_path)
    assert settings["MAIL_SERVER"] is None
    assert settings["MAIL_DELIVERY"] == "in-process"
    assert settings["PUBLIC_BASE_URL"] == "http://127.0.0.1:9000"
    assert settings["RATELIMIT_STORAGE_URI"] == "memory://"


def test_unknown_mail_delivery_is_refused(tmp_path: Path) -> None:
    environ = {"POTLUCK_ENV": "development", "MAIL_DELIVERY": "carrier-pigeon"}
    with pytest.raises(ConfigurationError, match="carrier-pigeon"):
        load_settings(environ, tmp_path)
