"""Benchmark of the diversity package; prints figures, asserts nothing.

1. Embedding throughput on the same unique GSM8K-style texts: plain SentenceTransformer.encode against our
   Embedder with an empty cache (hash, de-duplicate, sort by length, encode, write the cache) and with a warm
   cache (a new Embedder reading the cache from disk), as embeddings/s and ratios.
2. Diversity gain (overall and per type, with the per-type gain over base ∪ other types) and farthest-first
   selection for 50K new samples against a 7.5K base, on synthetic normalised 384-d embeddings.

    python bench/bench_diversity.py [--texts 1000] [--new 50000] [--base 7500] [--budget 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from importlib import resources

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def gsm8k_texts(count: int) -> list[str]:
    rows = [json.loads(line) for line in resources.files("core").joinpath("data/gsm8k_train_sample.jsonl").open()]
    texts = []
    for i in range(count):
        row = rows[i % len(rows)]
        texts.append(f"{row['question']} (variant {i // len(rows)})\n{row['answer']}")  # unique, realistic lengths
    return texts


def bench_embedding(count: int, batch_size: int) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    from core.embeddings import Embedder
    from core.sentence_model import bundled_model_path

    device = "cuda" if torch.cuda.is_available() else "cpu"
    texts = gsm8k_texts(count)
    model = SentenceTransformer(bundled_model_path(), device=device)
    model.encode(texts[:32], batch_size=batch_size)  # warm-up
    print(
        f"embedding {count} unique texts with all-MiniLM-L6-v2 on {device}, batch {batch_size}, "
        f"{torch.get_num_threads()} torch threads"
    )

    started = time.perf_counter()
    model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
    plain = count / (time.perf_counter() - started)

    with tempfile.TemporaryDirectory() as cache:
        cold_embedder = Embedder(cache_dir=cache, batch_size=batch_size, sentence_model=model)
        started = time.perf_counter()
        cold_embedder.embed(texts)
        cold = count / (time.perf_counter() - started)
        warm_embedder = Embedder(cache_dir=cache, batch_size=batch_size)  # a later run: cache from disk, no model
        started = time.perf_counter()
        warm_embedder.embed(texts)
        warm = count / (time.perf_counter() - started)
        assert cold_embedder.encoded == count and warm_embedder.encoded == 0

    print(f"  plain SentenceTransformer.encode : {plain:10.1f} embeddings/s")
    print(f"  ours, empty cache                : {cold:10.1f} embeddings/s  (ratio to plain {cold / plain:.2f})")
    print(f"  ours, warm cache (second run)    : {warm:10.1f} embeddings/s  (ratio to plain {warm / plain:.1f})")


def synthetic_embeddings(new: int, base: int, dim: int, types: int, seed: int = 0):
    """Base items on random directions; each new type sits around base items at its own spread, plus novel points."""
    rng = np.random.default_rng(seed)

    def normalise(x: np.ndarray) -> np.ndarray:
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    base_emb = normalise(rng.standard_normal((base, dim)))
    labels = rng.integers(0, types, new)
    # noise of norm 0.15 (type 0, close to a copy) up to 0.9 (type 5): distances like real types, 0.02 to ~0.6
    spread = (0.15 + 0.15 * labels[:, None]) / np.sqrt(dim)
    new_emb = base_emb[rng.integers(0, base, new)] + spread * rng.standard_normal((new, dim))
    novel = rng.random(new) < 0.02
    new_emb[novel] = rng.standard_normal((int(novel.sum()), dim))
    return normalise(new_emb), base_emb, [f"type_{k}" for k in labels]


def bench_gain_and_selection(new: int, base: int, budget: int, dim: int = 384, types: int = 6) -> None:
    import faiss

    from diversity.gain import gain_by_type, mean_or_nan, nearest
    from diversity.select import farthest_first, random_subset, subset_gains

    new_emb, base_emb, labels = synthetic_embeddings(new, base, dim, types)
    print(
        f"gain + selection: {new} new vs {base} base, dim {dim}, {types} types, budget {budget}, "
        f"faiss {faiss.__version__} with {faiss.omp_get_max_threads()} threads"
    )
    started = time.perf_counter()
    distances, _ = nearest(new_emb, base_emb)
    overall = mean_or_nan(distances)
    t_gain = time.perf_counter() - started
    started = time.perf_counter()
    per_type = gain_by_type(new_emb, labels, base_emb, distances)
    t_types = time.perf_counter() - started
    started = time.perf_counter()
    picks, _ = farthest_first(new_emb, base_emb, budget, distances)
    t_select = time.perf_counter() - started
    started = time.perf_counter()
    chosen = subset_gains(new_emb, distances, picks)
    rand = subset_gains(new_emb, distances, random_subset(len(new_emb), budget))
    t_compare = time.perf_counter() - started

    print(
        f"  overall gain {overall:.4f}; per type: "
        + ", ".join(f"{t} {i['gain']:.3f}/{i['gain_vs_base_and_other_types']:.3f}" for t, i in per_type.items())
    )
    print(
        f"  selected gain {chosen['gain']:.4f} vs random {rand['gain']:.4f}; over base ∪ rest of subset "
        f"{chosen['gain_vs_base_and_rest_of_subset']:.4f} vs {rand['gain_vs_base_and_rest_of_subset']:.4f}"
    )
    print(f"  gain over base (exact search)          : {t_gain:8.2f} s")
    print(f"  per-type gains over base ∪ other types : {t_types:8.2f} s")
    print(f"  farthest-first selection of {budget:<6}    : {t_select:8.2f} s")
    print(f"  selected-vs-random comparison          : {t_compare:8.2f} s")
    print(f"  total                                  : {t_gain + t_types + t_select + t_compare:8.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1000, help="texts for the embedding benchmark (0: skip)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--new", type=int, default=50_000)
    parser.add_argument("--base", type=int, default=7_500)
    parser.add_argument("--budget", type=int, default=5_000)
    args = parser.parse_args()
    if args.texts:
        bench_embedding(args.texts, args.batch_size)
    if args.new:
        bench_gain_and_selection(args.new, args.base, args.budget)


if __name__ == "__main__":
    main()
