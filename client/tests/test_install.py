"""The client installs into a fresh virtual environment with its own dependencies only:
none of the server's comes along."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

CLIENT = Path(__file__).resolve().parents[1]
REPO = CLIENT.parent


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9_.-]+", requirement)
    assert match, requirement
    return match.group().lower().replace("_", "-")


def test_the_client_installs_without_the_server(tmp_path: Path) -> None:
    # A copy, so the build leaves nothing (build/, *.egg-info) in the work tree.
    source = tmp_path / "client"
    shutil.copytree(CLIENT, source, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--quiet",
         "-c", REPO / "constraints.txt", source],
        check=True,
        capture_output=True,
        timeout=300,
    )  # fmt: skip

    listed = subprocess.run(
        [python, "-c", "import importlib.metadata as m; print('\\n'.join(d.metadata['Name'] "
         "for d in m.distributions()))"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    installed = {_name(line) for line in listed.split()}
    assert {"potluck-client", "httpx", "click", "rich"} <= installed
    server = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    server_only = {_name(r) for r in server} - {"httpx"}
    assert "flask" in server_only
    assert installed.isdisjoint(server_only), installed & server_only

    check = "import potluck_client, importlib.util; print(importlib.util.find_spec('flask'))"
    found = subprocess.run([python, "-c", check], check=True, capture_output=True, text=True)
    assert found.stdout.strip() == "None"
    version = subprocess.run(
        [venv / "bin" / "potluck-client", "--version"], check=True, capture_output=True, text=True
    )
    assert version.stdout.startswith("potluck-client, version 0.1.0")
