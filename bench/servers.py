"""The servers the benchmark drives: Potluck as in production (`potluck serve`) on a seeded
database, and the two ceilings (bench/hello.py, bench/bare.py) on the same granian settings.
Each is a process group on a free loopback port, stopped by its PID."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
WORKERS = int(os.environ.get("BENCH_WORKERS", 2))
# Blocking threads per worker, for Potluck (WEB_THREADS, as `potluck serve` reads it) and
# the ceilings alike.
THREADS = int(os.environ.get("WEB_THREADS", 4))
USERNAME = "bencher"
PASSWORD = "benchmark passphrase"  # noqa: S105 - a throwaway account on a throwaway database
UNLIMITED = "100000000 per minute"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def environment(instance: Path, database_url: str | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "POTLUCK_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url or f"sqlite:///{instance / 'bench.db'}",
        "POTLUCK_INSTANCE_PATH": str(instance),
        "ACCESS_LOG": "0",
        # One load generator on one address is not the crowd the limits are for.
        "READ_RATE_LIMIT": UNLIMITED,
        "WRITE_RATE_LIMIT": UNLIMITED,
        "LOGIN_RATE_LIMIT": UNLIMITED,
        # A moving window keeps a timestamp per request: at millions a minute from one client
        # each count would cost O(n). Real clients' 600 a minute cost the same either way.
        "RATELIMIT_STRATEGY": "sliding-window-counter",
    }


def run(command: list[str], env: dict[str, str], answers: str | None = None) -> str:
    done = subprocess.run(
        command, env=env, input=answers, capture_output=True, text=True, check=True
    )
    return done.stdout


class Server:
    """A server process group on a free loopback port, stopped by its PID."""

    def __init__(self, command: list[str], env: dict[str, str], port: int) -> None:
        self.port = port
        self.process = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited with {self.process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{command[0]} did not start listening on {port}")

    def _workers(self) -> list[str]:
        """The children of the server process."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return children.read_text().split()

    def _cpu_seconds(self) -> float:
        ticks = 0
        for pid in [str(self.process.pid), *self._workers()]:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except FileNotFoundError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def wait_idle(self, timeout: float = 60) -> bool:
        """Wait until the workers have worked through what the last load left queued (wrk
        stops waiting at the end of a row, the workers do not): two quarter seconds in a
        row in which the server used under 5 % of a core."""
        quiet, give_up, last = 0, time.monotonic() + timeout, self._cpu_seconds()
        while quiet < 2 and time.monotonic() < give_up:
            time.sleep(0.25)
            now = self._cpu_seconds()
            quiet, last = (quiet + 1 if now - last < 0.0125 else 0), now
        return quiet >= 2

    def worker_peak_rss_mib(self) -> list[float]:
        """VmHWM of each worker."""
        peaks = []
        for pid in self._workers():
            status = Path(f"/proc/{pid}/status").read_text()
            kib = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
            peaks.append(round(kib / 1024, 1))
        return peaks

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            # Still working through requests a load left queued: they are not wanted.
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


def seeded_instance(
    size: int, database_url: str | None = None
) -> tuple[Path, dict[str, str], float]:
    """A fresh instance folder and database of `size` published recipes by 200 authors, a
    fiftieth as many drafts besides (a site's unpublished work, which every public list and
    search must pass by), and a confirmed account to sign in and write with; the seconds
    the seeding took."""
    instance = Path(tempfile.mkdtemp(prefix=f"potluck-bench-{size}-"))
    env = environment(instance, database_url)
    try:
        run([str(BIN / "potluck"), "setup"], env)
        started = time.perf_counter()
        seed = ["seed", "--recipes", str(size), "--users", "200", "--drafts", str(size // 50)]
        run([str(BIN / "potluck"), *seed], env)
        seeding = time.perf_counter() - started
        # Registration through the API waits for a mail; the command confirms at once.
        account = [str(BIN / "potluck"), "user", "create", USERNAME, "bench@example.com"]
        run(account, env, answers=f"{PASSWORD}\n{PASSWORD}\n")
    except BaseException:
        shutil.rmtree(instance, ignore_errors=True)
        raise
    return instance, env, seeding


def serve_potluck(env: dict[str, str]) -> Server:
    port = free_port()
    command = [str(BIN / "potluck"), "serve", "--port", str(port), "--workers", str(WORKERS)]
    return Server(command, env, port)


def serve_ceiling(module: str) -> Server:
    """bench/<module>.py's `app` on the settings `potluck serve` uses (cli/__init__.py)."""
    port = free_port()
    command = [
        str(BIN / "granian"),
        "--interface",
        "wsgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(WORKERS),
        "--blocking-threads",
        str(THREADS),
        "--no-ws",
        f"{module}:app",
    ]
    return Server(command, {**os.environ, "PYTHONPATH": str(BENCH)}, port)
