"""One thread for the process's in-process model work (load, warm-up, generate, encode), whoever asks for it.

torch's CPU build runs its kernels on GNU OpenMP, and libgomp gives every thread that enters a parallel region a
pool of worker threads of its own. While the pools together hold more threads than the machine has CPUs, libgomp
stops letting an idle worker spin for the next kernel (its "throttled" spin count: 100 spins instead of about
300,000), so every gap between two kernels becomes a sleep and a wake-up. On the 2-core machine that is what two
threads touching torch cost: the local model loaded on the main thread and run on the batcher's thread made
~20,000-30,000 voluntary context switches per batch of 16 x 32 tokens instead of ~60, and generated 20-30 % fewer
tokens per second (bench/bench_pipeline.py's batcher and pipeline sides against raw). A pool lives as long as its
thread, so the only cure is that one thread does it all: `run(fn, ...)` calls `fn` on that thread and returns its
result (or raises its exception) to the caller, on whatever thread or event loop the caller is.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")

_jobs: queue.SimpleQueue = queue.SimpleQueue()
_thread: threading.Thread | None = None
_lock = threading.Lock()


def _serve() -> None:
    while True:
        future, fn, args, kwargs = _jobs.get()
        if not future.set_running_or_notify_cancel():
            continue
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, who raises it
            future.set_exception(exc)


def _ensure_thread() -> None:
    global _thread
    with _lock:
        if _thread is None or not _thread.is_alive():
            # a daemon: a job still running when the process ends (Ctrl-C during a model load) does not hold it
            _thread = threading.Thread(target=_serve, name="mathaug-torch", daemon=True)
            _thread.start()


def on_torch_thread() -> bool:
    return _thread is not None and threading.current_thread() is _thread


def _submit(fn: Callable[..., T], args: tuple, kwargs: dict) -> Future:
    _ensure_thread()
    future: Future = Future()
    _jobs.put((future, fn, args, kwargs))
    return future


def run(fn: Callable[..., T], *args, **kwargs) -> T:
    """`fn(*args, **kwargs)` on the torch thread (directly when already there); blocks the caller until it ends."""
    if on_torch_thread():
        return fn(*args, **kwargs)
    return _submit(fn, args, kwargs).result()


async def run_async(fn: Callable[..., T], *args, **kwargs) -> T:
    """`run` for a coroutine: the event loop goes on while `fn` runs on the torch thread."""
    return await asyncio.wrap_future(_submit(fn, args, kwargs))
