"""`flows run diversity-report --run DIR`: MetaMath diversity gain per type, DIR/diversity.json and DIR/report.html."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from prefect import flow, get_run_logger

from core.errors import UserError
from flows.command import FlowCommand
from flows.options import existing_folder, out_folder, positive_int
from flows.outcome import fails_cleanly, run_flow


def _check_run_dir(run: str) -> None:
    folder = Path(run)
    if not folder.is_dir():
        raise UserError(f"The run folder {run!r} does not exist; pass --run with a folder the augment flow wrote.")
    if not (folder / "samples.parquet").is_file():
        raise UserError(
            f"The run folder {run!r} has no samples.parquet; pass --run with a folder the augment flow wrote."
        )


def _figure(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(value, 5)


def gain_table(report: dict) -> list[dict]:
    """One row per type (and one for all types): kept count, gain over base, gain over base ∪ other types."""
    rows = [
        {
            "type": name,
            "kept": info["count"],
            "gain": _figure(info["gain"]),
            "gain_vs_base_and_other_types": _figure(info["gain_vs_base_and_other_types"]),
        }
        for name, info in report["types"].items()
    ]
    rows.append(
        {
            "type": "all",
            "kept": report["overall"]["count"],
            "gain": _figure(report["overall"]["gain"]),
            "gain_vs_base_and_other_types": None,
        }
    )
    selection = report.get("selection")
    if selection:
        for label in ("selected", "random"):
            rows.append(
                {
                    "type": f"{label} subset ({selection['selected_count']})",
                    "kept": selection["selected_count"],
                    "gain": _figure(selection[label]["gain"]),
                    "gain_vs_base_and_other_types": None,
                }
            )
    return rows


@flow(name="diversity-report")
@fails_cleanly
def diversity_report(
    run: str,
    model: str | None = None,
    select_budget: int | None = None,
    cache_dir: str | None = None,
) -> dict:
    """Measure a run's diversity gain per type, write diversity.json and report.html, publish a link and a table."""
    from prefect.artifacts import create_link_artifact, create_table_artifact

    from diversity.report import build_report

    _check_run_dir(run)
    report = build_report(run, model=model, select_budget=select_budget, cache_dir=cache_dir)
    html_path = Path(report["paths"]["html"]).resolve()
    create_link_artifact(
        link=html_path.as_uri(),
        link_text="diversity report (report.html)",
        key="diversity-report",
        description=f"Self-contained HTML diversity report of {run}",
    )
    create_table_artifact(
        table=gain_table(report),
        key="diversity-gain",
        description=f"MetaMath diversity gain per type of {run} (embedder {report['model']})",
    )
    get_run_logger().info(
        "embedded %d of %d texts (the rest came from the cache)",
        report["embedding"]["texts_embedded"],
        report["embedding"]["texts_total"],
    )
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run",
        type=existing_folder,
        required=True,
        help="run folder written by the augment flow (has samples.parquet)",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="sentence-transformers model folder or cached name (default: bundled all-MiniLM-L6-v2)",
    )
    parser.add_argument(
        "--select-budget",
        type=positive_int,
        default=None,
        help="also pick N kept samples that add the most diversity (written to RUN/selected.jsonl)",
    )
    parser.add_argument(
        "--cache-dir", type=out_folder, default=None, help="embedding cache (default: ~/.cache/mathaug/embeddings)"
    )


def run_command(args: argparse.Namespace) -> int:
    _check_run_dir(args.run)
    if args.select_budget is not None and args.select_budget < 1:
        raise UserError("--select-budget must be a positive number of samples.")
    report = run_flow(
        diversity_report, run=args.run, model=args.model, select_budget=args.select_budget, cache_dir=args.cache_dir
    )
    gains = ", ".join(f"{row['type']} {row['gain']}" for row in gain_table(report))
    print(f"diversity gain: {gains}")
    print(f"report: {report['paths']['html']}")
    return 0


COMMAND = FlowCommand(
    "diversity-report",
    "MetaMath diversity gain per augmentation type of a run, with an HTML report and optional selection",
    add_arguments,
    run_command,
)
