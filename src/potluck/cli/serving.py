"""The process `potluck serve` becomes: granian's own command line, with its workers
starting on the default stop signals.

Granian's main process installs its SIGTERM/SIGINT handlers before it forks the workers,
and a worker keeps that copy until it has loaded the app and put up its own. A SIGTERM the
main process forwards in that window only set a flag in the worker's copy, and the main
process then waited for that worker forever (measured: 3 of 4 stops during start-up hung).
With the default handlers back, a worker still loading (with no request to finish) just ends.
The stop signals are held across the fork, so none reaches a new worker before its reset.

Each worker loads the app through `served_app`, which also compiles every template and loads
the image codecs before the worker takes its first request: otherwise the first page of each
kind, and the first upload, pay for them while a visitor waits (measured by `make soak` as
the first minute's p99), and the worker's memory steps up in mid-service.

Memory: glibc raises its mmap threshold each time a large block is freed, so after the first
cover upload the next image's buffers come from a thread's heap arena, and freed they stay
resident (about 90 MiB a worker, measured by `make soak`). A fixed threshold gives big
buffers back to the system when freed, and two arenas keep the blocking threads' heaps from
multiplying. Set before granian forks, the workers inherit both.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def _hold_stop_signals() -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)


def _release_stop_signals() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


def _default_stop_signals() -> None:
    for signum in _STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    _release_stop_signals()  # one that came meanwhile now ends the worker


# mallopt(3) parameters, and the values: glibc's default first threshold, two arenas.
_M_MMAP_THRESHOLD, _M_ARENA_MAX = -3, -8
_MMAP_THRESHOLD_BYTES, _ARENAS = 128 * 1024, 2


def _give_large_buffers_back() -> None:
    """Fix glibc's allocator settings for this process and the workers it forks (see the
    module's text); a setting the environment gives (MALLOC_*_) is left as it is."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return
    libc = ctypes.CDLL(libc_name)
    if not hasattr(libc, "mallopt"):
        return  # not glibc (musl has no mallopt)
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)
    if "MALLOC_ARENA_MAX" not in os.environ:
        libc.mallopt(_M_ARENA_MAX, _ARENAS)


def served_app() -> Flask:
    """The app a worker serves (granian's factory), warmed as the module's text says."""
    from PIL import Image

    from potluck.app import create_app

    app = create_app()
    Image.init()  # every codec plugin, with the libraries behind them
    for name in app.jinja_env.list_templates(filter_func=lambda name: name.endswith(".html")):
        app.jinja_env.get_template(name)  # compiled once, kept in the environment's cache
    return app


def main() -> None:
    _give_large_buffers_back()
    os.register_at_fork(
        before=_hold_stop_signals,
        after_in_parent=_release_stop_signals,
        after_in_child=_default_stop_signals,
    )
    from granian.cli import entrypoint

    sys.argv[0] = "granian"
    entrypoint()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()
