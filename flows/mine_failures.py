"""`flows run mine-failures`: sample k answers per problem with the current model and keep the problems it fails.

A problem is kept when its pass rate (correct answers / k) is at most --max-pass-rate (default 0: all k wrong).
Writes OUT/failures.parquet (the problem's columns, the task's own columns, `task`, `k`, `correct`, `pass_rate` and
`failed_attempt`: the first wrong answer, the input of `flows run grpo --method r3`), OUT/attempts.parquet (every
answer with its verdict) and OUT/mining.json (the summary). Problems are GSM8K-form (`--problems sample`, a file)
or a task (`--problems countdown:4`), checked by the task's verifier.

Resumable: each problem's k answers are journaled (OUT/journal) as soon as they arrive, so the same command on the
same folder asks only for the problems it lacks, and a changed --max-pass-rate re-mines the stored answers with no
model call. A change of what the model is asked (model, k, temperature, max tokens, seed, problems) is refused.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl
from prefect import flow, get_run_logger

from core.answers import answers_equal, explicit_answer
from core.errors import UserError
from core.journal import Journal
from core.llm.base import LLM, Completion, GenParams, derived_seed
from core.run_files import check_resume_settings
from flows.command import FlowCommand
from flows.options import (
    integer,
    nonnegative_float,
    out_folder,
    positive_int,
    problems_source,
    url_list,
)
from flows.outcome import fails_cleanly, run_flow

FAILURES_FILE, ATTEMPTS_FILE, SUMMARY_FILE = "failures.parquet", "attempts.parquet", "mining.json"
JOURNAL_KEY = "attempts"  # the journal's "augmenter" field: one record per (problem id, "attempts")
# what the model is asked: a resumed run must keep them (--max-pass-rate may change)
SETTINGS = ("problems", "limit", "k", "backend", "model", "temperature", "max_tokens", "seed")
Check = Callable[[str, dict], bool]


@dataclass
class MineOptions:
    out: str
    problems: str = "sample"
    limit: int | None = None
    k: int = 4
    max_pass_rate: float = 0.0
    backend: str = "local"
    model: str | None = None
    base_url: str | None = None
    temperature: float = 0.7
    max_tokens: int = 256
    seed: int = 0


def gold_check(text: str, row: dict) -> bool:
    """GSM8K form: the reply states a final answer (as the GRPO rewards read it) that equals the gold `answer`."""
    return answers_equal(row["answer"], explicit_answer(text))


def problems_and_check(spec: str, limit: int | None, seed: int) -> tuple[pl.DataFrame, Check, str]:
    """(problems, correctness check, task name) for --problems: a task's generator and verifier, or GSM8K."""
    from core.datasets import load_problems
    from tasks.registry import load_task, split_task_name, task_problems

    problems = task_problems(spec, n=limit, seed=seed)
    if problems is None:
        return load_problems(spec, limit=limit, split="train"), gold_check, "gsm8k"
    name = split_task_name(spec)[0]
    verify = load_task(name).verify
    return problems, lambda text, row: verify(text, **row), name


def problem_params(base: GenParams, problem_id: str) -> GenParams:
    """The run's params with a seed of the problem's own, so a resumed run asks each problem as the first run did."""
    return dataclasses.replace(base, seed=derived_seed(base.seed, problem_id))


async def sample_attempts(llm: LLM, rows: list[dict], k: int, params: GenParams, journal: Journal) -> list[str]:
    """k completions for each problem, all requested at once (the backend batches), with the policy's own prompt;
    each problem's are journaled as they arrive. Returns the failures ("id: error") of problems to ask again."""
    from flows.progress import Progress
    from sft.prompts import reasoning_messages

    writer = journal.writer("attempts")
    progress = Progress(len(rows), "mining", key="mine-failures-progress")
    await progress.start()
    failures: list[str] = []

    async def one(row: dict) -> None:
        try:
            outs = await llm.chat(reasoning_messages(row["question"]), n=k, params=problem_params(params, row["id"]))
        except Exception as exc:  # noqa: BLE001 - one failed problem must not end the run; asked again next run
            failures.append(f"{row['id']}: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"[:300])
            return
        await writer.append_durably(row["id"], JOURNAL_KEY, [dataclasses.asdict(c) for c in outs])
        await progress.advance()

    try:
        await asyncio.gather(*(one(row) for row in rows))
    finally:
        writer.close()
        progress.close()
    return failures


def stored_attempts(journal: Journal) -> dict[str, list[Completion]]:
    """Each journaled problem's completions."""
    return {r["problem_id"]: [Completion(**c) for c in r["samples"]] for r in journal.records()}


def mine(problems: pl.DataFrame, completions: list[list], check: Check, task: str, max_pass_rate: float):
    """(failures, attempts) frames: every attempt with its verdict; the problems at or under `max_pass_rate`."""
    failures, attempts = [], []
    for row, outs in zip(problems.to_dicts(), completions, strict=True):
        verdicts = [check(c.text, row) for c in outs]
        attempts += [
            {"problem_id": row["id"], "attempt": i, "text": c.text, "finish_reason": c.finish_reason, "correct": ok}
            for i, (c, ok) in enumerate(zip(outs, verdicts, strict=True))
        ]
        pass_rate = sum(verdicts) / len(verdicts)
        wrong = [c.text for c, ok in zip(outs, verdicts, strict=True) if not ok]
        if pass_rate <= max_pass_rate and wrong:
            failures.append(
                {
                    **row,
                    "task": task,
                    "k": len(verdicts),
                    "correct": sum(verdicts),
                    "pass_rate": pass_rate,
                    "failed_attempt": wrong[0],
                }  # fmt: skip
            )
    attempts_frame = pl.DataFrame(
        attempts,
        schema={
            "problem_id": pl.String,
            "attempt": pl.Int64,
            "text": pl.String,
            "finish_reason": pl.String,
            "correct": pl.Boolean,
        },  # fmt: skip
    )
    extra = {"task": pl.String, "k": pl.Int64, "correct": pl.Int64, "pass_rate": pl.Float64}
    extra["failed_attempt"] = pl.String
    failures_frame = pl.DataFrame(failures, schema={**problems.schema, **extra})
    return failures_frame, attempts_frame


def _write_parquet(frame: pl.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    frame.write_parquet(tmp)
    tmp.replace(path)


@flow(name="mine-failures")
@fails_cleanly
def mine_failures_flow(options: MineOptions) -> dict:
    """Sample k answers per problem, write the failed problems with their pass rates (OUT/failures.parquet)."""
    from core.llm import make_backend

    logger = get_run_logger()
    problems, check, task = problems_and_check(options.problems, options.limit, options.seed)
    if problems.is_empty():
        raise UserError("There are no problems to mine; check --problems and --limit.")
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    llm = make_backend(options.backend, model=options.model, base_url=options.base_url)
    params = GenParams(temperature=options.temperature, max_tokens=options.max_tokens, seed=options.seed)
    try:
        model = llm.name
        check_resume_settings(out / "settings.json", {**asdict(options), "model": model}, SETTINGS)
        journal = Journal(out / "journal")
        done = {pid for pid, _ in journal.done()}
        todo = [row for row in problems.to_dicts() if row["id"] not in done]
        logger.info(
            "sampling %d answers for each of %d problems with %s (%d answered before)",
            options.k, len(todo), model, problems.height - len(todo),
        )  # fmt: skip
        failed = asyncio.run(sample_attempts(llm, todo, options.k, params, journal)) if todo else []
    finally:
        llm.close()
    if failed:
        raise UserError(
            f"{len(failed)} of {problems.height} problems got no answers (first: {failed[0]}); "
            "run the same command again to ask for them."
        )
    stored = stored_attempts(journal)
    completions = [stored[pid] for pid in problems["id"].to_list()]
    failures, attempts = mine(problems, completions, check, task, options.max_pass_rate)
    _write_parquet(failures, out / FAILURES_FILE)
    _write_parquet(attempts, out / ATTEMPTS_FILE)
    summary = {
        "model": model,
        "task": task,
        "problems": problems.height,
        "k": options.k,
        "max_pass_rate": options.max_pass_rate,
        "failed_problems": failures.height,
        "mean_pass_rate": round(attempts["correct"].mean() or 0.0, 4),
        "attempts_cut_by_length": int((attempts["finish_reason"] == "length").sum()),
        "answered_now": len(todo),
        "answered_before": problems.height - len(todo),
        "options": asdict(options),
    }
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    logger.info("%d of %d problems failed (pass rate <= %s)", failures.height, problems.height, options.max_pass_rate)
    return summary


def read_failures(path: str | Path) -> pl.DataFrame:
    """The failures of a `mine-failures` run (its --out folder or failures.parquet), for `grpo --method r3`."""
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / FAILURES_FILE
    if not path.is_file():
        raise UserError(f"{path} does not exist; pass the --out folder of `flows run mine-failures`.")
    try:
        frame = pl.read_parquet(path)
    except Exception:  # noqa: BLE001 - any read failure means a damaged or foreign file
        raise UserError(f"{path} is not a readable Parquet file; run `flows run mine-failures` again.") from None
    missing = [c for c in ("question", "answer", "failed_attempt", "task") if c not in frame.columns]
    if missing:
        raise UserError(f"{path} has no {missing[0]!r} column; it must come from `flows run mine-failures`.")
    if frame.is_empty():
        raise UserError(f"{path} holds no failed problems; mine more problems or raise --max-pass-rate.")
    return frame


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=out_folder, required=True, help="folder for failures.parquet, attempts.parquet, mining.json"
    )
    parser.add_argument(
        "--problems",
        type=problems_source,
        default="sample",
        help="GSM8K problems (default: the bundled sample) or a task",
    )
    parser.add_argument("--limit", type=positive_int, help="mine only the first N problems (a task: make N)")
    parser.add_argument("--k", type=positive_int, default=4, help="answers sampled per problem (default 4)")
    parser.add_argument(
        "--max-pass-rate", type=float, default=0.0, help="keep problems whose pass rate is at most this (default 0)"
    )
    parser.add_argument("--backend", default="local", choices=["local", "openai", "vllm"], help="LLM backend (local)")
    parser.add_argument("--model", help="the current model (default: the backend's default, the bundled SmolLM2)")
    parser.add_argument("--base-url", type=url_list, help="with --backend openai: the server's URL(s), comma-separated")
    parser.add_argument("--temperature", type=nonnegative_float, default=0.7, help="sampling temperature (default 0.7)")
    parser.add_argument("--max-tokens", type=positive_int, default=256, help="tokens per answer (default 256)")
    parser.add_argument("--seed", type=integer, default=0)


def _run(args: argparse.Namespace) -> int:
    if not 0.0 <= args.max_pass_rate < 1.0:
        raise UserError("--max-pass-rate must be at least 0 and below 1.")
    options = MineOptions(
        out=args.out,
        problems=args.problems,
        limit=args.limit,
        k=args.k,
        max_pass_rate=args.max_pass_rate,
        backend=args.backend,
        model=args.model,
        base_url=args.base_url,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        seed=args.seed,
    )
    from tasks.registry import preload_source

    preload_source(options.problems, limit=options.limit, split="train")
    summary = run_flow(mine_failures_flow, options)
    print(
        f"mine-failures: {summary['failed_problems']} of {summary['problems']} problems failed "
        f"(k={summary['k']}, mean pass rate {summary['mean_pass_rate']:.3f}); "
        f"written to {Path(args.out) / FAILURES_FILE}"
    )
    return 0


COMMAND = FlowCommand(
    "mine-failures", "sample k answers per problem and keep those the model fails (input of grpo --method r3)",
    _add_arguments, _run,
)  # fmt: skip
