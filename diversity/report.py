"""build_report: a run folder in, DIR/diversity.json + DIR/report.html (+ DIR/selected.jsonl) out."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np

from analysis.behaviours import behaviour_table, detect
from core.embeddings import Embedder
from diversity import charts, html
from diversity.gain import gain_by_type, mean_or_nan, nearest
from diversity.run_data import RunData, load_run
from diversity.select import farthest_first, random_subset, subset_gains

METRIC = (
    "Diversity gain (MetaMath): mean over new samples x of min over base items y of ||f(x) - f(y)||², where f is the "
    "L2-normalised sentence embedding of question + newline + response (base: question + newline + reference "
    "solution), so each term is in [0, 4] and equals 2 - 2·cosine similarity. Texts past the model's maximum "
    "sequence length are truncated by the model."
)
EXAMPLES_PER_END = 3  # nearest-base examples per type in diversity.json: the 3 closest and the 3 farthest
BROWSER_PER_TYPE = 60
PROJECTION_CAP = 2500


def build_report(
    run_dir: str | Path,
    model: str | None = None,
    select_budget: int | None = None,
    cache_dir: str | Path | None = None,
    *,
    embedder: Embedder | None = None,
    seed: int = 0,
) -> dict:
    """Measure the run's diversity gain per type, write diversity.json and report.html, and return the summary.

    `model`: a sentence-transformers folder or name (default: the bundled all-MiniLM-L6-v2).
    `select_budget`: also pick that many kept samples by farthest-first, write them to selected.jsonl, and
    compare their gain with a random subset of the same size. `cache_dir`: the embedding cache
    (default ~/.cache/mathaug/embeddings). The returned dict is diversity.json plus "paths".
    """
    run = Path(run_dir)
    data = load_run(run)
    embedder = embedder or Embedder(model, cache_dir)
    started, embedded_before = time.perf_counter(), embedder.encoded
    base_emb = embedder.embed(data.base["text"].to_list())
    new_emb = embedder.embed(data.kept["text"].to_list())
    embedding = {
        "texts_embedded": embedder.encoded - embedded_before,
        "texts_total": len(base_emb) + len(new_emb),
        "dim": int(base_emb.shape[1]),
        "seconds": round(time.perf_counter() - started, 3),
        "cache_dir": str(embedder.cache.folder),
    }

    types = data.kept["type"].fill_null("unknown").to_list()
    if len(new_emb):
        distances, nearest_rows = nearest(new_emb, base_emb)
    else:
        distances, nearest_rows = np.zeros(0, np.float32), np.zeros(0, np.int64)
    per_type = gain_by_type(new_emb, types, base_emb, distances) if len(new_emb) else {}
    labels = np.asarray(types, dtype=object)

    report: dict = {
        "run": str(run),
        "model": embedder.model_name,
        "metric": METRIC,
        "base": {"source": data.base_source, "count": data.base.height},
        "overall": {"count": len(new_emb), "gain": mean_or_nan(distances)},
        "types": {},
        "funnel": data.funnel,
        "embedding": embedding,
        "browser_per_type": BROWSER_PER_TYPE,
    }
    rng = np.random.default_rng(seed)
    browser: list[dict] = []
    for name, info in per_type.items():
        rows = np.flatnonzero(labels == name)
        order = rows[np.argsort(distances[rows], kind="stable")]
        ends = np.concatenate([order[:EXAMPLES_PER_END], order[-EXAMPLES_PER_END:][::-1]])
        report["types"][name] = {
            **info,
            "distance_quantiles": _quantiles(distances[rows]),
            "nearest_base_examples": [_pair(data, i, distances, nearest_rows) for i in dict.fromkeys(ends.tolist())],
        }
        browser.extend(_pair(data, i, distances, nearest_rows) for i in _browser_rows(order, rng))

    responses = data.kept["response"].fill_null("").to_list()
    by_type: dict[str, list] = {}
    for name, text in zip(types, responses, strict=True):
        by_type.setdefault(name, []).append(detect(text))
    report["behaviours"] = {"method": "rules (analysis.behaviours)", "table": behaviour_table(by_type)}
    report["selection"] = _select(run, data, new_emb, base_emb, distances, select_budget, seed)
    colors = charts.type_colors(list(per_type))
    histograms, x_max = [], float(max(distances.max() if len(distances) else 0.0, 0.01))
    for name in per_type:
        rows = labels == name
        title = f"{name} (n={int(rows.sum())}, gain {per_type[name]['gain']:.4f})"
        histograms.append(charts.histogram(distances[rows], x_max, colors[name], title))
    base_xy, new_xy, new_types = _projection(base_emb, new_emb, types, rng)
    report["projection"] = {"base_points": len(base_xy), "new_points": len(new_xy), "cap": PROJECTION_CAP}
    gain_svg = charts.gain_bars(
        [(t, i["gain"], i["gain_vs_base_and_other_types"]) for t, i in per_type.items()], colors
    )
    page = html.render(
        _clean(report), gain_svg, histograms, charts.scatter(base_xy, new_xy, new_types, colors), browser, colors
    )

    paths = {"json": str(run / "diversity.json"), "html": str(run / "report.html")}
    if report["selection"]:
        paths["selected"] = report["selection"]["path"]
    _write_atomic(run / "report.html", page)
    _write_atomic(run / "diversity.json", json.dumps(_clean(report), indent=2, ensure_ascii=False))
    return {**_clean(report), "paths": paths}


def _quantiles(values: np.ndarray) -> dict[str, float]:
    if not len(values):
        return {"p10": math.nan, "p50": math.nan, "p90": math.nan}
    p10, p50, p90 = np.quantile(values.astype(np.float64), [0.1, 0.5, 0.9])
    return {"p10": float(p10), "p50": float(p50), "p90": float(p90)}


def _pair(data: RunData, row: int, distances: np.ndarray, nearest_rows: np.ndarray) -> dict:
    sample = data.kept.row(row, named=True)
    base = data.base.row(int(nearest_rows[row]), named=True)
    return {
        "id": str(sample["id"]),
        "type": sample["type"] or "unknown",
        "query": sample["query"] or "",
        "response": sample["response"] or "",
        "distance": float(distances[row]),
        "base_id": str(base["id"]),
        "base_question": base["question"] or "",
        "base_solution": base["solution"] or "",
    }


def _browser_rows(order: np.ndarray, rng: np.random.Generator) -> list[int]:
    """Up to BROWSER_PER_TYPE rows of one type: the 10 nearest, the 10 farthest, a random rest; farthest first."""
    if len(order) <= BROWSER_PER_TYPE:
        return order[::-1].tolist()
    ends = set(order[:10].tolist()) | set(order[-10:].tolist())
    middle = [i for i in order.tolist() if i not in ends]
    picked = ends | set(rng.choice(middle, size=BROWSER_PER_TYPE - len(ends), replace=False).tolist())
    return [i for i in order[::-1].tolist() if i in picked]


def _select(
    run: Path,
    data: RunData,
    new_emb: np.ndarray,
    base_emb: np.ndarray,
    distances: np.ndarray,
    budget: int | None,
    seed: int,
) -> dict | None:
    if not budget:
        return None
    picks, pick_distances = farthest_first(new_emb, base_emb, budget, distances)
    random_rows = random_subset(len(new_emb), len(picks), seed)
    ids, kinds = data.kept["id"].to_list(), data.kept["type"].to_list()
    lines = [
        json.dumps({"id": ids[i], "type": kinds[i], "rank": rank, "distance": float(d)})
        for rank, (i, d) in enumerate(zip(picks.tolist(), pick_distances.tolist(), strict=True))
    ]
    path = run / "selected.jsonl"
    _write_atomic(path, "".join(line + "\n" for line in lines))
    by_type: dict[str, int] = {}
    for i in picks.tolist():
        by_type[kinds[i]] = by_type.get(kinds[i], 0) + 1
    return {
        "budget": int(budget),
        "candidates": len(new_emb),
        "selected_count": len(picks),
        "method": "farthest-first traversal seeded with the base (greedy k-center)",
        "path": str(path),
        "selected": subset_gains(new_emb, distances, picks),
        "random": subset_gains(new_emb, distances, random_rows),
        "selected_by_type": dict(sorted(by_type.items())),
    }


def _projection(base_emb: np.ndarray, new_emb: np.ndarray, types: list[str], rng: np.random.Generator):
    base_rows = _cap(len(base_emb), rng)
    new_rows = _cap(len(new_emb), rng)
    points = np.concatenate([base_emb[base_rows], new_emb[new_rows]]).astype(np.float64)
    xy = charts.pca_2d(points)
    return xy[: len(base_rows)], xy[len(base_rows) :], [types[i] for i in new_rows.tolist()]


def _cap(n: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= PROJECTION_CAP else np.sort(rng.choice(n, size=PROJECTION_CAP, replace=False))


def _clean(value):
    """NaN -> None and numpy scalars -> Python, so the dict is valid JSON."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
