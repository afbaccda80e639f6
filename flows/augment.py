"""`flows run augment-gsm8k`: load -> shard problems -> augment shards -> answer check -> exact dedup -> write.

Each finished (problem, augmenter) pair goes to the run's journal at once, so re-running the same command on
the same --out skips finished work: nothing regenerated, nothing lost, nothing duplicated.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import time
from pathlib import Path

import polars as pl
from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from augmenters.answer_aug import pass_rates
from augmenters.base import AugmentConfig
from augmenters.registry import AUGMENTERS, DEFAULT_AUGMENTERS
from core.datasets import load_problems
from core.errors import UserError
from core.funnel import format_funnel, funnel
from core.heap import frozen_heap
from core.journal import Journal
from core.llm import LLM, UsageCounter
from core.run_files import check_resume_settings, write_dataset, write_json, write_parquet
from core.schemas import samples_frame
from filters.answer_check import check_answers
from filters.best_of_n import select_best_of_n
from filters.exact_dedup import drop_equation_duplicates, drop_exact_duplicates
from filters.stages import (
    check_options,
    decontaminate_stage,
    get_scorer,
    muggle_label_stage,
    near_dedup_stage,
    score_stage,
)
from flows.augment_shards import (
    THREAD_SAFE_BACKENDS,
    BackendSpec,
    RunControl,
    Shard,
    make_task_runner,
    run_shards_in_loop,
    run_shards_on,
)
from flows.json_parameters import plain_json_parameters
from flows.outcome import fails_cleanly
from flows.progress import Progress
from flows.warm_up import WarmUp, import_module

# settings that change what the model is asked or replies, or how many samples a pair makes: a resumed run must use
# the same ones, else finished and new pairs would differ. Anything else (parsers, filters, labelling thresholds) may
# change, since finished pairs are rebuilt from their stored replies.
GENERATION_SETTINGS = (
    "backend", "model", "temperature", "max_tokens", "seed", "prompts",
    "ansaug_n", "ansaug_mode", "ansaug_k", "ansaug_budget", "rephrase_n", "sv_n", "fobar_n", "mask_limit",
    "muggle_n", "muggle_k", "perturb_n", "perturb_programs", "perturb_band", "perturb_k", "primed_style", "primed_n",
)  # fmt: skip
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


def uses_embeddings(opts: FilterOptions) -> bool:
    return opts.dedup_threshold is not None or bool(opts.decontaminate)


async def filter_samples(
    samples: pl.DataFrame, problems: pl.DataFrame, opts: FilterOptions, llm: LLM | None = None, embedder=None
) -> pl.DataFrame:
    """Every filter in order, on a fixed row order, so every run over the same samples decides alike.

    score (all samples) -> Muggle labels by score-weighted vote -> answer check -> best-of-N -> exact dedup ->
    near dedup -> decontamination. Each drop keeps its reason, so the funnel shows each filter on its own line.
    `embedder` (a core.embeddings.Embedder, perhaps warmed up already) serves both embedding stages.
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
    if uses_embeddings(opts):
        if embedder is None:
            from core.embeddings import Embedder  # numpy and, once it embeds, the sentence model: only when needed

            embedder = Embedder()
        samples = near_dedup_stage(samples, dedup_threshold=opts.dedup_threshold, problems=problems, embedder=embedder)
        samples = decontaminate_stage(samples, decontaminate=opts.decontaminate, embedder=embedder)
    return samples


@plain_json_parameters
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
        check_resume_settings(out_dir / "run.json", settings, GENERATION_SETTINGS)
        write_parquet(problems, out_dir / "problems.parquet")

        journal = Journal(out_dir / "journal")
        rows = problems.to_dicts()
        shards, total, skipped = _plan_shards(journal, rows, augmenters, shard_size)
        rebuilding = sum(len(shard.rebuild) for shard in shards)
        logger.info(
            "%d problems x %d augmenters: %d to do, %d done before (%d of them rebuilt from their stored replies)",
            len(rows), len(augmenters), total, skipped, rebuilding,
        )  # fmt: skip

        with frozen_heap():  # the collector walks only what generation makes (core.heap)
            started = time.monotonic()
            status = getattr(llm, "status", None)
            progress = Progress(
                total + rebuilding, "augment (problem x augmenter)", key="augment-progress", status=status
            )
            await progress.start()
            control = RunControl()
            warm_up, embedders = _post_generation_warm_up(backend, filter_opts)
            warming = asyncio.create_task(warm_up.start_after_first(progress))
            if runner is None:  # every shard in this event loop, sharing one backend and one in-flight bound
                # pairs in flight: enough to fill every URL's concurrency ceiling
                in_flight = concurrency * max(1, len(getattr(llm, "base_urls", []) or []))
                results = await run_shards_in_loop(shards, llm, cfg, out_dir / "journal", in_flight, progress, control)
            else:
                # threads share the flow's engine where it is thread-safe; anything else builds its own from the options
                shared = task_runner == "threads" and backend in THREAD_SAFE_BACKENDS
                logger.info("shards run on the %s task runner", task_runner)
                results = await run_shards_on(
                    runner, shards, llm if shared else spec, cfg, out_dir / "journal", concurrency, progress
                )
            progress.close()
            warming.cancel()  # a run with nothing to generate never starts it (asyncio.run ends it on errors)
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
        await asyncio.to_thread(warm_up.wait)
        embedder = embedders[0] if embedders else None
        samples = await filter_samples(samples_frame(generated), problems, filter_opts, llm, embedder)
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
        if hasattr(llm, "batch_stats"):  # in-process batching engines: batch sizes and the worker's time
            stats["batches"] = llm.batch_stats()
        write_json(stats, out_dir / "stats.json")
    finally:
        llm.close()

    table = [{"type": t, **{k: v for k, v in row.items() if k != "dropped_by"}} for t, row in stats["funnel"].items()]
    await create_table_artifact.aio(table=table, key="augment-funnel", description=f"Funnel of {out_dir}")
    logger.info("funnel:\n%s", format_funnel(stats["funnel"]))
    if report:
        from flows.diversity_report import diversity_report  # its embeddings stack: only for a run with a report

        diversity_report(run=str(out_dir), select_budget=select_budget)
    if failures:
        logger.warning("%d problem/augmenter pairs failed; run the same command again to retry them", len(failures))
    return {"out": str(out_dir), "funnel": stats["funnel"], "failures": len(failures), "kept": train.height}


def _post_generation_warm_up(backend: str, opts: FilterOptions) -> tuple[WarmUp, list]:
    """Against an openai server: `datasets` (the dataset write) and, when a filter embeds, an Embedder with its cache
    and MiniLM model, loaded while the server generates. In-process backends need the CPU themselves: nothing is
    loaded beside them. Returns the warm-up and a list that holds the Embedder once the warm-up made it (empty: the
    filters make their own); numpy and the embedder's module load in the warm-up too, not before the first request."""
    if backend != "openai":
        return WarmUp([]), []
    loads = [import_module("datasets")]
    made: list = []
    if uses_embeddings(opts):

        def embedder() -> None:
            from core.embeddings import Embedder

            made.append(Embedder())
            made[0].cache, made[0].model  # noqa: B018 - the cache read from disk, the model loaded

        loads += [embedder, import_module("faiss")]
    return WarmUp(loads), made


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
