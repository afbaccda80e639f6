"""Gathers concurrent chat() calls into batches for in-process engines (transformers, vLLM).

Callers on any thread or event loop submit requests; one worker thread owns the engine, takes whatever is
waiting (up to `max_batch` completions with the same sampling params), runs it as one batch and resolves each
caller's future. So augmenters stay straight-line `await llm.chat(...)` code and the engine stays full.
"""

from __future__ import annotations

import asyncio
import dataclasses
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

from core.llm.base import Completion, GenParams, Message, UsageCounter


@dataclass
class Request:
    messages: list[Message]
    n: int
    params: GenParams
    future: Future = field(default_factory=Future)


@dataclass
class BatchTiming:
    """What one batch was and where the worker's time went around it."""

    requests: int
    completions: int
    idle_s: float  # waiting for the batch's first request (nothing queued)
    gather_s: float  # from the first request to the batch closing (waiting for more within gather_ms)
    run_s: float  # generate_batch


class BatchingBackend:
    """Base of in-process backends: subclasses implement `generate_batch(requests)`."""

    name = "batching"

    def __init__(self, max_batch: int = 16, gather_ms: float = 20.0) -> None:
        self.max_batch = max_batch
        self.gather_s = gather_ms / 1000
        self.usage = UsageCounter()
        self._queue: queue.Queue[Request | None] = queue.Queue()
        self._held: list[Request] = []  # taken from the queue but of other params than the batch being built
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batch_log: list[BatchTiming] = []  # one entry per batch run, for batch_stats()
        self._first_at = 0.0  # when the batch being built got its first request

    # -- to implement ---------------------------------------------------------------------------------------------
    @staticmethod
    def batch_key(params: GenParams) -> GenParams:
        """Requests with equal keys share a batch; by default they may differ in seed (the engine seeds per request)."""
        return dataclasses.replace(params, seed=None)

    def generate_batch(self, requests: list[Request]) -> list[list[Completion]]:
        """Run the requests (equal batch_key) as one batch; return each request's `n` completions, in order."""
        raise NotImplementedError

    # -- the protocol -----------------------------------------------------------------------------------------------
    async def chat(self, messages: list[Message], n: int = 1, params: GenParams = GenParams()) -> list[Completion]:
        request = Request(messages=messages, n=n, params=params)
        self._ensure_worker()
        self._queue.put(request)
        completions = await asyncio.wrap_future(request.future)
        self.usage.add(completions)
        return completions

    def close(self) -> None:
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=30)
            self._worker = None

    # -- the worker -------------------------------------------------------------------------------------------------
    def _ensure_worker(self) -> None:
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._loop, name=f"{self.name}-batcher", daemon=True)
                self._worker.start()

    def batch_stats(self) -> dict:
        """Batches run so far: how many, their sizes, and the worker's idle / gather / generate seconds."""
        log = list(self.batch_log)
        sizes: dict[int, int] = {}
        for b in log:
            sizes[b.completions] = sizes.get(b.completions, 0) + 1
        return {
            "batches": len(log),
            "completions_per_batch": dict(sorted(sizes.items())),
            "max_batch": self.max_batch,
            "idle_s": round(sum(b.idle_s for b in log), 3),
            "gather_s": round(sum(b.gather_s for b in log), 3),
            "generate_s": round(sum(b.run_s for b in log), 3),
            "first_batches": [(b.completions, round(b.run_s, 2)) for b in log[:8]],  # (completions, seconds)
        }

    def _next_batch(self) -> list[Request] | None:
        """Block for one request, then gather more with the same params for up to `gather_s`."""
        first = self._held.pop(0) if self._held else self._queue.get()
        if first is None:
            return None
        self._first_at = time.monotonic()
        batch, size = [first], first.n
        key = self.batch_key(first.params)
        # held requests with the same params join first (they waited longest)
        for req in list(self._held):
            if size >= self.max_batch:
                break
            if self.batch_key(req.params) == key:
                self._held.remove(req)
                batch.append(req)
                size += req.n
        deadline = time.monotonic() + self.gather_s
        while size < self.max_batch:
            timeout = deadline - time.monotonic()
            try:
                req = self._queue.get(timeout=max(timeout, 0)) if timeout > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if req is None:
                self._queue.put(None)  # keep the stop signal for after this batch
                break
            if self.batch_key(req.params) == key:
                batch.append(req)
                size += req.n
            else:
                self._held.append(req)
        return batch

    def _loop(self) -> None:
        while True:
            waiting = time.monotonic()
            batch = self._next_batch()
            if batch is None:
                return
            gathered = time.monotonic()
            try:
                results = self.generate_batch(batch)
                done = time.monotonic()
                self.batch_log.append(
                    BatchTiming(len(batch), sum(r.n for r in batch), self._first_at - waiting,
                                gathered - self._first_at, done - gathered)
                )  # fmt: skip
                for req, completions in zip(batch, results, strict=True):
                    req.future.set_result(completions)
            except BaseException as exc:  # hand the error to every waiting caller
                for req in batch:
                    if not req.future.done():
                        req.future.set_exception(exc)
