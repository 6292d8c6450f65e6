"""The scaled-out topology as the tests start it: deploy/up.sh itself (what `make up` runs) on
free ports in a directory of its own, with the confirmed accounts `chef` and `sous`, stopped
by deploy/down.sh, which must leave nothing running. Used by test_deployment.py (on the suite's
PostgreSQL and Redis) and test_faults.py (on a PostgreSQL and a Redis that up.sh starts)."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import TEST_SECRET

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a deployment's long passphrase"
NGINX_MISSING = 3  # deploy/up.sh's exit status when nginx is absent and cannot be installed


@dataclass(frozen=True)
class Topology:
    public: str  # nginx over HTTPS
    http_port: int  # nginx's plain-HTTP port, which only redirects
    instances: tuple[str, str]  # the two app instances, directly
    deploy_dir: Path
    environ: Mapping[str, str]  # what deploy/up.sh ran with

    def client(self, address: str = "127.0.0.1", timeout: float = 15) -> httpx.Client:
        """A client whose connections come from `address` (any of 127.0.0.0/8), trusting
        the CA that deploy/make-certs.sh made."""
        verify = ssl.create_default_context(cafile=self.deploy_dir / "tls" / "ca.crt")
        transport = httpx.HTTPTransport(verify=verify, local_address=address)
        return httpx.Client(transport=transport, timeout=timeout)

    def login(self, username: str) -> dict[str, str]:
        with self.client() as client:
            response = client.post(
                f"{self.public}/api/v1/tokens", json={"username": username, "password": PASSWORD}
            )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def setting(self, name: str) -> str:
        """A setting the instances run with (DATABASE_URL, REDIS_URL...)."""
        return deployment_settings(self.deploy_dir)[name]

    def pid(self, name: str) -> int:
        """The PID deploy/up.sh recorded for `name` (app-1, app-2, worker, nginx...)."""
        return int((self.deploy_dir / "run" / f"{name}.pid").read_text())

    def up(self) -> subprocess.CompletedProcess[str]:
        """deploy/up.sh again: it starts what is not running and leaves the rest alone."""
        return _run(ROOT / "deploy" / "up.sh", self.environ, timeout=180)


def _run(
    script: Path, environ: Mapping[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [script],
        env=dict(environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def _started_pids(deploy_dir: Path) -> list[int]:
    texts = [path.read_text().strip() for path in (deploy_dir / "run").glob("*.pid")]
    return [int(text) for text in texts if text]


def _free_ports(count: int) -> list[int]:
    """`count` different free loopback ports, held together while chosen (asked for one at a
    time, the kernel may hand out the same port twice)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


@contextlib.contextmanager
def deployed(settings: Mapping[str, str | None]) -> Iterator[Topology]:
    """deploy/up.sh with two instances of one worker each, cheap password hashing, and
    `settings` on top (None removes a setting: without DATABASE_URL up.sh starts PostgreSQL)."""
    # Not under pytest's tmp_path: nginx's workers (www-data under root) must reach the media.
    deploy_dir = Path(tempfile.mkdtemp(prefix="potluck-deploy-"))
    deploy_dir.chmod(0o755)
    https_port, http_port, first, second, postgres_port, redis_port = _free_ports(6)
    environ = {
        **os.environ,
        "DEPLOY_DIR": str(deploy_dir),
        "NGINX_HTTPS_PORT": str(https_port),
        "NGINX_HTTP_PORT": str(http_port),
        "INSTANCE_PORTS": f"{first} {second}",
        "WEB_WORKERS": "1",
        # Used when up.sh starts PostgreSQL and Redis itself (no DATABASE_URL, REDIS_URL).
        "POSTGRES_PORT": str(postgres_port),
        "REDIS_PORT": str(redis_port),
        "SECRET_KEY": TEST_SECRET,
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST": "1024",
        "POTLUCK": str(Path(sys.executable).with_name("potluck")),
        "PYTHON": sys.executable,
    }
    for name, value in settings.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    try:
        up = _run(ROOT / "deploy" / "up.sh", environ, timeout=180)
        if up.returncode == NGINX_MISSING and os.environ.get("CI") != "true":
            pytest.skip("nginx is not installed (apt-get install nginx)")
        assert up.returncode == 0, up.stdout
        for name in ("chef", "sous"):
            created = subprocess.run(
                [environ["POTLUCK"], "user", "create", name, f"{name}@example.com"],
                env={**environ, **deployment_settings(deploy_dir)},
                input=f"{PASSWORD}\n{PASSWORD}\n",
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert created.returncode == 0, created.stderr
        yield Topology(
            public=f"https://127.0.0.1:{https_port}",
            http_port=http_port,
            instances=(f"http://127.0.0.1:{first}", f"http://127.0.0.1:{second}"),
            deploy_dir=deploy_dir,
            environ=environ,
        )
    finally:
        started = _started_pids(deploy_dir) if (deploy_dir / "run").is_dir() else []
        down = _run(ROOT / "deploy" / "down.sh", environ, timeout=120)
        left = [pid for pid in started if running(pid)]
        shutil.rmtree(deploy_dir, ignore_errors=True)
    assert down.returncode == 0, down.stdout
    assert not left, f"make down left processes running: {left}"


def deployment_settings(deploy_dir: Path) -> dict[str, str]:
    """The settings deploy/up.sh gave the instances (its potluck.env, for admin commands)."""
    settings = {}
    for line in (deploy_dir / "potluck.env").read_text().splitlines():
        name, _, value = line.partition("=")
        settings[name] = shlex.split(value)[0]
    return settings
