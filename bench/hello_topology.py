"""The hello-world ceiling in the topology's shape: bench/hello.py on two granian servers
with the settings of `potluck serve`, behind an nginx rendered from deploy/nginx's templates
(as deploy/up.sh renders them) for the first server alone and another for both."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from deployment import DEPLOY, Deployment
from servers import BENCH, BIN, THREADS, Server, free_port


class HelloFront:
    """nginx rendered from deploy/nginx's templates, as deploy/up.sh renders them, with the
    deployment's certificate, in front of hello-world servers."""

    def __init__(self, deployment: Deployment, servers: list[Server]) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="potluck-hello-nginx-"))
        self.folder.chmod(0o755)
        self.servers = servers
        self.port = free_port()
        self.nginx: int | None = None
        try:
            self._start(deployment)
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/"

    def _start(self, deployment: Deployment) -> None:
        temp = self.folder / "temp"
        temp.mkdir()
        root = os.geteuid() == 0
        if root:
            shutil.chown(temp, "www-data")
        upstreams = " ".join(
            f"server 127.0.0.1:{server.port} max_fails=3 fail_timeout=10s;"
            for server in self.servers
        )
        settings = {
            "NGINX_LISTEN": "127.0.0.1",
            "NGINX_HTTPS_PORT": str(self.port),
            "NGINX_HTTP_PORT": str(free_port()),
            "NGINX_UPSTREAM_SERVERS": upstreams,
            "NGINX_TLS_CERTIFICATE": str(deployment.folder / "tls" / "server.crt"),
            "NGINX_TLS_KEY": str(deployment.folder / "tls" / "server.key"),
            "NGINX_CLIENT_MAX_BODY_SIZE": "17m",
            "NGINX_RUN_DIR": str(self.folder),
            "NGINX_LOG_DIR": str(self.folder),
            "NGINX_TEMP_DIR": str(temp),
            "NGINX_CONF_DIR": str(self.folder),
            "NGINX_USER_DIRECTIVE": "user www-data;" if root else "",
            "PUBLIC_BASE_URL": f"https://127.0.0.1:{self.port}",
            "MEDIA_ROOT": str(self.folder),
        }
        for name in ("potluck.conf", "nginx.conf"):
            template = DEPLOY / "nginx" / f"{name}.template"
            rendered = subprocess.run(
                [BIN / "python", DEPLOY / "render_template.py", template],
                env={**os.environ, **settings},
                capture_output=True,
                text=True,
                check=True,
            )
            (self.folder / name).write_text(rendered.stdout)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        command = [nginx, "-p", str(self.folder), "-c", str(self.folder / "nginx.conf")]
        subprocess.run([*command, "-e", str(self.folder / "error.log")], check=True)
        self.nginx = int((self.folder / "nginx.pid").read_text())

    def process_groups(self) -> dict[str, list[int]]:
        apps = [server.process.pid for server in self.servers]
        return {"app instances": apps, "nginx": [self.nginx] if self.nginx else []}

    def stop(self) -> None:
        if self.nginx:
            os.kill(self.nginx, signal.SIGQUIT)  # graceful, as deploy/down.sh stops it
            for _ in range(100):
                if not Path(f"/proc/{self.nginx}").exists():
                    break
                time.sleep(0.1)
            self.nginx = None
        shutil.rmtree(self.folder, ignore_errors=True)


class HelloTopology:
    """bench/hello.py on two granian servers of `workers` workers each, with one nginx in
    front of the first and another in front of both."""

    def __init__(self, deployment: Deployment, workers: int) -> None:
        self.servers: list[Server] = []
        self.fronts: dict[int, HelloFront] = {}
        try:
            self.servers = [_hello_server(workers), _hello_server(workers)]
            for instances in (1, 2):
                self.fronts[instances] = HelloFront(deployment, self.servers[:instances])
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for front in self.fronts.values():
            front.stop()
        for server in self.servers:
            server.stop()


def _hello_server(workers: int) -> Server:
    """bench/hello.py on the granian settings of `potluck serve` (see servers.serve_ceiling)."""
    port = free_port()
    command = [
        *(str(BIN / "granian"), "--interface", "wsgi", "--host", "127.0.0.1"),
        *("--port", str(port), "--workers", str(workers), "--blocking-threads", str(THREADS)),
        *("--no-ws", "hello:app"),
    ]
    return Server(command, {**os.environ, "PYTHONPATH": str(BENCH)}, port)
