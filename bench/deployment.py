"""The scaled-out topology that `make soak` and `make bench-topology` drive: deploy/up.sh
(what `make up` runs) on free loopback ports in a throwaway DEPLOY_DIR, so with its own
PostgreSQL cluster (fsync on, as deployed) and Redis, nginx (TLS, HTTP/2) in front of the
instances; seeded with `potluck seed`; stopped by deploy/down.sh and then deleted.
Nothing of a developer's own `.deploy`, DATABASE_URL or REDIS_URL is used."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from loads import log
from servers import BIN, UNLIMITED, free_port

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
# What would point the topology at servers or secrets of the caller's own.
_NOT_INHERITED = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "JWT_SECRET_KEY", "DEPLOY_DIR")


def _clock_ticks(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def children(pid: int) -> list[int]:
    try:
        return [
            int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ]
    except (FileNotFoundError, ProcessLookupError):
        return []


def with_descendants(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue.extend(children(current))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of these processes and all their descendants."""
    ticks = sum(_clock_ticks(pid) for root in pids for pid in with_descendants(root))
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_seconds() -> dict[str, float]:
    """CPU time of the whole machine (every core) from /proc/stat: spent running processes
    (anyone's, user and system), and on interrupts or stolen by the hypervisor."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    tick = os.sysconf("SC_CLK_TCK")
    return {
        "processes": (user + nice + system) / tick,
        "interrupts, steal": (irq + softirq + steal) / tick,
    }


def rss_mib(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def code_version() -> str:
    """The commit of the Potluck the instances import, and whether its code had changes
    not committed yet."""
    where = subprocess.run(
        [BIN / "python", "-c", "import potluck; print(potluck.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    folder = Path(where.stdout.strip()).parent
    git = ["git", "-C", str(folder)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    changed = subprocess.run(
        [*git, "status", "--porcelain", "--", "../../src", "../../migrations", "../../deploy"],
        capture_output=True,
        text=True,
    )
    version = f"{commit.stdout.strip()} ({folder.parents[1]})"
    return version + (" with uncommitted changes" if changed.stdout.strip() else "")


class Deployment:
    """deploy/up.sh in a throwaway folder: `up(n)` starts it with n instances behind nginx,
    or adds instances to a running one (as docs/deploy.md scales it), or takes nginx back to
    the first n (the others keep running, idle); `down()` stops every process it started
    and keeps the data; `remove()` stops and deletes it all."""

    def __init__(self, web_workers: int, settings: dict[str, str] | None = None) -> None:
        # Not under /tmp's private folders: PostgreSQL (as `postgres`) and nginx's workers
        # (www-data) must reach into it when run as root.
        self.folder = Path(tempfile.mkdtemp(prefix="potluck-topology-"))
        self.folder.chmod(0o755)
        self.web_workers = web_workers
        self.https_port, self.http_port = free_port(), free_port()
        self.postgres_port, self.redis_port = free_port(), free_port()
        self.instance_ports: list[int] = []  # every instance started
        self.serving = 0  # how many of them nginx sends requests to
        self.settings = {
            # One load generator on one address is not the crowd the limits are for.
            "READ_RATE_LIMIT": UNLIMITED,
            "WRITE_RATE_LIMIT": UNLIMITED,
            "LOGIN_RATE_LIMIT": UNLIMITED,
            "RATELIMIT_STRATEGY": "sliding-window-counter",  # see bench/servers.py
            **(settings or {}),
        }

    @property
    def public(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def ca(self) -> Path:
        return self.folder / "tls" / "ca.crt"

    @property
    def access_log(self) -> Path:
        return self.folder / "log" / "nginx-access.log"

    def _environ(self) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
        return {
            **inherited,
            **self.settings,
            "DEPLOY_DIR": str(self.folder),
            "NGINX_HTTPS_PORT": str(self.https_port),
            "NGINX_HTTP_PORT": str(self.http_port),
            "POSTGRES_PORT": str(self.postgres_port),
            "REDIS_PORT": str(self.redis_port),
            "INSTANCE_PORTS": " ".join(map(str, self.instance_ports[: self.serving])),
            "WEB_WORKERS": str(self.web_workers),
            "POTLUCK": str(BIN / "potluck"),
            "PYTHON": str(BIN / "python"),
        }

    def up(self, instances: int) -> None:
        if instances == self.serving:
            return
        while len(self.instance_ports) < instances:
            self.instance_ports.append(free_port())
        self.serving = instances
        started = time.perf_counter()
        with (self.folder / "up.log").open("a") as output:
            done = subprocess.run(
                [DEPLOY / "up.sh"],
                env=self._environ(),
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=300,
                check=False,
            )
        if done.returncode != 0:
            raise RuntimeError(f"deploy/up.sh failed: see {self.folder / 'up.log'}")
        log(f"topology up: {instances} instance(s), {time.perf_counter() - started:.0f} s")

    def down(self) -> None:
        """Stop it all (the data stays); the next `up` starts from one instance again."""
        if (self.folder / "run").is_dir():
            with (self.folder / "up.log").open("a") as output:
                subprocess.run(
                    [DEPLOY / "down.sh"],
                    env=self._environ(),
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    timeout=180,
                    check=False,
                )
        self.instance_ports, self.serving = [], 0

    def remove(self) -> None:
        self.down()
        shutil.rmtree(self.folder, ignore_errors=True)

    def app_environ(self) -> dict[str, str]:
        """The settings of the running deployment (its potluck.env), for admin commands."""
        environ = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
        for line in (self.folder / "potluck.env").read_text().splitlines():
            name, _, quoted = line.partition("=")
            environ[name] = shlex.split(quoted)[0] if quoted else ""
        return {**environ, **self.settings}

    def admin(self, *arguments: str, answers: str | None = None) -> str:
        """`potluck ARGUMENTS...` against the deployment's database."""
        done = subprocess.run(
            [str(BIN / "potluck"), *arguments],
            env=self.app_environ(),
            input=answers,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"potluck {' '.join(arguments)} failed:\n{done.stderr}")
        return done.stdout

    def create_account(self, username: str, password: str) -> None:
        email = f"{username}@example.com"
        self.admin("user", "create", username, email, answers=f"{password}\n{password}\n")

    def pid(self, name: str) -> int | None:
        """The process deploy/up.sh recorded as NAME (app-1, nginx, redis, worker)."""
        path = self.folder / "run" / f"{name}.pid"
        try:
            return int(path.read_text())
        except (FileNotFoundError, ValueError):
            return None

    def postgres_pid(self) -> int | None:
        path = self.folder / "postgres" / "data" / "postmaster.pid"
        try:
            return int(path.read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None

    def instances(self) -> list[str]:
        return [f"app-{n}" for n in range(1, len(self.instance_ports) + 1)]

    def workers(self) -> dict[str, list[int]]:
        """Each instance's granian workers (the children of its server process)."""
        return {name: children(self.pid(name) or 0) for name in self.instances()}

    def process_groups(self) -> dict[str, list[int]]:
        """The deployment's processes by part, for CPU accounting (with descendants)."""
        groups = {
            "app instances": [self.pid(name) for name in self.instances()],
            "nginx": [self.pid("nginx")],
            "postgresql": [self.postgres_pid()],
            "redis": [self.pid("redis")],
            "mail worker": [self.pid("worker")],
        }
        return {part: [pid for pid in pids if pid] for part, pids in groups.items()}

    def wait_idle(self, timeout: float = 60) -> bool:
        """Until the deployment has worked through what the last load left queued: two
        quarter seconds in a row under 5 % of a core (as bench/servers.py waits)."""
        pids = [pid for group in self.process_groups().values() for pid in group]
        quiet, give_up, last = 0, time.monotonic() + timeout, cpu_seconds(pids)
        while quiet < 2 and time.monotonic() < give_up:
            time.sleep(0.25)
            now = cpu_seconds(pids)
            quiet, last = (quiet + 1 if now - last < 0.0125 else 0), now
        return quiet >= 2
