"""The shards of `flows run augment-gsm8k`: each (problem, augmenter) pair of a shard run against the backend and
journaled at once, in the flow's own event loop or on a Prefect task runner (threads, Dask, Ray)."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import importlib.util
import logging
import threading
from pathlib import Path

import prefect.task_engine  # noqa: F401 - Prefect imports it at a flow's first task (0.14 s): here, with the rest
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from augmenters.base import AugmentConfig
from augmenters.registry import get_augmenter
from core.errors import UserError
from core.journal import Journal
from core.llm import LLM, GenParams, UsageCounter, make_backend
from core.llm.openai_backend import ServerBroken
from core.llm.replay import ReplayLLM
from flows.progress import Progress


@dataclasses.dataclass
class Shard:
    """A Prefect task's share of the work: its pairs, the stored replies of those pairs, the finished ones."""

    name: str
    pairs: list[tuple[dict, str]]
    stored: dict[tuple[str, str], dict] = dataclasses.field(default_factory=dict)
    rebuild: set[tuple[str, str]] = dataclasses.field(default_factory=set)


class RunControl:
    """What every shard of a run checks before it starts a pair: set once the backend says the server is broken."""

    def __init__(self) -> None:
        self.stopped: str | None = None


async def _augment_pairs(
    shard: Shard,
    llm: LLM,
    cfg: AugmentConfig,
    journal_dir: Path,
    in_flight: asyncio.Semaphore,
    progress: Progress | None,
    control: RunControl | None = None,
) -> dict:
    """Run every (problem, augmenter) pair of one shard through a replay view of the backend.

    A new pair's replies and then the pair itself are journaled as it finishes. A pair in `shard.rebuild` was
    finished before: it runs again on its stored replies (no model call unless it now asks something new) and its
    samples come back in the result instead of being journaled twice. When the backend says the server is broken,
    the shard stops starting pairs and reports the cause.
    """
    logger = get_run_logger()
    writer = Journal(journal_dir).writer(shard.name)
    stored, rebuild = shard.stored, shard.rebuild
    control = control or RunControl()
    failures: list[str] = []
    rebuilt: list[list] = []
    replayed = 0

    async def one(problem: dict, name: str) -> None:
        nonlocal replayed
        pair = (problem["id"], name)
        async with in_flight:
            if control.stopped:
                return
            view = ReplayLLM(llm, stored.get(pair), functools.partial(writer.append_reply, problem["id"], name))
            try:
                samples = await get_augmenter(name)(problem, view, cfg)
            except ServerBroken as exc:
                control.stopped = control.stopped or exc.cause
                return
            except Exception as exc:  # noqa: BLE001 - one failed pair must not end the run; it is retried next run
                message = f"{name} on {problem['id']}: {type(exc).__name__}: {exc}"[:300]
                if pair in rebuild:  # its journaled samples stand
                    logger.warning("could not rebuild from stored replies, kept as journaled: %s", message)
                else:
                    failures.append(message)
                    logger.warning("failed: %s", message)
            else:
                if pair in rebuild:
                    rebuilt.append([problem["id"], name, samples])
                else:
                    await writer.append_durably(problem["id"], name, samples, replayable=True)
            finally:
                replayed += view.replayed
        if progress is not None:
            await progress.advance()

    try:
        await asyncio.gather(*(one(problem, name) for problem, name in shard.pairs))
    finally:
        writer.close()
    return {
        "shard": shard.name,
        "pairs": len(shard.pairs),
        "failures": failures,
        "rebuilt": rebuilt,
        "replayed": replayed,
        "stopped": control.stopped,
    }


@task(name="augment-shard", cache_policy=NO_CACHE)
async def augment_shard(
    shard: Shard,
    llm: LLM,
    cfg: AugmentConfig,
    journal_dir: Path,
    in_flight: asyncio.Semaphore,
    progress: Progress,
    control: RunControl,
) -> dict:
    """A shard awaited in the flow's own event loop, sharing its backend, in-flight bound, progress and stop."""
    return await _augment_pairs(shard, llm, cfg, journal_dir, in_flight, progress, control)


async def run_shards_in_loop(
    shards: list[Shard],
    llm: LLM,
    cfg: AugmentConfig,
    journal_dir: Path,
    pairs_in_flight: int,
    progress: Progress,
    control: RunControl,
) -> list[dict]:
    """Every shard in the flow's event loop, sharing one backend, one in-flight bound of pairs, progress and stop.

    Only a few shards run at a time: enough for their pairs to keep the in-flight bound full while one shard
    finishes its last pairs and the next one starts. Starting all shards at once made every shard's Prefect task
    run (~20 ms of CPU each) begin before the first request; started in turn, that work hides behind the requests
    in flight. A shard not yet started when the run stops is not started.
    """
    in_flight = asyncio.Semaphore(pairs_in_flight)
    pairs_per_shard = max(1, sum(len(shard.pairs) for shard in shards) // max(1, len(shards)))
    running = asyncio.Semaphore(-(-pairs_in_flight // pairs_per_shard) + 2)

    async def one_shard(shard: Shard) -> dict:
        async with running:
            if control.stopped:
                return {"shard": shard.name, "pairs": 0, "failures": [], "rebuilt": [], "stopped": control.stopped}
            # quote(): Prefect would walk each shard's problems and stored replies looking for futures
            return await augment_shard(quote(shard), llm, cfg, journal_dir, in_flight, progress, control)

    return list(await asyncio.gather(*(one_shard(shard) for shard in shards)))


# --- shards on a Prefect task runner (threads, Dask, Ray) ---------------------------------------------------------

TASK_RUNNERS = ("loop", "threads", "dask", "ray")
# in-process engines (core.llm.batching) take chat() calls from any thread or event loop; the openai backend's
# clients and semaphore belong to the event loop that made them
THREAD_SAFE_BACKENDS = ("local", "vllm")


@dataclasses.dataclass(frozen=True)
class BackendSpec:
    """The backend options as a picklable recipe, so a shard on another thread or process builds its own."""

    backend: str
    model: str | None = None
    base_url: str | None = None
    concurrency: int = 32
    max_batch: int | None = None
    request_timeout: float = 120.0
    max_retries: int = 6
    tensor_parallel_size: int = 1  # vLLM engine options (core.llm.vllm_options)
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None
    dtype: str = "auto"
    trust_remote_code: bool = False

    def build(self) -> LLM:
        options = dataclasses.asdict(self)
        return make_backend(options.pop("backend"), **options)


_worker_backends: dict[BackendSpec, LLM] = {}
_worker_backends_lock = threading.Lock()


def _worker_backend(spec: BackendSpec) -> LLM:
    """An in-process engine loads once per worker process, then every shard there shares it."""
    with _worker_backends_lock:
        if spec not in _worker_backends:
            _worker_backends[spec] = spec.build()
        return _worker_backends[spec]


class _CountedLLM:
    """One shard's view of a shared backend: counts that shard's own usage."""

    def __init__(self, inner: LLM) -> None:
        self.inner, self.name, self.usage = inner, inner.name, UsageCounter()

    async def chat(self, messages: list, n: int = 1, params: GenParams = GenParams()) -> list:
        completions = await self.inner.chat(messages, n=n, params=params)
        self.usage.add(completions)
        return completions

    def close(self) -> None:
        pass


@task(name="augment-shard", cache_policy=NO_CACHE)
async def augment_shard_on_worker(
    shard: Shard,
    backend: LLM | BackendSpec,
    cfg: AugmentConfig,
    journal_dir: Path,
    concurrency: int,
) -> dict:
    """A shard run by a task runner in its own event loop (a worker thread, or a Dask / Ray worker process).

    `backend` is the flow's own thread-safe engine (threads) or a BackendSpec: an openai backend is built per
    shard (it belongs to this shard's event loop); a local / vllm engine loads once per worker process.
    The result carries the shard's usage when it did not use the flow's own backend object.
    """
    if not isinstance(backend, BackendSpec):
        result = await _augment_pairs(shard, backend, cfg, journal_dir, asyncio.Semaphore(concurrency), None)
        return {**result, "usage": None}
    shared = backend.backend in THREAD_SAFE_BACKENDS
    llm: LLM = _CountedLLM(_worker_backend(backend)) if shared else backend.build()
    try:
        result = await _augment_pairs(shard, llm, cfg, journal_dir, asyncio.Semaphore(concurrency), None)
    finally:
        if not shared:
            llm.close()
    return {**result, "usage": dataclasses.asdict(llm.usage)}


# the optional task runners: the package each needs, and the sentence when it is missing
_OPTIONAL_RUNNERS = {
    "dask": ("prefect_dask", "--task-runner dask needs prefect-dask: install it with `pip install 'mathaug[scale]'`."),
    "ray": ("prefect_ray", "--task-runner ray needs prefect-ray: install it with `pip install prefect-ray`."),
}


def check_task_runner(name: str) -> None:
    """Refuse a task runner whose package is not installed, without importing it (a command line checks this
    before Prefect starts)."""
    if name in _OPTIONAL_RUNNERS and importlib.util.find_spec(_OPTIONAL_RUNNERS[name][0]) is None:
        raise UserError(_OPTIONAL_RUNNERS[name][1])


def make_task_runner(name: str, workers: int | None = None, address: str | None = None):
    """The Prefect task runner named by --task-runner (None for `loop`); Dask and Ray only when installed."""
    if name == "loop":
        return None
    if workers is not None and workers < 1:
        raise UserError("--workers must be at least 1.")
    if name == "threads":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=workers or 4)
    if name == "dask":
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError:
            raise UserError(_OPTIONAL_RUNNERS["dask"][1]) from None
        if address:
            return DaskTaskRunner(address=address)
        logging.getLogger("distributed").setLevel(logging.WARNING)  # a local cluster's start/stop chatter
        return DaskTaskRunner(cluster_kwargs={"n_workers": workers or 2, "threads_per_worker": 1})
    if name == "ray":
        try:
            from prefect_ray import RayTaskRunner
        except ImportError:
            raise UserError(_OPTIONAL_RUNNERS["ray"][1]) from None
        init_kwargs = {"num_cpus": workers} if workers and not address else None
        return RayTaskRunner(address=address, init_kwargs=init_kwargs)
    raise UserError(f"Unknown task runner {name!r}; choose one of {', '.join(TASK_RUNNERS)}.")


async def run_shards_on(
    runner,
    shards: list[Shard],
    backend: LLM | BackendSpec,
    cfg: AugmentConfig,
    journal_dir: Path,
    concurrency: int,
    progress: Progress,
) -> list[dict]:
    """Submit every shard to the task runner; advance the progress as shards finish, in the flow's loop."""
    from prefect.futures import as_completed

    loop = asyncio.get_running_loop()

    def submit_and_wait() -> list[dict]:
        with runner:
            futures = [
                runner.submit(
                    augment_shard_on_worker,
                    parameters=dict(
                        shard=shard,
                        backend=backend,
                        cfg=cfg,
                        journal_dir=journal_dir,
                        concurrency=concurrency,
                    ),
                )
                for shard in shards
            ]
            results = []
            for future in as_completed(futures):
                result = future.result()
                asyncio.run_coroutine_threadsafe(progress.advance(result["pairs"]), loop).result()
                results.append(result)
            return results

    return await asyncio.to_thread(submit_and_wait)
