"""Decontamination: drop samples whose question overlaps an evaluation set (word n-grams or embedding neighbours).

Eval sets are named by a spec (the --decontaminate option): a comma list of
  - `gsm8k-test`: the GSM8K test questions bundled with the package (a sample, for offline use);
  - `gsm8k-test=PATH`: the full GSM8K test set from PATH instead;
  - `PATH`: any .jsonl or .parquet file with a `question` field.
A kept sample is dropped with reason "contaminated" when its query shares a word n-gram (default 10 words) with an
eval question, or when the cosine between its query and the nearest eval question is >= the threshold.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from core.errors import UserError
from filters.base import drop_where, kept_mask
from filters.text import word_ngrams

if TYPE_CHECKING:  # numpy and the embedder load with the first Decontaminator: the flow checks --decontaminate before
    import numpy as np  # it generates, and needs neither for that

    from core.embeddings import Embedder

CONTAMINATED = "contaminated"
GSM8K_TEST = "gsm8k-test"
DEFAULT_NGRAM = 10
DEFAULT_THRESHOLD = 0.9


def bundled_gsm8k_test() -> list[str]:
    text = resources.files("core").joinpath("data/gsm8k_test_sample.jsonl").read_text(encoding="utf-8")
    return [json.loads(line)["question"] for line in text.splitlines() if line.strip()]


def read_questions(path: str | Path) -> list[str]:
    """The `question` field of every record of a .jsonl or .parquet file."""
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise UserError(f"Decontamination file {name!r} does not exist; pass gsm8k-test or a .jsonl/.parquet file.")
    try:
        if path.suffix == ".parquet":
            frame = pl.read_parquet(path)
        elif path.suffix in (".jsonl", ".json"):
            frame = pl.read_ndjson(path, infer_schema_length=None)
        else:
            raise UserError(f"Decontamination file {name!r} is neither .jsonl nor .parquet; convert it first.")
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise UserError(f"Could not read decontamination file {name!r}; check it is valid {path.suffix}.") from exc
    if "question" not in frame.columns:
        raise UserError(f"Decontamination file {name!r} has no `question` field; give a question per row.")
    return [q for q in frame["question"].cast(pl.String).to_list() if q]


def load_eval_sets(spec: str | list[str] | None) -> dict[str, list[str]]:
    """Eval set name -> questions, from a comma list (or a list) of `gsm8k-test`, `gsm8k-test=PATH` or paths."""
    items = spec.split(",") if isinstance(spec, str) else list(spec or [])
    sets: dict[str, list[str]] = {}
    for item in (i.strip() for i in items):
        if not item:
            continue
        if item == GSM8K_TEST:
            sets[GSM8K_TEST] = bundled_gsm8k_test()
        elif item.startswith(GSM8K_TEST + "="):
            sets[GSM8K_TEST] = read_questions(item.split("=", 1)[1])
        else:
            sets[item] = read_questions(item)
    return sets


class Decontaminator:
    """Holds the eval questions' n-grams and embedding index; `contaminated(texts)` flags each text."""

    def __init__(
        self,
        eval_questions: list[str],
        *,
        ngram: int = DEFAULT_NGRAM,
        threshold: float = DEFAULT_THRESHOLD,
        embedder: Embedder | None = None,
    ) -> None:
        from core.embeddings import Embedder

        self.ngram, self.threshold = ngram, threshold
        self.embedder = embedder or Embedder()
        self.grams: set[tuple[str, ...]] = set()
        for q in eval_questions:
            self.grams |= word_ngrams(q, ngram)
        self.index = None  # a faiss index of the eval questions
        if eval_questions and threshold <= 1.0:
            import faiss
            import numpy as np

            vecs = self.embedder.embed(eval_questions)
            self.index = faiss.IndexFlatIP(vecs.shape[1])
            self.index.add(np.ascontiguousarray(vecs))

    def ngram_hits(self, texts: list[str]) -> list[bool]:
        return [not self.grams.isdisjoint(word_ngrams(t, self.ngram)) for t in texts]

    def nearest_similarity(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        if self.index is None or not texts:
            return np.full(len(texts), -1.0, dtype=np.float32)
        sims, _ = self.index.search(np.ascontiguousarray(self.embedder.embed(texts)), 1)
        return sims[:, 0]

    def contaminated(self, texts: list[str]) -> list[bool]:
        by_ngram = self.ngram_hits(texts)
        todo = [t for t, hit in zip(texts, by_ngram, strict=True) if not hit]  # embed only what n-grams missed
        near = iter(self.nearest_similarity(todo) >= self.threshold)
        return [hit or bool(next(near)) for hit in by_ngram]


def decontaminate(df: pl.DataFrame, decontaminator: Decontaminator) -> pl.DataFrame:
    """Drop still-kept samples whose query overlaps the eval sets, with reason "contaminated"."""
    mask = kept_mask(df).to_list()
    queries = df["query"].to_list()
    positions = [i for i, k in enumerate(mask) if k]
    flags = decontaminator.contaminated([queries[i] or "" for i in positions])
    drop = [False] * df.height
    for pos, flag in zip(positions, flags, strict=True):
        drop[pos] = flag
    return drop_where(df, drop, CONTAMINATED)
