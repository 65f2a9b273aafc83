"""Profile a node process from its first line to its exit, for `bench/bulk_index.py --profile`.

Python imports `sitecustomize` at start-up from any folder on PYTHONPATH; the benchmark
puts this folder there, with STRATA_BENCH_PROFILE set, only for the node it starts. The
profiler (cProfile or pyinstrument) watches the main thread, which runs the event loop.

Why a signal handler: uvicorn catches SIGTERM, shuts down gracefully, restores the
previous handler and raises the signal again, so with the default handler the process
dies without running atexit hooks (`python -m cProfile -m strata_node` then writes
nothing). The handler installed here is the "previous handler" uvicorn restores: it
writes the profile, then lets SIGTERM end the process as usual.
"""

from __future__ import annotations

import atexit
import os
import signal

# Taken out of the environment: processes the node starts (its indexing worker) inherit
# it, and would otherwise profile themselves into the same files.
_KIND = os.environ.pop("STRATA_BENCH_PROFILE", "")
_OUT = os.environ.pop("STRATA_BENCH_PROFILE_OUT", "/tmp/strata-node-profile")


def _install() -> None:
    done = False
    if _KIND == "cprofile":
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()

        def write() -> None:
            profiler.disable()
            profiler.dump_stats(_OUT + ".prof")
    elif _KIND == "pyinstrument":
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001, async_mode="disabled")
        profiler.start()

        def write() -> None:
            session = profiler.stop()
            session.save(_OUT + ".pyisession")
            with open(_OUT + ".txt", "w") as f:
                f.write(profiler.output_text(unicode=True, color=False, show_all=False))
    else:
        return

    def write_once() -> None:
        nonlocal done
        if not done:
            done = True
            write()

    def on_term(signum, frame) -> None:
        write_once()
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)

    atexit.register(write_once)
    signal.signal(signal.SIGTERM, on_term)


_install()
