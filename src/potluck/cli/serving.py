"""The process `potluck serve` becomes: granian's own command line, with its workers
starting on the default stop signals.

Granian's main process installs its SIGTERM/SIGINT handlers before it forks the workers,
and a worker keeps that copy until it has loaded the app and put up its own. A SIGTERM the
main process forwards in that window only set a flag in the worker's copy, and the main
process then waited for that worker forever (measured: 3 of 4 stops during start-up hung).
With the default handlers back, a worker still loading (with no request to finish) just ends.
The stop signals are held across the fork, so none reaches a new worker before its reset.
"""

from __future__ import annotations

import os
import signal
import sys

_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def _hold_stop_signals() -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)


def _release_stop_signals() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


def _default_stop_signals() -> None:
    for signum in _STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    _release_stop_signals()  # one that came meanwhile now ends the worker


def main() -> None:
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
