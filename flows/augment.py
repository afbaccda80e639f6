"""`flows run augment-gsm8k`: load -> shard problems -> augment shards -> answer check -> exact dedup -> write.

Each finished (problem, augmenter) pair goes to the run's journal at once, so re-running the same command on
the same --out skips finished work: nothing regenerated, nothing lost, nothing duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import time
from pathlib import Path

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from augmenters.base import AugmentConfig
from augmenters.registry import AUGMENTERS, DEFAULT_AUGMENTERS, get_augmenter, parse_augmenters
from core.datasets import load_problems
from core.errors import UserError
from core.funnel import format_funnel, funnel
from core.journal import Journal
from core.llm import BACKENDS, LLM, make_backend
from core.run_files import write_dataset, write_json, write_parquet
from core.schemas import samples_frame
from filters.answer_check import check_answers
from filters.best_of_n import select_best_of_n
from filters.embeddings import Embedder
from filters.exact_dedup import drop_exact_duplicates
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
from flows.outcome import fails_cleanly, result_of
from flows.progress import Progress

# settings that change what a sample would be: a resumed run must use the same ones
GENERATION_SETTINGS = ("backend", "model", "temperature", "max_tokens", "seed")


def _check_run_settings(out: Path, settings: dict) -> None:
    path = out / "run.json"
    if path.exists():
        before = json.loads(path.read_text())
        changed = [k for k in GENERATION_SETTINGS if before.get(k) != settings.get(k)]
        if changed:
            k = changed[0]
            raise UserError(
                f"{out} holds a run made with {k}={before.get(k)!r}, not {settings.get(k)!r}; "
                "use the same options to resume it, or a new --out."
            )
    write_json(settings, path)


@task(name="augment-shard", cache_policy=NO_CACHE)
async def augment_shard(
    shard: str,
    pairs: list[tuple[dict, str]],
    llm: LLM,
    cfg: AugmentConfig,
    journal_dir: Path,
    in_flight: asyncio.Semaphore,
    progress: Progress,
) -> dict:
    """Run every (problem, augmenter) pair of one shard; each finished pair is journaled at once."""
    logger = get_run_logger()
    writer = Journal(journal_dir).writer(shard)
    failures: list[str] = []

    async def one(problem: dict, name: str) -> None:
        async with in_flight:
            try:
                samples = await get_augmenter(name)(problem, llm, cfg)
            except Exception as exc:  # noqa: BLE001 - one failed pair must not end the run; it is retried next run
                failures.append(f"{name} on {problem['id']}: {type(exc).__name__}: {exc}"[:300])
                logger.warning("failed: %s", failures[-1])
            else:
                writer.append(problem["id"], name, samples)
        await progress.advance()

    await asyncio.gather(*(one(problem, name) for problem, name in pairs))
    return {"shard": shard, "pairs": len(pairs), "failures": failures}


@dataclasses.dataclass(frozen=True)
class FilterOptions:
    scorer: str | None = None  # orm, prm-qwen, prm-shepherd, verifier
    scorer_model: str | None = None
    best_of: int | None = None
    min_score: float | None = None
    prm_aggregate: str = "min"
    muggle_agreement: float = 0.5
    dedup_threshold: float | None = 0.98  # None: no near-duplicate removal
    decontaminate: str | None = "gsm8k-test"  # None: no decontamination


async def filter_samples(
    samples: pl.DataFrame, problems: pl.DataFrame, opts: FilterOptions, llm: LLM | None = None
) -> pl.DataFrame:
    """Every filter in order, on a fixed row order, so every run over the same samples decides alike.

    score (all samples) -> Muggle labels by score-weighted vote -> answer check -> best-of-N -> exact dedup ->
    near dedup -> decontamination. Each drop keeps its reason, so the funnel shows each filter on its own line.
    """
    samples = samples.sort(["parent_id", "type", "variant"])
    if opts.scorer:
        scorer = get_scorer(opts.scorer, opts.scorer_model, llm=llm, prm_aggregate=opts.prm_aggregate)
        samples = await score_stage(samples, scorer)
        samples = muggle_label_stage(samples, agreement=opts.muggle_agreement)
    samples = check_answers(samples)
    if opts.scorer:
        samples = select_best_of_n(samples, best_of=opts.best_of, min_score=opts.min_score)
    samples = drop_exact_duplicates(samples)
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
    shard_size: int = 8,
    concurrency: int = 32,
    max_batch: int | None = None,
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
    problems = load_problems(dataset, limit=limit, split=split)
    out_dir.mkdir(parents=True, exist_ok=True)
    llm = make_backend(backend, model=model, base_url=base_url, concurrency=concurrency, max_batch=max_batch)
    try:
        settings = {"backend": backend, "model": llm.name, "dataset": dataset, **dataclasses.asdict(cfg)}
        _check_run_settings(out_dir, settings)
        write_parquet(problems, out_dir / "problems.parquet")

        journal = Journal(out_dir / "journal")
        done = journal.done()
        rows = problems.to_dicts()
        shards = []
        for start in range(0, len(rows), shard_size):
            pairs = [(p, a) for p in rows[start : start + shard_size] for a in augmenters if (p["id"], a) not in done]
            if pairs:
                shards.append((f"shard-{start // shard_size:05d}", pairs))
        total = sum(len(p) for _, p in shards)
        skipped = len(rows) * len(augmenters) - total
        logger.info("%d problems x %d augmenters: %d to do, %d done before", len(rows), len(augmenters), total, skipped)

        started = time.monotonic()
        progress = Progress(total, "augment (problem x augmenter)", key="augment-progress")
        await progress.start()
        in_flight = asyncio.Semaphore(concurrency)
        results = await asyncio.gather(
            *(augment_shard(name, pairs, llm, cfg, out_dir / "journal", in_flight, progress) for name, pairs in shards)
        )
        progress.close()
        elapsed = time.monotonic() - started
        failures = [f for r in results for f in r["failures"]]

        samples = await filter_samples(samples_frame(journal.samples()), problems, filter_opts, llm)
        write_parquet(samples, out_dir / "samples.parquet")
        train = write_dataset(samples, out_dir / "dataset")
        stats = {
            "funnel": funnel(samples),
            "problems": len(rows),
            "augmenters": list(augmenters),
            "pairs_done_now": total - len(failures),
            "pairs_skipped_as_done": skipped,
            "pairs_failed": len(failures),
            "failures": failures[:50],
            "generation_seconds": round(elapsed, 2),
            "usage": dataclasses.asdict(llm.usage),
            "completion_tokens_per_s": round(llm.usage.completion_tokens / elapsed, 2) if elapsed > 0 else None,
        }
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


# --- the command line -------------------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = AugmentConfig()
    p.add_argument("--dataset", default="sample", help="'sample' (bundled), openai/gsm8k, or a .jsonl/.parquet")
    p.add_argument("--split", default="train", help="dataset split (default: train)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N problems")
    p.add_argument("--augmenters", default=",".join(DEFAULT_AUGMENTERS), help=f"comma list of {','.join(AUGMENTERS)}")
    p.add_argument("--backend", default="local", choices=BACKENDS, help="LLM backend (default: local transformers)")
    p.add_argument("--model", default=None, help="model folder, .gguf, Hub id or served name (default: SmolLM2-135M)")
    p.add_argument("--base-url", default=None, help="OpenAI-compatible server URL(s), comma separated")
    p.add_argument("--out", default="runs/augment-gsm8k", help="run folder; the same folder resumes a run")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--temperature", type=float, default=d.temperature)
    p.add_argument("--max-tokens", type=int, default=d.max_tokens, help="most tokens per generated reply")
    p.add_argument("--ansaug-n", type=int, default=d.ansaug_n, help="sampled solutions per problem")
    p.add_argument("--rephrase-n", type=int, default=d.rephrase_n, help="rephrasings per problem")
    p.add_argument("--sv-n", type=int, default=d.sv_n, help="solutions per self-verification question")
    p.add_argument("--fobar-n", type=int, default=d.fobar_n, help="solutions per FOBAR question")
    p.add_argument("--mask-limit", type=int, default=d.mask_limit, help="numbers masked per problem (0: all)")
    p.add_argument("--muggle-n", type=int, default=d.muggle_n, help="new questions per MuggleMath kind")
    p.add_argument("--muggle-k", type=int, default=d.muggle_k, help="votes per new MuggleMath question")
    p.add_argument("--muggle-agreement", type=float, default=d.muggle_agreement, help="share the majority needs")
    p.add_argument("--perturb-n", type=int, default=d.perturb_n, help="perturbed versions per problem")
    f = FilterOptions()
    p.add_argument("--scorer", default=None, help="best-of-N scorer: orm, prm-qwen, prm-shepherd or verifier")
    p.add_argument("--scorer-model", default=None, help="reward model folder / Hub id (verifier: the LLM backend)")
    p.add_argument("--best-of", type=int, default=None, help="keep the top K scored samples per problem and type")
    p.add_argument("--min-score", type=float, default=None, help="drop samples scored below this")
    p.add_argument("--prm-aggregate", default=f.prm_aggregate, choices=["min", "prod", "last"])
    p.add_argument("--dedup-threshold", type=float, default=f.dedup_threshold, help="near-duplicate cosine (0.98)")
    p.add_argument("--no-near-dedup", action="store_true", help="skip embedding near-duplicate removal")
    p.add_argument("--decontaminate", default=f.decontaminate, help="eval sets: gsm8k-test, gsm8k-test=PATH, files")
    p.add_argument("--no-decontaminate", action="store_true", help="skip decontamination")
    p.add_argument("--no-report", action="store_true", help="skip the diversity report at the end")
    p.add_argument("--select-budget", type=int, default=None, help="pick N kept samples that add the most diversity")
    p.add_argument("--shard-size", type=int, default=8, help="problems per Prefect task")
    p.add_argument("--concurrency", type=int, default=32, help="problem/augmenter pairs in flight")
    p.add_argument("--max-batch", type=int, default=None, help="batch size of in-process backends")


def _positive(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1.")


def run(args: argparse.Namespace) -> int:
    _positive(args, "ansaug_n", "rephrase_n", "sv_n", "fobar_n", "muggle_n", "muggle_k", "perturb_n")
    _positive(args, "shard_size", "concurrency", "max_tokens")
    if args.temperature < 0:
        raise UserError("--temperature must be 0 or more.")
    if args.mask_limit < 0:
        raise UserError("--mask-limit must be 0 (all numbers) or more.")
    if not 0 < args.muggle_agreement <= 1:
        raise UserError("--muggle-agreement must be a share in (0, 1].")
    names = {f.name for f in dataclasses.fields(AugmentConfig)}
    config = {k: v for k, v in vars(args).items() if k in names}
    filters = {k: v for k, v in vars(args).items() if k in {f.name for f in dataclasses.fields(FilterOptions)}}
    if args.no_near_dedup:
        filters["dedup_threshold"] = None
    if args.no_decontaminate:
        filters["decontaminate"] = None
    logging.getLogger("httpx").setLevel(logging.WARNING)
    state = asyncio.run(
        augment_gsm8k(
            dataset=args.dataset,
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
