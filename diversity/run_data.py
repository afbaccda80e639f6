"""What a run folder holds for the diversity report: kept new samples, base problems, and the funnel."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from core.errors import UserError
from core.text_files import read_json

FUNNEL_STAGES = ("generated", "parsed", "verified", "kept")


@dataclass(frozen=True)
class RunData:
    samples: pl.DataFrame  # every generated sample (SAMPLE_SCHEMA), kept or not
    kept: pl.DataFrame  # samples with keep == True, plus a "text" column (query + "\n" + response)
    base: pl.DataFrame  # id, question, solution, text (question + "\n" + solution)
    base_source: str  # "problems.parquet", or "original_question" when the run has no problems file
    funnel: dict[str, dict[str, int]]


def load_run(run_dir: str | Path) -> RunData:
    run = Path(run_dir)
    if not run.is_dir():
        raise UserError(f"The run folder {str(run)!r} does not exist; pass --run with a folder the augment flow wrote.")
    samples_path = run / "samples.parquet"
    if not samples_path.is_file():
        raise UserError(
            f"The run folder {str(run)!r} has no samples.parquet; pass --run with a folder the augment flow wrote."
        )
    try:
        samples = pl.read_parquet(samples_path)
    except Exception as exc:  # noqa: BLE001 - any read failure means a damaged file
        raise UserError(f"Could not read {samples_path} ({type(exc).__name__}); re-run the augment flow.") from exc
    missing = {"id", "type", "query", "response", "keep"} - set(samples.columns)
    if missing:
        raise UserError(f"{samples_path} lacks the columns {sorted(missing)}; it was not written by the augment flow.")

    kept = samples.filter(pl.col("keep").fill_null(False)).with_columns(
        text=pl.col("query").fill_null("") + "\n" + pl.col("response").fill_null("")
    )
    base, base_source = _load_base(run, samples)
    if base.height == 0:
        raise UserError(f"The run folder {str(run)!r} has no base problems to compare with; re-run the augment flow.")
    return RunData(samples, kept, base, base_source, _load_funnel(run, samples))


def _load_base(run: Path, samples: pl.DataFrame) -> tuple[pl.DataFrame, str]:
    problems_path = run / "problems.parquet"
    if problems_path.is_file():
        problems = pl.read_parquet(problems_path)
        base = problems.select(
            pl.col("id").cast(pl.String),
            pl.col("question").fill_null(""),
            pl.col("solution").cast(pl.String) if "solution" in problems.columns else pl.lit(None, pl.String),
        )
        source = "problems.parquet"
    else:  # fall back to the questions the samples came from (no solutions known)
        column = "original_question" if "original_question" in samples.columns else None
        questions = [] if column is None else samples[column].drop_nulls().unique(maintain_order=True).to_list()
        base = pl.DataFrame(
            {
                "id": [f"q{i}" for i in range(len(questions))],
                "question": questions,
                "solution": [None] * len(questions),
            },
            schema={"id": pl.String, "question": pl.String, "solution": pl.String},
        )
        source = "original_question"
    base = base.unique(subset="id", keep="first", maintain_order=True).with_columns(
        text=pl.when(pl.col("solution").is_null())
        .then(pl.col("question"))
        .otherwise(pl.col("question") + "\n" + pl.col("solution"))
    )
    return base, source


def _load_funnel(run: Path, samples: pl.DataFrame) -> dict[str, dict[str, int]]:
    stats_path = run / "stats.json"
    if stats_path.is_file():
        stats = read_json(stats_path, "stats file")  # one sentence for a file that is not JSON or not readable
        funnel = stats.get("funnel") if isinstance(stats, dict) else None
        if isinstance(funnel, dict) and funnel:
            try:
                return {str(t): {s: int(c.get(s, 0)) for s in FUNNEL_STAGES} for t, c in sorted(funnel.items())}
            except (AttributeError, TypeError, ValueError, OverflowError):
                raise UserError(f"{stats_path} has a malformed 'funnel'; delete stats.json to recount it.") from None
    return funnel_from_samples(samples)


def funnel_from_samples(samples: pl.DataFrame) -> dict[str, dict[str, int]]:
    """generated = rows, parsed = answer found, verified = verified_by set, kept = keep, per type."""
    exprs = [pl.len().alias("generated")]
    has = set(samples.columns)
    exprs.append((pl.col("answer").is_not_null().sum() if "answer" in has else pl.lit(0)).alias("parsed"))
    exprs.append((pl.col("verified_by").is_not_null().sum() if "verified_by" in has else pl.lit(0)).alias("verified"))
    exprs.append(pl.col("keep").fill_null(False).sum().alias("kept"))
    table = samples.group_by("type").agg(exprs).sort("type")
    return {row["type"]: {s: int(row[s]) for s in FUNNEL_STAGES} for row in table.iter_rows(named=True)}
