"""`flows run augment-gsm8k`: load -> shard problems -> augment shards -> answer check -> exact dedup -> write.

Each finished (problem, augmenter) pair goes to the run's journal at once, so re-running the same command on
the same --out skips finished work: nothing regenerated, nothing lost, nothing duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import hashlib
import json
import logging
import math
import threading
import time
from pathlib import Path

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from augmenters.answer_aug import ANSAUG_MODES, check_mode, pass_rates
from augmenters.base import AugmentConfig
from augmenters.perturb import program_origins
from augmenters.registry import AUGMENTERS, DEFAULT_AUGMENTERS, get_augmenter, parse_augmenters
from core.datasets import load_problems
from core.errors import UserError
from core.funnel import format_funnel, funnel
from core.journal import Journal
from core.llm import BACKENDS, LLM, GenParams, UsageCounter, make_backend
from core.llm.openai_backend import ServerBroken
from core.llm.replay import ReplayLLM
from core.llm.vllm_options import add_engine_arguments, engine_options
from core.run_files import write_dataset, write_json, write_parquet
from core.schemas import PRIMED_STYLES, samples_frame
from core.text_files import read_json
from filters.answer_check import check_answers
from filters.best_of_n import select_best_of_n
from filters.embeddings import Embedder
from filters.exact_dedup import drop_equation_duplicates, drop_exact_duplicates
from filters.stages import (
    check_options,
    decontaminate_stage,
    get_scorer,
    muggle_label_stage,
    near_dedup_stage,
    score_stage,
)
from flows.command import FlowCommand
from flows.diversity_report import diversity_report
from flows.options import (
    comma_list,
    finite_float,
    integer,
    nonnegative_float,
    nonnegative_int,
    out_folder,
    positive_float,
    positive_int,
    problems_source,
    share,
    url_list,
)
from flows.outcome import fails_cleanly, result_of
from flows.progress import Progress

# settings that change what the model replies: a resumed run must use the same ones. Anything else (parsers,
# filters, labelling thresholds) may change, since finished pairs are rebuilt from their stored replies.
GENERATION_SETTINGS = ("backend", "model", "temperature", "max_tokens", "seed", "prompts")
_PROMPT_NAME_ENDS = ("_SYSTEM", "_SHOTS", "_SUFFIX", "_QUESTION", "KINDS")


def prompts_digest() -> str:
    """A hash of every augmenter's prompt texts (system prompts, few-shot examples, fixed question parts)."""
    import importlib

    modules = ["augmenters.base", *sorted(AUGMENTERS.values())]
    texts = {}
    for name in modules:
        module = importlib.import_module(name)
        for attr, value in sorted(vars(module).items()):
            if attr.isupper() and attr.endswith(_PROMPT_NAME_ENDS):
                texts[f"{name}.{attr}"] = value
    return hashlib.sha256(json.dumps(texts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _check_run_settings(out: Path, settings: dict) -> None:
    path = out / "run.json"
    if path.exists():
        before = read_json(path, "run settings file")
        if not isinstance(before, dict):
            raise UserError(f"{path} is not a run's settings; use a new --out, or delete it to start the run again.")
        # a run.json from before a setting was recorded says nothing about it
        changed = [k for k in GENERATION_SETTINGS if k in before and before.get(k) != settings.get(k)]
        if changed:
            k = changed[0]
            if k == "prompts":
                raise UserError(
                    f"{out} holds a run made with other prompt texts than this version's; use a new --out "
                    "(its stored replies answer the old prompts only)."
                )
            raise UserError(
                f"{out} holds a run made with {k}={before.get(k)!r}, not {settings.get(k)!r}; "
                "use the same options to resume it, or a new --out."
            )
    write_json(settings, path)


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
            raise UserError(
                "--task-runner dask needs prefect-dask: install it with `pip install 'mathaug[scale]'`."
            ) from None
        if address:
            return DaskTaskRunner(address=address)
        logging.getLogger("distributed").setLevel(logging.WARNING)  # a local cluster's start/stop chatter
        return DaskTaskRunner(cluster_kwargs={"n_workers": workers or 2, "threads_per_worker": 1})
    if name == "ray":
        try:
            from prefect_ray import RayTaskRunner
        except ImportError:
            raise UserError("--task-runner ray needs prefect-ray: install it with `pip install prefect-ray`.") from None
        init_kwargs = {"num_cpus": workers} if workers and not address else None
        return RayTaskRunner(address=address, init_kwargs=init_kwargs)
    raise UserError(f"Unknown task runner {name!r}; choose one of {', '.join(TASK_RUNNERS)}.")


async def _run_shards_on(
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


@dataclasses.dataclass(frozen=True)
class FilterOptions:
    scorer: str | None = None  # orm, prm-qwen, prm-shepherd, verifier, mc
    scorer_model: str | None = None
    best_of: int | None = None
    min_score: float | None = None
    prm_aggregate: str = "min"
    mc_n: int = 4  # --scorer mc: rollouts per step prefix
    mc_neutral: str = "soft"  # --scorer mc: a neutral step scores its soft estimate, or counts as positive / negative
    dedup_equations: bool = False  # also drop a correct solution whose sequence of equations an earlier one has (RFT)
    muggle_agreement: float = 0.5
    dedup_threshold: float | None = 0.98  # None: no near-duplicate removal
    decontaminate: str | None = "gsm8k-test"  # None: no decontamination
    trust_remote_code: bool = False  # a scorer checkpoint's own model class may load (--trust-remote-code)


async def filter_samples(
    samples: pl.DataFrame, problems: pl.DataFrame, opts: FilterOptions, llm: LLM | None = None
) -> pl.DataFrame:
    """Every filter in order, on a fixed row order, so every run over the same samples decides alike.

    score (all samples) -> Muggle labels by score-weighted vote -> answer check -> best-of-N -> exact dedup ->
    near dedup -> decontamination. Each drop keeps its reason, so the funnel shows each filter on its own line.
    """
    samples = samples.sort(["parent_id", "type", "variant"])
    if opts.scorer:
        mc = {"n": opts.mc_n, "neutral": opts.mc_neutral} if opts.scorer == "mc" else {}
        scorer = get_scorer(
            opts.scorer,
            opts.scorer_model,
            llm=llm,
            prm_aggregate=opts.prm_aggregate,
            trust_remote_code=opts.trust_remote_code,
            **mc,
        )
        samples = await score_stage(samples, scorer)
        samples = muggle_label_stage(samples, agreement=opts.muggle_agreement)
    samples = check_answers(samples)
    if opts.scorer:
        samples = select_best_of_n(samples, best_of=opts.best_of, min_score=opts.min_score)
    samples = drop_exact_duplicates(samples)
    if opts.dedup_equations:
        samples = drop_equation_duplicates(samples)
    if opts.dedup_threshold is not None or opts.decontaminate:
        embedder = Embedder()
        samples = near_dedup_stage(samples, dedup_threshold=opts.dedup_threshold, problems=problems, embedder=embedder)
        samples = decontaminate_stage(samples, decontaminate=opts.decontaminate, embedder=embedder)
    return samples


@flow(name="augment-gsm8k")
@fails_cleanly
async def augment_gsm8k(
    dataset: str = "sample",
    split: str = "train",
    limit: int | None = None,
    augmenters: tuple[str, ...] = DEFAULT_AUGMENTERS,
    backend: str = "local",
    model: str | None = None,
    base_url: str | None = None,
    out: str = "runs/augment-gsm8k",
    config: dict | None = None,
    filters: dict | None = None,
    report: bool = True,
    select_budget: int | None = None,
    shard_size: int = 64,
    concurrency: int = 32,
    max_batch: int | None = None,
    task_runner: str = "loop",
    workers: int | None = None,
    runner_address: str | None = None,
    request_timeout: float = 120.0,
    max_retries: int = 6,
    engine: dict | None = None,
) -> dict:
    """Augment GSM8K-form problems with the chosen augmenters; returns the funnel and output paths."""
    logger = get_run_logger()
    cfg = AugmentConfig(**(config or {}))
    filter_opts = FilterOptions(**(filters or {}))
    check_options(
        scorer=filter_opts.scorer,
        best_of=filter_opts.best_of,
        min_score=filter_opts.min_score,
        dedup_threshold=filter_opts.dedup_threshold,
        decontaminate=filter_opts.decontaminate,
    )
    out_dir = Path(out)
    runner = make_task_runner(task_runner, workers, runner_address)
    problems = load_problems(dataset, limit=limit, split=split)
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = BackendSpec(backend, model, base_url, concurrency, max_batch, request_timeout, max_retries, **(engine or {}))
    llm = spec.build()
    try:
        settings = {
            "backend": backend,
            "model": llm.name,
            "dataset": dataset,
            **dataclasses.asdict(cfg),
            "prompts": prompts_digest(),
        }
        _check_run_settings(out_dir, settings)
        write_parquet(problems, out_dir / "problems.parquet")

        journal = Journal(out_dir / "journal")
        rows = problems.to_dicts()
        shards, total, skipped = _plan_shards(journal, rows, augmenters, shard_size)
        rebuilding = sum(len(shard.rebuild) for shard in shards)
        logger.info(
            "%d problems x %d augmenters: %d to do, %d done before (%d of them rebuilt from their stored replies)",
            len(rows), len(augmenters), total, skipped, rebuilding,
        )  # fmt: skip

        started = time.monotonic()
        status = getattr(llm, "status", None)
        progress = Progress(total + rebuilding, "augment (problem x augmenter)", key="augment-progress", status=status)
        await progress.start()
        control = RunControl()
        if runner is None:  # every shard in this event loop, sharing one backend and one in-flight bound
            # pairs in flight: enough to fill every URL's concurrency ceiling
            in_flight = asyncio.Semaphore(concurrency * max(1, len(getattr(llm, "base_urls", []) or [])))
            journal_dir = out_dir / "journal"
            results = await asyncio.gather(
                # quote(): Prefect would walk each shard's problems and stored replies looking for futures
                *(augment_shard(quote(shard), llm, cfg, journal_dir, in_flight, progress, control) for shard in shards)
            )
        else:
            # threads share the flow's engine where it is thread-safe; anything else builds its own from the options
            shared = task_runner == "threads" and backend in THREAD_SAFE_BACKENDS
            logger.info("shards run on the %s task runner", task_runner)
            results = await _run_shards_on(
                runner, shards, llm if shared else spec, cfg, out_dir / "journal", concurrency, progress
            )
        progress.close()
        elapsed = time.monotonic() - started
        stopped = next((r["stopped"] for r in results if r.get("stopped")), None)
        if stopped:
            kept = len(journal.done())
            raise UserError(
                f"Stopped: {stopped}; the {kept} finished problem/augmenter pairs are kept in {out_dir / 'journal'}, "
                "and the same command resumes the run."
            )
        failures = [f for r in results for f in r["failures"]]
        usage = llm.usage
        for shard_usage in (r.get("usage") for r in results):
            if shard_usage:
                usage = _add_usage(usage, shard_usage)

        rebuilt = {(pid, name): samples for r in results for pid, name, samples in r.get("rebuilt", [])}
        generated = [
            s
            for record in journal.records()
            for s in rebuilt.get((record["problem_id"], record["augmenter"]), record["samples"])
        ]
        samples = await filter_samples(samples_frame(generated), problems, filter_opts, llm)
        write_parquet(samples, out_dir / "samples.parquet")
        if "ansaug" in augmenters:  # DART-Math's difficulty signal: the share of a problem's AnsAug samples right
            write_parquet(pass_rates(samples), out_dir / "pass_rates.parquet")
        train = write_dataset(samples, out_dir / "dataset")
        stats = {
            "funnel": funnel(samples),
            "problems": len(rows),
            "augmenters": list(augmenters),
            "pairs_done_now": total - len(failures),
            "pairs_skipped_as_done": skipped,
            "pairs_rebuilt_from_replies": len(rebuilt),
            "requests_replayed": sum(r.get("replayed", 0) for r in results),
            "pairs_failed": len(failures),
            "failures": failures[:50],
            "generation_seconds": round(elapsed, 2),
            "usage": dataclasses.asdict(usage),
            "completion_tokens_per_s": round(usage.completion_tokens / elapsed, 2) if elapsed > 0 else None,
        }
        if hasattr(llm, "concurrency_levels"):
            stats["concurrency_at_end"] = llm.concurrency_levels()
        write_json(stats, out_dir / "stats.json")
    finally:
        llm.close()

    table = [{"type": t, **{k: v for k, v in row.items() if k != "dropped_by"}} for t, row in stats["funnel"].items()]
    await create_table_artifact.aio(table=table, key="augment-funnel", description=f"Funnel of {out_dir}")
    logger.info("funnel:\n%s", format_funnel(stats["funnel"]))
    if report:
        diversity_report(run=str(out_dir), select_budget=select_budget)
    if failures:
        logger.warning("%d problem/augmenter pairs failed; run the same command again to retry them", len(failures))
    return {"out": str(out_dir), "funnel": stats["funnel"], "failures": len(failures), "kept": train.height}


def _plan_shards(
    journal: Journal, rows: list[dict], augmenters: list[str] | tuple[str, ...], shard_size: int
) -> tuple[list[Shard], int, int]:
    """The shards of this run, the number of pairs to do and of pairs done before.

    A pair done before is rebuilt from its stored replies when all of them are stored (so a changed parser or
    filter applies to it); a pair journaled before replies were kept is taken as journaled.
    """
    records = {(r["problem_id"], r["augmenter"]): r for r in journal.records()}
    replies = journal.replies()
    shards, total, skipped = [], 0, 0
    for start in range(0, len(rows), shard_size):
        shard = Shard(f"shard-{start // shard_size:05d}", [])
        for problem in rows[start : start + shard_size]:
            for name in augmenters:
                pair = (problem["id"], name)
                record = records.get(pair)
                if record is None:
                    total += 1
                elif record.get("replayable"):
                    shard.rebuild.add(pair)
                    skipped += 1
                else:
                    skipped += 1
                    continue
                shard.pairs.append((problem, name))
                if pair in replies:
                    shard.stored[pair] = replies[pair]
        if shard.pairs:
            shards.append(shard)
    return shards, total, skipped


def _add_usage(total: UsageCounter, shard: dict) -> UsageCounter:
    summed = {k: getattr(total, k) + v for k, v in shard.items() if isinstance(v, int)}
    return dataclasses.replace(total, **summed)


# --- the command line -------------------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = AugmentConfig()
    p.add_argument(
        "--problems",
        "--dataset",
        dest="problems",
        type=problems_source,
        default="sample",
        help="'sample' (bundled), openai/gsm8k, or a .jsonl/.parquet (--dataset: the same option, an older name)",
    )
    p.add_argument("--split", default="train", help="dataset split (default: train)")
    p.add_argument("--limit", type=positive_int, default=None, help="use only the first N problems")
    p.add_argument(
        "--augmenters",
        type=comma_list,
        default=",".join(DEFAULT_AUGMENTERS),
        help=f"comma list of {','.join(AUGMENTERS)}",
    )
    p.add_argument("--backend", default="local", choices=BACKENDS, help="LLM backend (default: local transformers)")
    p.add_argument("--model", default=None, help="model folder, .gguf, Hub id or served name (default: SmolLM2-135M)")
    p.add_argument("--base-url", type=url_list, default=None, help="OpenAI-compatible server URL(s), comma separated")
    p.add_argument(
        "--out", type=out_folder, default="runs/augment-gsm8k", help="run folder; the same folder resumes a run"
    )
    p.add_argument("--seed", type=integer, default=d.seed)
    p.add_argument("--temperature", type=nonnegative_float, default=d.temperature)
    p.add_argument("--max-tokens", type=positive_int, default=d.max_tokens, help="most tokens per generated reply")
    p.add_argument("--ansaug-n", type=positive_int, default=d.ansaug_n, help="sampled solutions per problem")
    p.add_argument(
        "--ansaug-mode",
        default=d.ansaug_mode,
        choices=ANSAUG_MODES,
        help="fixed: --ansaug-n samples; uniform: rounds of --ansaug-n until --ansaug-k right or --ansaug-budget "
        "drawn (DART-Math); prop2diff: the right ones wanted shrink with the first round's pass rate",
    )
    p.add_argument("--ansaug-k", type=positive_int, default=d.ansaug_k, help="uniform/prop2diff: right ones wanted")
    p.add_argument("--ansaug-budget", type=positive_int, default=d.ansaug_budget, help="most samples per problem")
    p.add_argument("--rephrase-n", type=positive_int, default=d.rephrase_n, help="rephrasings per problem")
    p.add_argument("--sv-n", type=positive_int, default=d.sv_n, help="solutions per self-verification question")
    p.add_argument("--fobar-n", type=positive_int, default=d.fobar_n, help="solutions per FOBAR question")
    p.add_argument(
        "--mask-limit", type=nonnegative_int, default=d.mask_limit, help="numbers masked per problem (0: all)"
    )
    p.add_argument("--muggle-n", type=positive_int, default=d.muggle_n, help="new questions per MuggleMath kind")
    p.add_argument("--muggle-k", type=positive_int, default=d.muggle_k, help="votes per new MuggleMath question")
    p.add_argument("--muggle-agreement", type=share, default=d.muggle_agreement, help="share the majority needs")
    p.add_argument("--perturb-n", type=positive_int, default=d.perturb_n, help="perturbed versions per problem")
    p.add_argument(
        "--perturb-programs",
        default=d.perturb_programs,
        help="where perturb programs come from, tried in order: 'solution' (the reference solution's calculator "
        "marks, no model) and/or 'model' (default: solution,model)",
    )
    p.add_argument("--primed-style", default=d.primed_style, choices=PRIMED_STYLES, help="style of 'primed' (all)")
    p.add_argument("--primed-n", type=positive_int, default=d.primed_n, help="primed solutions per problem")
    p.add_argument(
        "--perturb-band",
        default=",".join(f"{x:g}" for x in d.perturb_band),
        help="new values of a perturbed problem lie between these multiples of the original (default: 0.5,2)",
    )
    p.add_argument(
        "--perturb-k",
        type=nonnegative_int,
        default=d.perturb_k,
        help="model solutions per perturbed question besides the one written from the reference (default: 0)",
    )
    f = FilterOptions()
    p.add_argument("--scorer", default=None, help="best-of-N scorer: orm, prm-qwen, prm-shepherd, verifier or mc")
    p.add_argument("--scorer-model", default=None, help="reward model folder / Hub id (verifier: the LLM backend)")
    p.add_argument(
        "--best-of", type=positive_int, default=None, help="keep the top K scored samples per problem and type"
    )
    p.add_argument("--min-score", type=finite_float, default=None, help="drop samples scored below this")
    p.add_argument("--prm-aggregate", default=f.prm_aggregate, choices=["min", "prod", "last"])
    p.add_argument("--mc-n", type=positive_int, default=f.mc_n, help="--scorer mc: rollouts per step prefix")
    p.add_argument(
        "--mc-neutral",
        default=f.mc_neutral,
        choices=["soft", "positive", "negative"],
        help="--scorer mc: a step some rollouts finish right scores its share (soft) or counts as good / bad",
    )
    p.add_argument("--dedup-equations", action="store_true", help="drop correct solutions with the same equations")
    p.add_argument("--dedup-threshold", type=share, default=f.dedup_threshold, help="near-duplicate cosine (0.98)")
    p.add_argument("--no-near-dedup", action="store_true", help="skip embedding near-duplicate removal")
    p.add_argument("--decontaminate", default=f.decontaminate, help="eval sets: gsm8k-test, gsm8k-test=PATH, files")
    p.add_argument("--no-decontaminate", action="store_true", help="skip decontamination")
    p.add_argument("--no-report", action="store_true", help="skip the diversity report at the end")
    p.add_argument(
        "--select-budget", type=positive_int, default=None, help="pick N kept samples that add the most diversity"
    )
    p.add_argument(
        "--shard-size", type=positive_int, default=64, help="problems per Prefect task (resume is per problem)"
    )
    p.add_argument("--concurrency", type=positive_int, default=32, help="problem/augmenter pairs in flight")
    p.add_argument("--max-batch", type=positive_int, default=None, help="batch size of in-process backends")
    p.add_argument(
        "--request-timeout", type=positive_float, default=120.0, help="seconds per request to an openai server"
    )
    p.add_argument(
        "--max-retries", type=nonnegative_int, default=6, help="retries of a failed openai request (429, 5xx...)"
    )
    p.add_argument(
        "--task-runner",
        default="loop",
        choices=TASK_RUNNERS,
        help="how shards run: 'loop' (default) awaits them all in the flow's event loop with one shared backend; "
        "'threads' runs them on Prefect's ThreadPoolTaskRunner (local/vllm engines are shared, the openai backend "
        "is built per shard); 'dask' / 'ray' run them on worker processes (pip install 'mathaug[scale]' / "
        "prefect-ray), each building its own backend, so a local model loads once per worker. With a task runner, "
        "--concurrency counts per shard",
    )
    p.add_argument(
        "--workers", type=positive_int, default=None, help="threads or worker processes (default: 4 threads, 2 Dask)"
    )
    p.add_argument("--runner-address", default=None, help="an existing Dask scheduler / Ray cluster address")
    add_engine_arguments(p)


def _positive(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1.")


def perturb_band(spec: str) -> tuple[float, float]:
    """"0.5,2" -> (0.5, 2.0): the multiples of the original value that new values lie between."""
    try:
        low, high = (float(part) for part in spec.split(","))
    except ValueError:
        raise UserError(f"--perturb-band takes two numbers like 0.5,2; got {spec!r}.") from None
    if not (0 < low <= 1 <= high and math.isfinite(high)):
        raise UserError(f"--perturb-band needs 0 < LOW <= 1 <= HIGH; got {spec!r}.")
    return low, high


def run(args: argparse.Namespace) -> int:
    _positive(args, "ansaug_n", "rephrase_n", "sv_n", "fobar_n", "muggle_n", "muggle_k", "perturb_n")
    _positive(args, "shard_size", "concurrency", "max_tokens", "mc_n", "ansaug_k", "ansaug_budget")
    if args.request_timeout <= 0:
        raise UserError("--request-timeout must be more than 0 seconds.")
    if args.max_retries < 0:
        raise UserError("--max-retries must be 0 or more.")
    if args.temperature < 0:
        raise UserError("--temperature must be 0 or more.")
    if args.mask_limit < 0:
        raise UserError("--mask-limit must be 0 (all numbers) or more.")
    if not 0 < args.muggle_agreement <= 1:
        raise UserError("--muggle-agreement must be a share in (0, 1].")
    try:
        program_origins(args.perturb_programs)
    except ValueError as e:
        raise UserError(f"--perturb-programs: {e}.") from None
    args.perturb_band = perturb_band(args.perturb_band)
    if args.perturb_k < 0:
        raise UserError("--perturb-k must be 0 or more.")
    names = {f.name for f in dataclasses.fields(AugmentConfig)}
    config = {k: v for k, v in vars(args).items() if k in names}
    check_mode(AugmentConfig(**config))
    filters = {k: v for k, v in vars(args).items() if k in {f.name for f in dataclasses.fields(FilterOptions)}}
    if args.no_near_dedup:
        filters["dedup_threshold"] = None
    if args.no_decontaminate:
        filters["decontaminate"] = None
    engine = engine_options(args)
    if args.backend == "vllm" and args.task_runner in ("dask", "ray"):
        raise UserError("--backend vllm runs one engine in the flow's process; use --task-runner loop or threads.")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    state = asyncio.run(
        augment_gsm8k(
            dataset=args.problems,
            split=args.split,
            limit=args.limit,
            augmenters=parse_augmenters(args.augmenters),
            backend=args.backend,
            model=args.model,
            base_url=args.base_url,
            out=args.out,
            config=config,
            filters=filters,
            report=not args.no_report,
            select_budget=args.select_budget,
            shard_size=args.shard_size,
            concurrency=args.concurrency,
            max_batch=args.max_batch,
            task_runner=args.task_runner,
            workers=args.workers,
            runner_address=args.runner_address,
            request_timeout=args.request_timeout,
            max_retries=args.max_retries,
            engine=engine,
            return_state=True,
        )
    )
    result = asyncio.run(result_of(state))
    print(format_funnel(result["funnel"]))
    print(f"kept {result['kept']} samples -> {Path(result['out']) / 'dataset'} (all outputs in {result['out']})")
    if result["failures"]:
        print(f"{result['failures']} problem/augmenter pairs failed: run the same command again to retry them.")
    return 0 if result["failures"] == 0 or result["kept"] > 0 else 1


COMMAND = FlowCommand(
    name="augment-gsm8k",
    help="Augment GSM8K problems (AnsAug, rephrasing, self-verification, FOBAR, ...) into a verified training set.",
    add_arguments=add_arguments,
    run=run,
)
