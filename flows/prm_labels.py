"""`flows run prm-labels --run OUT`: Monte-Carlo step labels (Math-Shepherd) for the solutions of an augment run.

Reads OUT/samples.parquet, takes the solutions the answer check judged (kept ones, and those dropped as
`wrong_answer`: a PRM learns from wrong paths too; `--only-kept` takes the kept ones only), splits each into steps
and rolls out `--n` completions from every step prefix (filters.mc_labels). Each finished solution is appended to
OUT/prm_labels/journal at once, so the same command on the same folder skips labelled solutions.

Writes, in OUT/prm_labels/: `prm_labels.parquet` and `prm_labels.jsonl` in the stepwise-supervision layout PRM
trainers read (TRL's: `prompt`, `completions` = the steps, `labels` = one bool per step), plus `soft_labels` and
`hard_labels` (both estimates as floats), the sample's ids, and `dataset/` for `datasets.load_from_disk`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import shutil
import tempfile
from pathlib import Path

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from core.errors import UserError
from core.journal import Journal
from core.llm import BACKENDS, LLM, make_backend
from core.run_files import check_resume_settings, read_run_parquet, write_json, write_parquet
from filters.mc_labels import label_steps, rollout_params
from flows.command import FlowCommand
from flows.options import (
    existing_folder,
    integer,
    nonnegative_float,
    out_folder,
    positive_int,
    url_list,
)
from flows.outcome import fails_cleanly, run_flow

JOURNAL_KEY = "mc"  # the journal's "augmenter" field: one record per (sample id, "mc")
LABEL_FROM = ("hard", "soft")
SETTINGS = ("backend", "model", "n", "temperature", "max_tokens", "seed")


@dataclasses.dataclass(frozen=True)
class PrmLabelOptions:
    run: str
    out: str | None = None  # None: RUN/prm_labels
    n: int = 4
    backend: str = "local"
    model: str | None = None
    base_url: str | None = None
    temperature: float = 0.7
    max_tokens: int = 256
    seed: int = 0
    limit: int | None = None
    only_kept: bool = False
    label_from: str = "hard"  # `labels`: hard estimate (any rollout right) or soft >= 0.5
    concurrency: int = 16  # solutions in flight
    shard_size: int = 8
    max_batch: int | None = None

    @property
    def out_dir(self) -> Path:
        return Path(self.out) if self.out else Path(self.run) / "prm_labels"


def solutions_to_label(run: str | Path, *, only_kept: bool = False, limit: int | None = None) -> pl.DataFrame:
    """The judged solutions of a run, in a fixed order: kept ones and (unless only_kept) wrong-answer ones."""
    samples = read_run_parquet(Path(run) / "samples.parquet", ("keep", "reason", "response", "target", "parent_id"))
    judged = pl.col("keep").fill_null(False)
    if not only_kept:
        judged = judged | (pl.col("reason") == "wrong_answer")
    rows = samples.filter(judged & pl.col("response").is_not_null() & pl.col("target").is_not_null())
    rows = rows.sort(["parent_id", "type", "variant", "id"])
    return rows.head(limit) if limit else rows


def stepwise_row(sample: dict, labels, label_from: str) -> dict:
    """One record in the stepwise-supervision layout, with both estimates and the raw rollouts."""
    flags = labels.hard if label_from == "hard" else [s >= 0.5 for s in labels.soft]
    return {
        "sample_id": sample["id"],
        "parent_id": sample["parent_id"],
        "type": sample["type"],
        "target": sample["target"],
        "prompt": sample["query"],
        "completions": labels.steps,
        "labels": [bool(f) for f in flags],
        "soft_labels": [float(s) for s in labels.soft],
        "hard_labels": [1.0 if h else 0.0 for h in labels.hard],
        "rollouts": labels.rollouts,
    }


async def _label_shard(shard: str, rows: list[dict], llm: LLM, opts: PrmLabelOptions, sem: asyncio.Semaphore) -> list:
    writer = Journal(opts.out_dir / "journal").writer(shard)
    failures: list[str] = []

    async def one(sample: dict) -> None:
        async with sem:
            params = rollout_params(opts.seed, sample["id"], opts.temperature, opts.max_tokens)
            try:
                labels = await label_steps(llm, sample["query"], sample["target"], sample["response"], opts.n, params)
            except Exception as exc:  # noqa: BLE001 - one failed solution must not end the run; retried next run
                failures.append(f"{sample['id']}: {type(exc).__name__}: {exc}"[:300])
                return
            writer.append(sample["id"], JOURNAL_KEY, [stepwise_row(sample, labels, opts.label_from)])

    await asyncio.gather(*(one(s) for s in rows))
    return failures


@task(name="prm-label-shard", cache_policy=NO_CACHE)
async def label_shard(shard: str, rows: list[dict], llm: LLM, opts: PrmLabelOptions, sem: asyncio.Semaphore) -> list:
    return await _label_shard(shard, rows, llm, opts, sem)


def write_labels(records: list[dict], out: Path) -> pl.DataFrame:
    """prm_labels.parquet, prm_labels.jsonl (no raw rollouts) and dataset/ (datasets.load_from_disk)."""
    import datasets

    frame = pl.DataFrame([{k: v for k, v in r.items() if k != "rollouts"} for r in records])
    write_parquet(frame, out / "prm_labels.parquet")
    tmp = Path(tempfile.mkdtemp(dir=out, prefix=".labels."))
    try:
        frame.write_ndjson(tmp / "prm_labels.jsonl")
        datasets.Dataset.from_polars(frame).save_to_disk(str(tmp / "dataset"))
        (tmp / "prm_labels.jsonl").replace(out / "prm_labels.jsonl")
        shutil.rmtree(out / "dataset", ignore_errors=True)
        (tmp / "dataset").rename(out / "dataset")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return frame


@flow(name="prm-labels")
@fails_cleanly
async def prm_labels_flow(options: PrmLabelOptions) -> dict:
    """Label every step of a run's judged solutions by Monte-Carlo rollouts; resumable per solution."""
    logger = get_run_logger()
    rows = solutions_to_label(options.run, only_kept=options.only_kept, limit=options.limit).to_dicts()
    if not rows:
        raise UserError(f"{options.run} has no judged solution with a response and a target to label.")
    out = options.out_dir
    out.mkdir(parents=True, exist_ok=True)
    llm = make_backend(options.backend, model=options.model, base_url=options.base_url, max_batch=options.max_batch)
    try:
        settings = {**dataclasses.asdict(options), "model": llm.name}
        check_resume_settings(out / "settings.json", settings, SETTINGS, made="labels")
        journal = Journal(out / "journal")
        done = {pid for pid, _ in journal.done()}
        todo = [r for r in rows if r["id"] not in done]
        logger.info("%d solutions: %d to label, %d labelled before", len(rows), len(todo), len(rows) - len(todo))
        sem = asyncio.Semaphore(options.concurrency)
        size = options.shard_size
        shards = [(f"shard-{i // size:05d}", todo[i : i + size]) for i in range(0, len(todo), size)]
        results = await asyncio.gather(*(label_shard(name, part, llm, options, sem) for name, part in shards))
        usage = dataclasses.asdict(llm.usage)
    finally:
        llm.close()
    failures = [f for r in results for f in r]
    wanted = {r["id"] for r in rows}
    records = [s for s in journal.samples() if s["sample_id"] in wanted]
    frame = write_labels(records, out)
    steps = sum(len(r["completions"]) for r in records)
    stats = {
        "solutions": len(records),
        "steps": steps,
        "labelled_now": len(todo) - len(failures),
        "skipped_as_done": len(rows) - len(todo),
        "failed": len(failures),
        "failures": failures[:50],
        "positive_steps_hard": int(sum(sum(r["labels"]) for r in records)) if options.label_from == "hard" else None,
        "mean_soft": round(sum(sum(r["soft_labels"]) for r in records) / steps, 4) if steps else None,
        "usage": usage,
    }
    write_json(stats, out / "stats.json")
    return {"out": str(out), "rows": frame.height, **stats}


# --- the command line -------------------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = PrmLabelOptions(run="")
    p.add_argument("--run", type=existing_folder, required=True, help="the --out folder of `flows run augment-gsm8k`")
    p.add_argument(
        "--out", type=out_folder, default=None, help="output folder (default: RUN/prm_labels); the same folder resumes"
    )
    p.add_argument(
        "--n", type=positive_int, default=d.n, help="rollouts per step prefix, asked as one request (default 4)"
    )
    p.add_argument("--backend", default="local", choices=BACKENDS, help="LLM backend for the rollouts")
    p.add_argument("--model", default=None, help="model for the rollouts (default: the bundled SmolLM2)")
    p.add_argument("--base-url", type=url_list, default=None, help="OpenAI-compatible server URL(s), comma separated")
    p.add_argument("--temperature", type=nonnegative_float, default=d.temperature)
    p.add_argument("--max-tokens", type=positive_int, default=d.max_tokens, help="most tokens per rollout")
    p.add_argument("--seed", type=integer, default=d.seed)
    p.add_argument("--limit", type=positive_int, default=None, help="label only the first N solutions")
    p.add_argument("--only-kept", action="store_true", help="label only kept solutions (default: wrong ones too)")
    p.add_argument(
        "--label-from",
        default=d.label_from,
        choices=LABEL_FROM,
        help="`labels`: hard (a rollout from the step reaches the gold) or soft (at least half do)",
    )
    p.add_argument("--concurrency", type=positive_int, default=d.concurrency, help="solutions in flight")
    p.add_argument("--max-batch", type=positive_int, default=None, help="batch size of in-process backends")


def run(args: argparse.Namespace) -> int:
    options = PrmLabelOptions(
        run=args.run,
        out=args.out,
        n=args.n,
        backend=args.backend,
        model=args.model,
        base_url=args.base_url,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        seed=args.seed,
        limit=args.limit,
        only_kept=args.only_kept,
        label_from=args.label_from,
        concurrency=args.concurrency,
        max_batch=args.max_batch,
    )
    solutions_to_label(options.run)  # a bad --run ends in one sentence before Prefect starts
    result = run_flow(prm_labels_flow, options)
    print(
        f"prm-labels: {result['solutions']} solutions, {result['steps']} steps (mean soft estimate "
        f"{result['mean_soft']}); {result['skipped_as_done']} labelled before; written to {result['out']}"
    )
    if result["failed"]:
        print(f"{result['failed']} solutions failed: run the same command again to retry them.")
    return 0 if result["failed"] == 0 else 1


COMMAND = FlowCommand(
    name="prm-labels",
    help="Monte-Carlo step labels (Math-Shepherd) for a run's solutions, in the stepwise layout PRM trainers read.",
    add_arguments=add_arguments,
    run=run,
)
