"""The funnel, computed from the samples table (never tracked by hand): generated -> parsed -> verified -> kept."""

from __future__ import annotations

import polars as pl


def funnel(df: pl.DataFrame) -> dict[str, dict]:
    """Per type and in total: counts at each stage, and how many each filter dropped (by reason)."""
    out: dict[str, dict] = {}
    for type_name in [*sorted(df["type"].unique().to_list()), "total"]:
        part = df if type_name == "total" else df.filter(pl.col("type") == type_name)
        reasons = part.filter(~pl.col("keep").fill_null(False))["reason"].fill_null("unknown").value_counts(sort=True)
        out[type_name] = {
            "generated": part.height,
            "parsed": int(part["answer"].is_not_null().sum()),
            "verified": int(part["verified_by"].is_not_null().sum()),
            "kept": int(part["keep"].fill_null(False).sum()),
            "dropped_by": {r: int(c) for r, c in reasons.iter_rows()},
        }
    return out


def format_funnel(stats: dict[str, dict]) -> str:
    """A plain-text table, one row per type, for the terminal."""
    header = f"{'type':<16}{'generated':>10}{'parsed':>10}{'verified':>10}{'kept':>8}  dropped by"
    lines = [header, "-" * len(header)]
    for type_name, row in stats.items():
        dropped = ", ".join(f"{r} {c}" for r, c in row["dropped_by"].items()) or "-"
        lines.append(
            f"{type_name:<16}{row['generated']:>10}{row['parsed']:>10}{row['verified']:>10}{row['kept']:>8}  {dropped}"
        )
    return "\n".join(lines)
