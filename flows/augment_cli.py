"""The command line of `flows run augment-gsm8k`: its options, checked before any work, and the run they start."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import math
from pathlib import Path

from augmenters.answer_aug import ANSAUG_MODES, check_mode
from augmenters.base import AugmentConfig
from augmenters.perturb import program_origins
from augmenters.registry import AUGMENTERS, DEFAULT_AUGMENTERS, parse_augmenters
from core.datasets import preload_problems
from core.errors import UserError
from core.funnel import format_funnel
from core.llm import BACKENDS
from core.llm.vllm_options import add_engine_arguments, engine_options
from core.schemas import PRIMED_STYLES
from flows.augment import FilterOptions, augment_gsm8k
from flows.augment_shards import TASK_RUNNERS, check_task_runner
from flows.command import FlowCommand
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
from flows.outcome import result_of


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


def perturb_band(spec: str) -> tuple[float, float]:
    """ "0.5,2" -> (0.5, 2.0): the multiples of the original value that new values lie between."""
    try:
        low, high = (float(part) for part in spec.split(","))
    except ValueError:
        raise UserError(f"--perturb-band takes two numbers like 0.5,2; got {spec!r}.") from None
    if not (0 < low <= 1 <= high and math.isfinite(high)):
        raise UserError(f"--perturb-band needs 0 < LOW <= 1 <= HIGH; got {spec!r}.")
    return low, high


def run(args: argparse.Namespace) -> int:
    # counts, shares and finite floats were checked as argparse read them (flows.options)
    try:
        program_origins(args.perturb_programs)
    except ValueError as e:
        raise UserError(f"--perturb-programs: {e}.") from None
    args.perturb_band = perturb_band(args.perturb_band)
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
    check_task_runner(args.task_runner)
    # the problems are read now, so a bad file is refused in one sentence before Prefect starts (its temporary
    # server takes seconds); the flow takes the rows read here
    preload_problems(args.problems, limit=args.limit, split=args.split)
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
    exit_at_once=True,
)
