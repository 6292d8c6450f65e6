"""`potluck-client` end to end against the live server: login and the config file, every
`recipes` command, exit codes, and token refresh."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from conftest import PASSWORD, Cli, tiny_png, unique

from potluck_client import Client, Conflict, PotluckError, PreconditionFailed, RateLimited
from potluck_client.cli.app import exit_code


def test_login_keeps_the_tokens_in_a_file_only_you_can_read(cli: Cli) -> None:
    result = cli("login", input=f"chef\n{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert "Logged in to" in result.output
    assert stat.S_IMODE(cli.config.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli.config.parent.stat().st_mode) == 0o700
    stored = json.loads(cli.config.read_text())
    assert stored["username"] == "chef"
    assert stored["url"] == cli.url
    assert stored["access_token"]
    assert stored["refresh_token"]
    assert PASSWORD not in cli.config.read_text()

    whoami = cli("whoami", "--json")
    assert whoami.exit_code == 0, whoami.output
    assert json.loads(whoami.stdout)["username"] == "chef"

    assert cli("logout").exit_code == 0
    assert json.loads(cli.config.read_text())["access_token"] is None
    assert cli("whoami").exit_code == 3


def test_a_wrong_password_is_exit_code_3(cli: Cli) -> None:
    result = cli("login", "--username", "chef", input="not the password\n")
    assert result.exit_code == 3
    assert "wrong" in result.stderr
    assert not cli.config.exists()


def test_login_with_an_api_key_and_the_environment_override(chef: Client, cli: Cli) -> None:
    key = chef.create_api_key(unique("cli"), scope="write").key
    assert key is not None

    assert cli("login", "--api-key", key).exit_code == 0
    stored = json.loads(cli.config.read_text())
    assert stored["api_key"] == key
    assert stored["access_token"] is None
    assert stat.S_IMODE(cli.config.stat().st_mode) == 0o600

    cli.config.unlink()
    override = cli("whoami", POTLUCK_API_KEY=key)  # nothing stored, the environment's key
    assert override.exit_code == 0, override.output
    assert "chef" in override.stdout


def test_an_expired_token_is_refreshed_and_stored(chef_cli: Cli) -> None:
    stored = json.loads(chef_cli.config.read_text())
    stored["access_token"] = "expired"
    chef_cli.config.write_text(json.dumps(stored))

    result = chef_cli("whoami")

    assert result.exit_code == 0, result.output
    renewed = json.loads(chef_cli.config.read_text())
    assert renewed["access_token"] not in {"expired", None}
    assert renewed["refresh_token"] != stored["refresh_token"]
    assert stat.S_IMODE(chef_cli.config.stat().st_mode) == 0o600


def test_writing_needs_a_login(cli: Cli) -> None:
    result = cli("recipes", "create", "--name", "Nope")
    assert result.exit_code == 3
    assert "Not logged in" in result.stderr


def test_usage_errors_are_exit_code_2(chef_cli: Cli) -> None:
    assert chef_cli("recipes", "show", "soup").exit_code == 2
    assert chef_cli("recipes", "create").exit_code == 2  # no name
    assert chef_cli("export", "--format", "xml").exit_code == 2


def test_a_recipe_through_every_command(chef_cli: Cli, cli: Cli, tmp_path: Path) -> None:
    word = unique("cli")
    created = chef_cli(
        "recipes", "create", "--name", f"Soup {word}", "-i", "1 kg tomatoes", "-i", "1 onion",
        "-s", "Chop.", "-s", "Simmer.", "--cook-time", "30", "-t", word, "--json",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    recipe = json.loads(created.stdout)
    rid = str(recipe["id"])
    assert recipe["ingredients"] == ["1 kg tomatoes", "1 onion"]
    assert recipe["is_publish"] is False

    shown = chef_cli("recipes", "show", rid)
    assert shown.exit_code == 0
    assert "1. Chop." in shown.stdout
    assert "1 kg tomatoes" in shown.stdout

    assert chef_cli("recipes", "publish", rid).exit_code == 0
    listed = cli("recipes", "list", "--tag", word, "--json")  # not signed in
    assert [r["id"] for r in json.loads(listed.stdout)] == [recipe["id"]]
    table = cli("recipes", "list", "--tag", word)
    assert f"Soup {word}" in table.stdout
    found = cli("recipes", "search", word, "--json")
    assert [r["name"] for r in json.loads(found.stdout)] == [f"Soup {word}"]

    edited = chef_cli("recipes", "edit", rid, "--servings", "6", "-t", word, "-t", "quick")
    assert edited.exit_code == 0, edited.output
    after = json.loads(cli("recipes", "show", rid, "--json").stdout)
    assert after["num_of_servings"] == 6
    assert set(after["tags"]) == {word, "quick"}
    assert after["cook_time"] == 30  # untouched

    photo = tmp_path / "soup.png"
    photo.write_bytes(tiny_png())
    covered = chef_cli("recipes", "cover", rid, str(photo), "--json")
    assert covered.exit_code == 0, covered.output
    assert json.loads(covered.stdout)["large"].startswith("/media/")
    saved = tmp_path / "cover.webp"
    assert cli("recipes", "cover", rid, "--download", str(saved)).exit_code == 0
    assert saved.read_bytes()[8:12] == b"WEBP"
    assert chef_cli("recipes", "cover", rid, "--remove").exit_code == 0
    assert cli("recipes", "cover", rid).exit_code == 4

    assert chef_cli("recipes", "unpublish", rid).exit_code == 0
    assert cli("recipes", "show", rid).exit_code == 4  # a draft again
    drafts = chef_cli("recipes", "list", "--drafts", "--json", "--limit", "0")
    assert recipe["id"] in [r["id"] for r in json.loads(drafts.stdout)]

    refused = chef_cli("recipes", "delete", rid, input="n\n")
    assert refused.exit_code == 1  # aborted at the question
    assert chef_cli("recipes", "show", rid).exit_code == 0
    assert chef_cli("recipes", "delete", rid, "--yes").exit_code == 0
    gone = chef_cli("recipes", "show", rid)
    assert gone.exit_code == 4
    assert f"There is no recipe {rid}" in gone.stderr


def test_someone_elses_recipe_is_exit_code_3(chef: Client, cli: Cli) -> None:
    recipe = chef.create_recipe(name="Chef's own")
    chef.publish(recipe.id)
    cli.login("sous")
    result = cli("recipes", "edit", str(recipe.id), "--name", "Sous's now")
    assert result.exit_code == 3
    assert "Only the author" in result.stderr


def test_create_from_a_file(chef_cli: Cli, tmp_path: Path) -> None:
    draft = tmp_path / "recipe.json"
    draft.write_text(json.dumps({"name": "From a file", "ingredients": ["rice"]}))
    result = chef_cli("recipes", "create", "--file", str(draft), "--cook-time", "12", "--json")
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert (created["name"], created["ingredients"], created["cook_time"]) == (
        "From a file",
        ["rice"],
        12,
    )

    invalid = chef_cli("recipes", "create", "--name", "x" * 101)
    assert invalid.exit_code == 1
    assert "name:" in invalid.stderr


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (PreconditionFailed(412, {"detail": "changed"}), 5),
        (Conflict(409, {"detail": "taken"}), 5),
        (RateLimited(429, {}, retry_after=60), 1),
    ],
)
def test_exit_codes_of_the_other_errors(error: PotluckError, code: int) -> None:
    assert exit_code(error) == code


def test_text_from_the_server_is_shown_as_it_is(chef_cli: Cli) -> None:
    name = "Soup [/bold] [red]hot[/red]"
    created = chef_cli("recipes", "create", "--name", name, "-i", "[/] chili", "--publish")
    assert created.exit_code == 0, created.output
    rid = created.stdout.strip()
    shown = chef_cli("recipes", "show", rid)
    assert shown.exit_code == 0, shown.output
    assert name in shown.stdout
    assert "- [/] chili" in shown.stdout
    listed = chef_cli("recipes", "list", "--user", "chef", "--limit", "50")
    assert name in listed.stdout


def test_a_broken_config_file_says_so(cli: Cli) -> None:
    cli.config.parent.mkdir(parents=True)
    cli.config.write_text("{not json")
    result = cli("recipes", "list")
    assert result.exit_code == 1
    assert "is not a config file" in result.stderr


def test_help_documents_the_exit_codes(cli: Cli) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for line in ("3  authentication needed", "4  not found", "5  conflict"):
        assert line in result.stdout
