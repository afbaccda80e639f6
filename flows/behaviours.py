"""`flows run behaviours`: count the four reasoning behaviours in a run's responses, by rules and optionally by an
LLM judge, and write the tables (per type, or per group) with the agreement of the two methods.

Reads an augmentation run (samples.parquet: the kept samples, grouped by type), an evaluation folder (eval.json:
the greedy responses), or a mining folder (attempts.parquet: grouped by correct / wrong). Writes OUT/behaviours.json
(per-response counts, tables, agreement) and OUT/behaviours.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl
from prefect import flow, get_run_logger

from analysis.behaviours import BEHAVIOURS, agreement, behaviour_table, detect
from core.errors import UserError
from core.run_files import read_run_parquet
from flows.command import FlowCommand
from flows.options import (
    existing_folder,
    out_folder,
    positive_int,
    url_list,
)
from flows.outcome import fails_cleanly, run_flow


@dataclass
class BehaviourOptions:
    run: str
    out: str
    limit: int | None = None  # responses per group
    judge: str | None = None  # backend of the LLM judge; None: rules only
    judge_model: str | None = None
    base_url: str | None = None


def run_responses(run: str | Path) -> list[tuple[str, str]]:
    """(group, response) pairs of a run folder: kept samples by type, an evaluation's greedy responses, or mined
    attempts by verdict."""
    folder = Path(run).expanduser()
    try:
        if (folder / "samples.parquet").is_file():
            frame = read_run_parquet(folder / "samples.parquet", ("keep",)).filter(pl.col("keep"))
            return list(zip(frame["type"].fill_null("unknown"), frame["response"].fill_null(""), strict=True))
        if (folder / "eval.json").is_file():
            per_problem = json.loads((folder / "eval.json").read_text()).get("per_problem", [])
            return [("greedy", p.get("greedy_response") or "") for p in per_problem]
        if (folder / "attempts.parquet").is_file():
            frame = read_run_parquet(folder / "attempts.parquet")
            groups = ["correct" if ok else "wrong" for ok in frame["correct"]]
            return list(zip(groups, frame["text"].fill_null(""), strict=True))
    except (OSError, ValueError, pl.exceptions.PolarsError) as exc:
        raise UserError(f"Cannot read the responses of {run}: {type(exc).__name__}; is it a finished run?") from None
    raise UserError(
        f"{run} holds no samples.parquet, eval.json or attempts.parquet; pass the --out folder of augment-gsm8k, "
        "evaluate or mine-failures."
    )


def markdown(tables: dict[str, list[dict]], agreements: dict | None) -> str:
    lines = ["# Reasoning behaviours", ""]
    for method, table in tables.items():
        lines += [f"## {method}: share of responses · mean count", ""]
        lines.append("| group | responses | " + " | ".join(BEHAVIOURS) + " |")
        lines.append("| --- | --- |" + " --- |" * len(BEHAVIOURS))
        for row in table:
            cells = [
                "n/a"
                if row[f"{n}_share"] is None
                else f"{row[f'{n}_share']:.2f} · {row[f'{n}_mean']:.2f}"
                + (f" ({row[f'{n}_unparsed']} unparsed)" if row.get(f"{n}_unparsed") else "")
                for n in BEHAVIOURS
            ]
            lines.append(f"| {row['group']} | {row['responses']} | " + " | ".join(cells) + " |")
        lines.append("")
    if agreements:
        lines += ["## Agreement of rules and judge (presence)", "", "| behaviour | compared | agreement | kappa |",
                  "| --- | --- | --- | --- |"]  # fmt: skip
        lines += [f"| {n} | {a['compared']} | {a['agreement']} | {a['kappa']} |" for n, a in agreements.items()]
    return "\n".join(lines) + "\n"


@flow(name="behaviours")
@fails_cleanly
def behaviours_flow(options: BehaviourOptions) -> dict:
    """Count the behaviours of a run's responses; write OUT/behaviours.json and OUT/behaviours.md."""
    logger = get_run_logger()
    pairs = run_responses(options.run)
    if options.limit:
        pairs = _first_per_group(pairs, options.limit)
    if not pairs:
        raise UserError(f"{options.run} has no responses to read.")
    groups = [g for g, _ in pairs]
    rules = [detect(text) for _, text in pairs]
    result: dict = {"run": options.run, "responses": len(pairs), "options": asdict(options)}
    tables = {"rules": behaviour_table(_by_group(groups, rules))}
    judged = None
    if options.judge:
        from analysis.judge import judge_responses
        from core.llm import make_backend

        llm = make_backend(options.judge, model=options.judge_model, base_url=options.base_url)
        try:
            logger.info("judging %d responses with %s", len(pairs), llm.name)
            judged = asyncio.run(judge_responses(llm, [t for _, t in pairs]))
            result["judge_model"] = llm.name
        finally:
            llm.close()
        counts = [j["counts"] for j in judged]
        tables["judge"] = behaviour_table(_by_group(groups, counts))
        result["agreement"] = agreement(rules, counts)
    result["tables"] = tables
    result["per_response"] = [{"group": g, "rules": r} for g, r in zip(groups, rules, strict=True)]
    for entry, j in zip(result["per_response"], judged or [], strict=False):
        entry.update(judge=j["counts"], judge_reply=j["reply"])
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "behaviours.json").write_text(json.dumps(result, indent=2))
    (out / "behaviours.md").write_text(markdown(tables, result.get("agreement")))
    return result


def _first_per_group(pairs: list[tuple[str, str]], limit: int) -> list[tuple[str, str]]:
    taken: dict[str, int] = {}
    kept = []
    for group, text in pairs:
        if taken.get(group, 0) < limit:
            taken[group] = taken.get(group, 0) + 1
            kept.append((group, text))
    return kept


def _by_group(groups: list[str], counts: list) -> dict[str, list]:
    out: dict[str, list] = {}
    for group, c in zip(groups, counts, strict=True):
        out.setdefault(group, []).append(c)
    return out


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run", type=existing_folder, required=True, help="an augment-gsm8k, evaluate or mine-failures --out folder"
    )
    parser.add_argument(
        "--out", type=out_folder, help="where to write behaviours.json / .md (default: the --run folder)"
    )
    parser.add_argument("--limit", type=positive_int, help="at most N responses per group")
    parser.add_argument("--judge", choices=["local", "openai", "vllm"], help="also count with an LLM judge")
    parser.add_argument("--judge-model", help="the judge's model (default: the backend's default)")
    parser.add_argument("--base-url", type=url_list, help="with --judge openai: the server's URL(s)")


def _run(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit <= 0:
        raise UserError("--limit must be positive.")
    run_responses(args.run)  # a wrong folder: one sentence before Prefect starts
    options = BehaviourOptions(args.run, args.out or args.run, args.limit, args.judge, args.judge_model, args.base_url)
    result = run_flow(behaviours_flow, options)
    print(markdown(result["tables"], result.get("agreement")), end="")
    print(f"written to {Path(options.out) / 'behaviours.json'}")
    return 0


COMMAND = FlowCommand(
    "behaviours", "count reasoning behaviours in a run's responses (rules, LLM judge)", _add_arguments, _run
)
