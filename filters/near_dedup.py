"""Near-duplicate removal with sentence embeddings and faiss: within the new samples and against source problems.

Two samples are near-duplicates when they ask a near-identical question (cosine >= threshold between query
embeddings AND the same set of numbers: a question with other numbers is another problem, however close its
words) or, for samples asking the very same question (AnsAug draws, several solutions of one masked question),
when their responses are near-identical in that same sense. Of each cluster the highest-scored sample (else the
first in frame order) is kept; the rest are dropped with reason "near_duplicate".

A new question (any type but the answer-only ones, whose query is the source question by design) that is its
source question, or near-identical to any source problem, is dropped with reason "near_duplicate_source".
Run the exact normalized-text dedup (filters/exact_dedup.py) first; this filter also catches exact copies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from core.schemas import PRIMED_STYLES
from filters.base import drop_ids, kept_positions
from filters.text import normalize_text, numbers_in

if TYPE_CHECKING:  # numpy and the embedder load when a filter embeds, not when the augment flow imports the filters
    import numpy as np

    from core.embeddings import Embedder

NEAR_DUPLICATE = "near_duplicate"
NEAR_DUPLICATE_SOURCE = "near_duplicate_source"
ANSWER_ONLY_TYPES = frozenset({"GSM_AnsAug", *(f"GSM_Primed_{s}" for s in PRIMED_STYLES)})  # query: the source
DEFAULT_THRESHOLD = 0.98  # MiniLM cosine: light paraphrases measure >= 0.995, a real rephrasing ~0.975


@dataclass
class _Question:
    key: str  # normalized query
    text: str  # query of its best-ranked sample
    rank: int  # best rank of its samples (0 = highest priority)
    samples: list[int]  # row positions, best rank first


def priority_order(df: pl.DataFrame, positions: list[int]) -> list[int]:
    """Positions sorted best first: highest score first (null scores last), ties in frame order."""
    scores = df["score"].to_list()
    return sorted(positions, key=lambda p: (scores[p] is None, -(scores[p] or 0.0), p))


def range_neighbours(queries: np.ndarray, base: np.ndarray, threshold: float) -> list[np.ndarray]:
    """For each query vector, indices of base vectors with cosine >= threshold (exact search, faiss flat index)."""
    import numpy as np

    if len(queries) == 0 or len(base) == 0:
        return [np.zeros(0, dtype=np.int64) for _ in range(len(queries))]
    import faiss

    index = faiss.IndexFlatIP(base.shape[1])
    index.add(np.ascontiguousarray(base, dtype=np.float32))
    lims, _, ids = index.range_search(np.ascontiguousarray(queries, dtype=np.float32), float(threshold) - 1e-6)
    return [ids[lims[i] : lims[i + 1]] for i in range(len(queries))]


def _greedy_clusters(texts: list[str], vectors: np.ndarray, threshold: float) -> list[bool]:
    """Walk items best first (their list order); an item is a duplicate when a kept, better item is near it."""
    numbers = [numbers_in(t) for t in texts]
    neighbours = range_neighbours(vectors, vectors, threshold)
    kept = [False] * len(texts)
    for i in range(len(texts)):
        kept[i] = not any(j < i and kept[j] and numbers[j] == numbers[i] for j in neighbours[i].tolist())
    return kept


def near_dedup(
    df: pl.DataFrame,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    source_questions: list[str] | None = None,
    embedder: Embedder | None = None,
    answer_only_types: frozenset[str] = ANSWER_ONLY_TYPES,
) -> pl.DataFrame:
    """Drop near-duplicate samples among the still-kept rows (see the module docstring for the rule).

    `source_questions`: questions of the source problems (the samples' `original_question` values always count).
    """
    positions = priority_order(df, kept_positions(df))
    if not positions:
        return df
    import numpy as np

    from core.embeddings import Embedder

    embedder = embedder or Embedder()
    queries, responses = df["query"].to_list(), df["response"].to_list()
    originals, types = df["original_question"].to_list(), df["type"].to_list()

    sources: dict[str, str] = {normalize_text(q): q for q in (source_questions or []) if q}
    sources.update({normalize_text(originals[p]): originals[p] for p in positions if originals[p]})

    drops: dict[int, str] = {}
    questions: dict[str, _Question] = {}
    for rank, pos in enumerate(positions):
        key = normalize_text(queries[pos])
        if key in sources and types[pos] not in answer_only_types:
            drops[pos] = NEAR_DUPLICATE_SOURCE  # a "new" question that is a source question verbatim
            continue
        q = questions.setdefault(key, _Question(key, queries[pos] or "", rank, []))
        q.samples.append(pos)

    # question level: new questions near a source problem, then near each other
    new_questions = sorted((q for q in questions.values() if q.key not in sources), key=lambda q: q.rank)
    if new_questions:
        source_texts = list(sources.values())
        vecs = embedder.embed([q.text for q in new_questions])
        near_source = range_neighbours(vecs, embedder.embed(source_texts), threshold)
        source_numbers = [numbers_in(t) for t in source_texts]
        survivors = []
        for q, vec, hits in zip(new_questions, vecs, near_source, strict=True):
            if any(source_numbers[j] == numbers_in(q.text) for j in hits.tolist()):
                drops.update({pos: NEAR_DUPLICATE_SOURCE for pos in q.samples})
                del questions[q.key]
            else:
                survivors.append((q, vec))
        if survivors:
            kept = _greedy_clusters([q.text for q, _ in survivors], np.stack([v for _, v in survivors]), threshold)
            for (q, _), keep in zip(survivors, kept, strict=True):
                if not keep:
                    drops.update({pos: NEAR_DUPLICATE for pos in q.samples})
                    del questions[q.key]

    # response level: several samples asking the same question (all their responses embedded in one call)
    groups = [q.samples for q in questions.values() if len(q.samples) > 1]
    flat = [pos for group in groups for pos in group]
    vectors = embedder.embed([responses[p] or "" for p in flat])
    start = 0
    for group in groups:
        texts = [responses[p] or "" for p in group]
        kept = _group_kept(texts, vectors[start : start + len(group)], threshold)
        start += len(group)
        drops.update({pos: NEAR_DUPLICATE for pos, keep in zip(group, kept, strict=True) if not keep})
    return drop_ids(df, drops)


def _group_kept(texts: list[str], vectors: np.ndarray, threshold: float) -> list[bool]:
    """Greedy clustering of one small group with a dense similarity matrix (no index needed)."""
    sims = vectors @ vectors.T
    numbers = [numbers_in(t) for t in texts]
    kept = [False] * len(texts)
    for i in range(len(texts)):
        kept[i] = not any(kept[j] and sims[i, j] >= threshold and numbers[j] == numbers[i] for j in range(i))
    return kept
