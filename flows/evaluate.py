"""`flows run evaluate`: GSM8K accuracy (greedy), pass@k and best@k with any backend, and a run's "aha" table."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import asdict, dataclass, field
from pathlib import Path

from prefect import flow, get_run_logger

from core.errors import UserError
from core.llm.vllm_options import add_engine_arguments, engine_options
from flows.command import FlowCommand
from flows.options import (
    existing_folder,
    integer,
    nonnegative_float,
    nonnegative_int,
    out_folder,
    positive_int,
    problems_source,
    url_list,
)
from flows.outcome import fails_cleanly, run_flow
from sft.prompts import AHA_ANSWER, AHA_QUESTION

TASK_EVAL_SEED = 1_000_003


@dataclass
class EvaluateOptions:
    out: str
    backend: str = "local"
    model: str | None = None  # None with --run: the run's model/; else the backend's default
    base_url: str | None = None
    problems: str = "sample"
    limit: int | None = None
    k: int = 4
    samples: int | None = None
    temperature: float = 0.7
    max_tokens: int = 512
    seed: int | None = 0
    run: str | None = None  # a training run folder: adds the per-checkpoint aha table
    aha_samples: int = 16
    aha_question: str = AHA_QUESTION
    aha_answer: str = AHA_ANSWER
    accuracy: bool = True  # False: only the aha table
    engine: dict = field(default_factory=dict)  # vLLM engine options (core.llm.vllm_options)


def _make_llm(options: EvaluateOptions, model: str | None):
    from core.llm import make_backend

    return make_backend(options.backend, model=model, base_url=options.base_url, **options.engine)


def _accuracy_model(options: EvaluateOptions) -> str | None:
    if options.model or not options.run:
        return options.model
    from sft.evaluate import loadable_model
    from sft.runtime import FINAL_MODEL_DIR

    final = Path(options.run) / FINAL_MODEL_DIR
    if not final.exists():
        raise UserError(f"{options.run} has no model/ folder yet; pass --model to say which model to evaluate.")
    return str(loadable_model(final))


@flow(name="evaluate")
@fails_cleanly
def evaluate_flow(options: EvaluateOptions) -> dict:
    """Write OUT/eval.json (accuracy, pass@k, best@k, per problem, aha table) and OUT/eval.md."""
    from prefect.artifacts import create_markdown_artifact

    from analysis.behaviours import behaviour_columns
    from core.datasets import load_problems
    from sft.evaluate import SamplingSettings, aha_table, evaluate_problems, markdown_report, write_eval
    from tasks.registry import load_task, split_task_name, task_problems

    logger = get_run_logger()
    settings = SamplingSettings(
        k=options.k,
        samples=options.samples,
        temperature=options.temperature,
        max_tokens=options.max_tokens,
        seed=options.seed,
    )
    result: dict = {"backend": options.backend, "options": asdict(options)}
    task = _chain_task(options.problems)
    if task is not None:
        return _evaluate_task(options, task, settings, result)
    if options.accuracy:
        # a task's evaluation problems come from their own seed, apart from the training draws (seed 0, 1, ...)
        problems = task_problems(options.problems, n=options.limit, seed=TASK_EVAL_SEED + (options.seed or 0))
        check = None
        if problems is None:
            problems = load_problems(options.problems, limit=options.limit, split="test")
        else:
            verify = load_task(split_task_name(options.problems)[0]).verify
            check = lambda text, row: verify(text, **row)  # noqa: E731
        llm = _make_llm(options, _accuracy_model(options))
        try:
            logger.info("evaluating %s on %d problems (k=%d)", llm.name, problems.height, options.k)
            result["model"] = llm.name
            result.update(asyncio.run(evaluate_problems(llm, problems, settings, check=check)))
        finally:
            llm.close()
        logger.info("accuracy %.3f", result["accuracy"])
    if options.run:
        if options.backend == "openai":
            raise UserError("The aha table loads each checkpoint itself; use --backend local or vllm with --run.")
        result["aha"] = {
            "question": options.aha_question,
            "answer": options.aha_answer,
            "samples": options.aha_samples,
            "temperature": options.temperature,
        }
        result["aha_table"] = aha_table(
            options.run,
            lambda m: _make_llm(options, m),
            options.aha_question,
            options.aha_answer,
            options.aha_samples,
            settings,
            describe=behaviour_columns,
        )
    path = write_eval(options.out, result)
    create_markdown_artifact(markdown_report(result), key="evaluation", description=f"written to {path}")
    return result


def _chain_task(problems: str):
    """The task module of `--problems NAME` when its problems keep a computation graph to check chains against."""
    from tasks.registry import load_task, split_task_name

    parsed = split_task_name(problems)
    module = load_task(parsed[0]) if parsed else None
    return module if module is not None and hasattr(module, "intervene") else None


def _evaluate_task(options: EvaluateOptions, task, settings, result: dict) -> dict:
    """A task with computation graphs: best@1 / best@k and the faithfulness metrics per difficulty (sft.faithfulness),
    for the model, or with --run for each checkpoint of the run."""
    from prefect.artifacts import create_markdown_artifact

    from sft.evaluate import markdown_report, write_eval
    from sft.faithfulness import checkpoint_tables, evaluate_chains, markdown_tables
    from tasks.registry import task_problems

    logger = get_run_logger()
    # held out: a task's problem i of a level is the same for the same seed, and training draws with --seed (0)
    problems = task_problems(options.problems, n=options.limit, seed=TASK_EVAL_SEED + (options.seed or 0))
    intervene = options.backend == "local"  # continuing a cut reply needs a backend that continues a started turn
    if not intervene:
        logger.warning("causal and propagation faithfulness need --backend local; left out")
    if options.run:
        result["checkpoints"] = checkpoint_tables(
            options.run, lambda m: _make_llm(options, m), problems, task, settings, intervene
        )
    else:
        llm = _make_llm(options, options.model)
        try:
            logger.info("evaluating %s on %d problems of %s", llm.name, problems.height, options.problems)
            result["model"] = llm.name
            result.update(asyncio.run(evaluate_chains(llm, problems, task, settings, intervene)))
        finally:
            llm.close()
    path = write_eval(options.out, result, markdown_tables(result))
    create_markdown_artifact(markdown_report(result) + markdown_tables(result), key="evaluation", description=str(path))
    return result


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=out_folder, help="folder for eval.json and eval.md (default: the --run folder)")
    parser.add_argument("--backend", default="local", choices=["local", "openai", "vllm"], help="LLM backend (local)")
    parser.add_argument("--model", help="model to evaluate (default: the run's model/, else the bundled SmolLM2)")
    parser.add_argument("--base-url", type=url_list, help="with --backend openai: the server's URL(s), comma-separated")
    parser.add_argument(
        "--problems",
        type=problems_source,
        default="sample",
        help="GSM8K test problems (default: the bundled sample), or a task: countdown, novel-ops:all",
    )
    parser.add_argument("--limit", type=positive_int, help="evaluate only the first N problems")
    parser.add_argument(
        "--k", type=nonnegative_int, default=4, help="pass@k and best@k; 0 for greedy accuracy only (default 4)"
    )
    parser.add_argument("--samples", type=positive_int, help="completions drawn per problem for pass@k (default: k)")
    parser.add_argument(
        "--temperature", type=nonnegative_float, default=0.7, help="for the k samples and the aha table (0.7)"
    )
    parser.add_argument("--max-tokens", type=positive_int, default=512, help="tokens per completion (default 512)")
    parser.add_argument("--seed", type=integer, default=0)
    parser.add_argument("--run", type=existing_folder, help="a training run folder: add the per-checkpoint aha table")
    parser.add_argument(
        "--aha-samples", type=positive_int, default=16, help="samples per checkpoint for the aha table (16)"
    )
    parser.add_argument("--aha-question", default=AHA_QUESTION, help="the fixed question of the aha table")
    parser.add_argument("--aha-answer", default=AHA_ANSWER, help="its gold answer")
    parser.add_argument("--aha-only", action="store_true", help="with --run: skip the accuracy evaluation")
    add_engine_arguments(parser)


def _run(args: argparse.Namespace) -> int:
    out = args.out or args.run
    if not out:
        raise UserError("Say where to write eval.json with --out DIR (or pass --run to write into the run folder).")
    if args.aha_only and not args.run:
        raise UserError("--aha-only needs --run with the training run's folder.")
    if args.max_tokens <= 0 or args.aha_samples <= 0 or (args.limit is not None and args.limit <= 0):
        raise UserError("--max-tokens, --aha-samples and --limit must be positive.")
    options = EvaluateOptions(
        out=out,
        backend=args.backend,
        model=args.model,
        base_url=args.base_url,
        problems=args.problems,
        limit=args.limit,
        k=args.k,
        samples=args.samples,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        seed=args.seed,
        run=args.run,
        aha_samples=args.aha_samples,
        aha_question=args.aha_question,
        aha_answer=args.aha_answer,
        accuracy=not args.aha_only,
        engine=engine_options(args),
    )
    from sft.evaluate import SamplingSettings

    SamplingSettings(k=options.k, samples=options.samples)  # reject bad --k / --samples before starting Prefect
    if options.accuracy:
        from tasks.registry import preload_source

        preload_source(options.problems, limit=options.limit, split="test")
    result = run_flow(evaluate_flow, options)
    figures = [f"{key} {result[key]:.3f}" for key in result if key == "accuracy" or key.startswith(("pass@", "best@"))]
    figures += [f"{c['checkpoint']} accuracy {c['accuracy']:.3f}" for c in result.get("checkpoints", [])]
    print(f"evaluate: {', '.join(figures) or 'aha table only'}; written to {Path(out) / 'eval.json'}")
    return 0


EVALUATE_COMMAND = FlowCommand(
    "evaluate", "GSM8K accuracy, pass@k / best@k, and a training run's aha table", _add_arguments, _run
)
