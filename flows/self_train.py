"""`flows run self-train --rounds R`: rounds of augment with the current model -> filter -> SFT -> evaluate.

The self-training loop of RFT, STaR and ReST-EM: in round r the generator (round 1: --model, the bundled SmolLM2 by
default; later rounds: the model the previous round trained) samples solutions of the training problems with the
augment flow, whose filters keep the verified ones; SFT trains a new model on them (from the base model each
round, as STaR and ReST-EM do, or from the previous round's model with --train-from previous), and the new model is
evaluated. Round 0 evaluates the starting model, so the table shows where each round stands against it.

Each stage reuses its flow: `augment_gsm8k`, `sft_flow`, `evaluate_flow`, run as subflows into OUT/round-NN/.
OUT/self_train.json records every finished (round, stage) with its result, written atomically after each stage:
the same command on the same --out resumes at the round and stage where it stopped (and the augment stage resumes
inside itself from its own journal). A larger --rounds extends a finished run. A round whose filters keep nothing
trains nothing: its SFT stage records that and the generator stays as it was.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

from prefect import flow, get_run_logger

from core.errors import UserError
from core.run_files import write_json
from flows.command import FlowCommand
from flows.options import (
    comma_list,
    integer,
    nonnegative_float,
    nonnegative_int,
    out_folder,
    positive_float,
    positive_int,
    problems_source,
)
from flows.outcome import fails_cleanly, result_of, run_flow

STAGES = ("augment", "sft", "evaluate")
STATE_FILE = "self_train.json"
TABLE_FILE = "rounds.md"
# a resumed run must keep every option but these (rounds may grow; the batch size of generation changes nothing)
FREE_SETTINGS = ("out", "rounds", "max_batch")


@dataclasses.dataclass(frozen=True)
class SelfTrainOptions:
    out: str
    rounds: int = 1
    model: str | None = None  # the starting generator and the base SFT trains from (None: the bundled SmolLM2)
    dataset: str = "sample"
    limit: int | None = None
    augmenters: str = "ansaug"
    ansaug_n: int = 4
    ansaug_mode: str = "fixed"
    ansaug_k: int = 4
    ansaug_budget: int = 32
    temperature: float = 0.7
    max_tokens: int = 256
    seed: int = 0
    dedup_equations: bool = True  # RFT: one kept path per distinct equation list
    near_dedup: bool = False
    decontaminate: bool = True
    train_from: str = "base"  # base (STaR / ReST-EM) or previous (continue from the last round's model)
    epochs: float = 1.0
    learning_rate: float = 1e-5
    batch_size: int = 8
    max_length: int = 1024
    eval_problems: str = "sample"
    eval_limit: int | None = None
    eval_k: int = 0  # 0: greedy accuracy only
    max_batch: int | None = None


# --- the state file and the round/stage machine (no Prefect here: tests drive it with their own stages) ----------

Stage = Callable[[int, SelfTrainOptions, dict], dict]


def round_dir(options: SelfTrainOptions, r: int) -> Path:
    return Path(options.out) / f"round-{r:02d}"


def plan(rounds: int) -> list[tuple[int, str]]:
    """Every (round, stage) in order: round 0 only evaluates the starting model."""
    return [(0, "evaluate")] + [(r, stage) for r in range(1, rounds + 1) for stage in STAGES]


def load_state(options: SelfTrainOptions) -> dict:
    path = Path(options.out) / STATE_FILE
    settings = {k: v for k, v in dataclasses.asdict(options).items() if k not in FREE_SETTINGS}
    if not path.exists():
        return {"settings": settings, "rounds": {}}
    state = json.loads(path.read_text())
    for key in settings:
        if state["settings"].get(key) != settings.get(key):
            raise UserError(
                f"{options.out} holds self-training made with {key}={state['settings'].get(key)!r}, not "
                f"{settings.get(key)!r}; use the same options to resume it (only --rounds may grow), or a new --out."
            )
    return state


def save_state(options: SelfTrainOptions, state: dict) -> None:
    write_json(state, Path(options.out) / STATE_FILE)


def model_after(state: dict, r: int, options: SelfTrainOptions) -> str | None:
    """The model a round ends with: the one its SFT trained, else the one it started with (round 0: --model)."""
    if r <= 0:
        return options.model
    trained = state["rounds"].get(str(r), {}).get("sft", {}).get("model")
    return trained or model_after(state, r - 1, options)


def run_rounds(options: SelfTrainOptions, stages: dict[str, Stage], log: Callable[[str], None] = print) -> dict:
    """Run every (round, stage) not in the state file yet, saving the state after each one; returns the state."""
    Path(options.out).mkdir(parents=True, exist_ok=True)
    state = load_state(options)
    for r, stage in plan(options.rounds):
        done = state["rounds"].setdefault(str(r), {})
        if stage in done:
            continue
        log(f"round {r}: {stage}")
        done[stage] = stages[stage](r, options, state)
        save_state(options, state)
    return state


# --- the table ----------------------------------------------------------------------------------------------------


def round_rows(state: dict, options: SelfTrainOptions) -> list[dict]:
    rows = []
    for key in sorted(state["rounds"], key=int):
        r, stages = int(key), state["rounds"][key]
        augment, sft, evaluation = stages.get("augment", {}), stages.get("sft", {}), stages.get("evaluate", {})
        rows.append(
            {
                "round": r,
                "generator": "-" if r == 0 else str(model_after(state, r - 1, options) or "bundled SmolLM2"),
                "generated": augment.get("generated", "-"),
                "kept": augment.get("kept", "-"),
                "sft": sft.get("skipped") or (f"{sft['steps']} steps, loss {sft['train_loss']:.3f}" if sft else "-"),
                "accuracy": f"{evaluation['accuracy']:.3f}" if "accuracy" in evaluation else "-",
                "eval_problems": evaluation.get("problems", "-"),
            }
        )
    return rows


def format_table(rows: list[dict]) -> str:
    """A Markdown table, one row per round."""
    header = ["round", "generator", "generated", "kept", "sft", "accuracy", "eval_problems"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(row[h]) for h in header) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# --- the real stages: the existing flows as subflows ----------------------------------------------------------------


def _finished(state) -> dict:
    return asyncio.run(result_of(state))


def augment_stage(r: int, options: SelfTrainOptions, state: dict) -> dict:
    from augmenters.registry import parse_augmenters
    from flows.augment import augment_gsm8k

    out = round_dir(options, r) / "augment"
    config = {
        "ansaug_n": options.ansaug_n,
        "ansaug_mode": options.ansaug_mode,
        "ansaug_k": options.ansaug_k,
        "ansaug_budget": options.ansaug_budget,
        "temperature": options.temperature,
        "max_tokens": options.max_tokens,
        "seed": options.seed + r,  # each round samples with its own seed
    }
    filters = {
        "dedup_equations": options.dedup_equations,
        "dedup_threshold": 0.98 if options.near_dedup else None,
        "decontaminate": "gsm8k-test" if options.decontaminate else None,
    }
    result = _finished(
        asyncio.run(
            augment_gsm8k(
                dataset=options.dataset,
                limit=options.limit,
                augmenters=tuple(parse_augmenters(options.augmenters)),
                model=model_after(state, r - 1, options),
                out=str(out),
                config=config,
                filters=filters,
                report=False,
                max_batch=options.max_batch,
                return_state=True,
            )
        )
    )
    total = result["funnel"]["total"]
    return {"out": str(out), "generated": total["generated"], "kept": result["kept"], "failures": result["failures"]}


def sft_stage(r: int, options: SelfTrainOptions, state: dict) -> dict:
    from flows.train import sft_flow
    from sft.runtime import FINAL_MODEL_DIR, SftOptions

    augment = state["rounds"][str(r)]["augment"]
    if not augment["kept"]:
        return {"skipped": "no kept samples: the generator stays", "model": None}
    out = round_dir(options, r) / "sft"
    start = options.model if options.train_from == "base" else model_after(state, r - 1, options)
    sft_options = SftOptions(
        out=str(out),
        run=augment["out"],
        model=start,
        epochs=options.epochs,
        learning_rate=options.learning_rate,
        batch_size=options.batch_size,
        max_length=options.max_length,
        seed=options.seed,
        logging_steps=1,
    )
    metrics = _finished(sft_flow(sft_options, return_state=True))
    return {
        "model": str(out / FINAL_MODEL_DIR),
        "trained_from": start,
        "examples": augment["kept"],
        "steps": metrics["global_step"],
        "train_loss": metrics["train"].get("train_loss", float("nan")),
    }


def evaluate_stage(r: int, options: SelfTrainOptions, state: dict) -> dict:
    from flows.evaluate import EvaluateOptions, evaluate_flow

    model = model_after(state, r, options)
    eval_options = EvaluateOptions(
        out=str(round_dir(options, r) / "eval"),
        model=model,
        problems=options.eval_problems,
        limit=options.eval_limit,
        k=options.eval_k,
        max_tokens=options.max_tokens,
        seed=options.seed,
    )
    result = _finished(evaluate_flow(eval_options, return_state=True))
    return {"model": result.get("model"), "accuracy": result["accuracy"], "problems": result["problems"]}


REAL_STAGES: dict[str, Stage] = {"augment": augment_stage, "sft": sft_stage, "evaluate": evaluate_stage}


@flow(name="self-train")
@fails_cleanly
def self_train_flow(options: SelfTrainOptions) -> dict:
    """Self-training rounds; writes OUT/self_train.json (the state) and OUT/rounds.md (accuracy per round)."""
    from prefect.artifacts import create_markdown_artifact

    logger = get_run_logger()
    state = run_rounds(options, REAL_STAGES, log=logger.info)
    table = format_table(round_rows(state, options))
    (Path(options.out) / TABLE_FILE).write_text(table)
    create_markdown_artifact(table, key="self-train-rounds", description=f"accuracy per round of {options.out}")
    logger.info("rounds:\n%s", table)
    return {"out": options.out, "table": table, "state": state}


# --- command line ---------------------------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = SelfTrainOptions(out="")
    p.add_argument(
        "--out",
        type=out_folder,
        required=True,
        help="run folder (round-NN/ folders, self_train.json); the same resumes",
    )
    p.add_argument("--rounds", type=positive_int, default=d.rounds, help="self-training rounds (default 1)")
    p.add_argument("--model", default=None, help="starting generator and SFT base (default: the bundled SmolLM2)")
    p.add_argument(
        "--problems",
        "--dataset",
        dest="dataset",
        type=problems_source,
        default=d.dataset,
        help="training problems: sample, openai/gsm8k, or a file",
    )
    p.add_argument("--limit", type=positive_int, default=None, help="use only the first N training problems")
    p.add_argument(
        "--augmenters", type=comma_list, default=d.augmenters, help="augmenters of each round (default: ansaug)"
    )
    p.add_argument(
        "--ansaug-n", type=positive_int, default=d.ansaug_n, help="solutions per problem (per round of sampling)"
    )
    p.add_argument("--ansaug-mode", default=d.ansaug_mode, choices=["fixed", "uniform", "prop2diff"])
    p.add_argument(
        "--ansaug-k", type=positive_int, default=d.ansaug_k, help="uniform/prop2diff: right solutions wanted"
    )
    p.add_argument(
        "--ansaug-budget", type=positive_int, default=d.ansaug_budget, help="uniform/prop2diff: most samples"
    )
    p.add_argument("--temperature", type=nonnegative_float, default=d.temperature)
    p.add_argument("--max-tokens", type=positive_int, default=d.max_tokens, help="tokens per generated solution")
    p.add_argument("--seed", type=integer, default=d.seed, help="round r samples with seed + r")
    p.add_argument("--no-dedup-equations", action="store_true", help="keep paths with the same equations")
    p.add_argument("--near-dedup", action="store_true", help="also drop embedding near-duplicates")
    p.add_argument("--no-decontaminate", action="store_true", help="skip decontamination against GSM8K test")
    p.add_argument("--train-from", default=d.train_from, choices=["base", "previous"], help="SFT start (base)")
    p.add_argument("--epochs", type=positive_float, default=d.epochs)
    p.add_argument("--learning-rate", type=positive_float, default=d.learning_rate)
    p.add_argument("--batch-size", type=positive_int, default=d.batch_size)
    p.add_argument("--max-length", type=positive_int, default=d.max_length, help="SFT tokens per example")
    p.add_argument(
        "--eval-problems",
        type=problems_source,
        default=d.eval_problems,
        help="GSM8K test problems (default: bundled sample)",
    )
    p.add_argument("--eval-limit", type=positive_int, default=None, help="evaluate on the first N test problems")
    p.add_argument(
        "--eval-k", type=nonnegative_int, default=d.eval_k, help="pass@k / best@k as well (0: greedy accuracy only)"
    )
    p.add_argument("--max-batch", type=positive_int, default=None, help="batch size of the local backend")


def run(args: argparse.Namespace) -> int:
    for name in ("rounds", "ansaug_n", "ansaug_k", "ansaug_budget", "max_tokens", "batch_size", "max_length"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1.")
    for name in ("limit", "eval_limit"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1.")
    if args.epochs <= 0 or args.learning_rate <= 0 or args.temperature < 0 or args.eval_k < 0:
        raise UserError("--epochs and --learning-rate must be positive, --temperature and --eval-k 0 or more.")
    from augmenters.registry import parse_augmenters

    parse_augmenters(args.augmenters)
    options = SelfTrainOptions(
        out=args.out,
        rounds=args.rounds,
        model=args.model,
        dataset=args.dataset,
        limit=args.limit,
        augmenters=args.augmenters,
        ansaug_n=args.ansaug_n,
        ansaug_mode=args.ansaug_mode,
        ansaug_k=args.ansaug_k,
        ansaug_budget=args.ansaug_budget,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        seed=args.seed,
        dedup_equations=not args.no_dedup_equations,
        near_dedup=args.near_dedup,
        decontaminate=not args.no_decontaminate,
        train_from=args.train_from,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        max_length=args.max_length,
        eval_problems=args.eval_problems,
        eval_limit=args.eval_limit,
        eval_k=args.eval_k,
        max_batch=args.max_batch,
    )
    load_state(options)  # a changed setting on an existing --out ends in one sentence before Prefect starts
    from tasks.registry import preload_source

    # both sources are read now: a bad training file would otherwise be found after round 0's evaluation
    preload_source(options.dataset, limit=options.limit, split="train")
    preload_source(options.eval_problems, limit=options.eval_limit, split="test")
    result = run_flow(self_train_flow, options)
    print(result["table"], end="")
    print(f"self-train: state in {Path(args.out) / STATE_FILE}, table in {Path(args.out) / TABLE_FILE}")
    return 0


COMMAND = FlowCommand(
    name="self-train",
    help="Self-training rounds (RFT / STaR / ReST-EM): augment with the current model, filter, SFT, evaluate.",
    add_arguments=add_arguments,
    run=run,
)
