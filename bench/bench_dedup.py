"""Benchmark: near-duplicate removal + decontamination on synthetic samples, split into embedding and search time.

    python bench/bench_dedup.py                      # 100,000 samples against 7,500 source problems
    python bench/bench_dedup.py --samples 5000 --problems 400 --device cpu
    python bench/bench_dedup.py --samples 4000 --problems 1000 --runs 2   # run 2: a new Embedder, cache on disk

Synthetic problems come from templates (random names, items and numbers); samples mix AnsAug solutions,
rephrasings, masked (FOBAR-style) questions and changed-number questions, with ~2% planted exact copies, ~2% planted
light paraphrases and a few planted GSM8K test questions. "encode" is time spent encoding texts with the bundled
MiniLM; "search" is everything else in the filter (faiss range/NN search, n-grams, grouping, bookkeeping, reading
and writing the embedding cache).
Embeddings are cached on disk (core.embeddings) in --cache-dir, by default a new temporary folder, so run 1 starts
cold; each later run uses a new Embedder on the same cache, as a later `flows run augment-gsm8k` would.
"""

from __future__ import annotations

import argparse
import random
import re
import tempfile
import time

import polars as pl

from core.embeddings import Embedder
from core.schemas import new_sample, samples_frame
from filters.decontaminate import Decontaminator, bundled_gsm8k_test, decontaminate
from filters.near_dedup import DEFAULT_THRESHOLD, near_dedup

NAMES = "Ava Ben Cleo Dev Eli Fay Gus Hana Ivan Jo Kai Lena Milo Nia Omar Pia Quin Rosa Sami Tess Uma Vik Wes".split()
ITEMS = "apples pencils stickers marbles cookies books shells coins cards stamps beads tickets plants shirts".split()
PLACES = "market school park library bakery garage studio farm harbor museum".split()
TEMPLATES = [
    "{n} has {a} {i}. Each day at the {p} {n} gets {b} more {i}. How many {i} does {n} have after {c} days?",
    "At the {p}, {n} sells {a} {i} for ${b} each and spends ${c} on lunch. How much money does {n} keep?",
    "{n} packs {a} boxes with {b} {i} in each box and gives away {c} {i}. How many {i} are left?",
    "{n} walks {a} miles to the {p} and {b} miles back, {c} times a week. How many miles is that each week?",
    "A {p} orders {a} crates of {i}. Each crate holds {b} {i}, and {c} {i} arrive broken. How many are whole?",
]
REWORDS = [
    ("How many", "What number of"),
    ("Each", "Every"),
    ("gets", "receives"),
    ("sells", "sold"),
    (" is ", " was "),
]


def make_problem(rng: random.Random) -> str:
    template = rng.choice(TEMPLATES)
    name, item, place = rng.choice(NAMES), rng.choice(ITEMS), rng.choice(PLACES)
    a, b, c = rng.randint(2, 999), rng.randint(2, 99), rng.randint(2, 60)
    return template.format(n=name, i=item, p=place, a=a, b=b, c=c)


def make_response(rng: random.Random, question: str) -> str:
    nums = [int(x) for x in re.findall(r"\d+", question)][:3] or [1, 2, 3]
    a, b, c = (nums + [1, 1, 1])[:3]
    lead = rng.choice(["First", "To start", "We begin:", "Step one:"])
    return f"{lead} {a} * {b} = {a * b}.\nThen {a * b} - {c} = {a * b - c}.\nThe answer is: {a * b - c}"


def reword(rng: random.Random, text: str, k: int) -> str:
    for old, new in rng.sample(REWORDS, k):
        text = text.replace(old, new)
    return text


def build(samples: int, problems: int, seed: int) -> tuple[pl.DataFrame, list[str]]:
    rng = random.Random(seed)
    sources = list(dict.fromkeys(make_problem(rng) for _ in range(problems * 2)))[:problems]
    test = bundled_gsm8k_test()
    rows = []
    for i in range(samples):
        parent = rng.randrange(len(sources))
        question = sources[parent]
        roll = rng.random()
        if roll < 0.4:
            aug, query = "ansaug", question
        elif roll < 0.7:
            aug, query = "rephrase", question.replace(". ", ". So, ", 1) + f" (Version {i})"
        elif roll < 0.9:
            aug = "fobar"
            query = question.replace(str(rng.choice([2, 3, 4, 5])), "x", 1) + f" If the answer is {i}, what is x?"
        else:
            aug, query = "perturb", make_problem(rng)
        rows.append((f"p{parent}", aug, str(i), query, make_response(rng, query), question))
    plant = max(1, samples // 50)
    for j in range(plant):  # exact copies and light paraphrases of earlier samples
        parent, aug, variant, query, response, original = rows[rng.randrange(samples)]
        rows.append((parent, aug, f"copy{j}", query, response, original))
        rows.append((parent, aug, f"light{j}", reword(rng, query, 1), response, original))
    for j in range(min(20, samples // 100 + 1)):  # planted test questions
        rows.append(("p0", "perturb", f"test{j}", test[j], "The answer is: 1", sources[0]))
    frame = samples_frame(
        [
            new_sample(
                parent_id=p,
                augmenter=a,
                variant=v,
                prompt=v,
                query=q,
                response=r,
                answer=None,
                target=None,
                original_question=o,
                model="synthetic",
            )
            for p, a, v, q, r, o in rows
        ]
    )
    return frame, sources


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--problems", type=int, default=7_500)
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda when there is one)")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", type=int, default=1, help="filter the same samples this many times (default 1)")
    ap.add_argument("--cache-dir", default=None, help="embedding cache folder (default: a new temporary one)")
    args = ap.parse_args()

    df, sources = build(args.samples, args.problems, args.seed)
    print(f"{df.height:,} samples ({args.samples:,} generated + planted) against {len(sources):,} source problems")
    with tempfile.TemporaryDirectory(prefix="bench-dedup-cache-") as tmp:
        cache_dir = args.cache_dir or tmp
        print(f"embedding cache: {cache_dir}")
        model = Embedder(device=args.device, cache_dir=cache_dir).model  # loaded and warmed outside the timings
        model.encode(["warm up"])
        for run in range(1, args.runs + 1):
            embedder = Embedder(
                device=args.device, batch_size=args.batch_size, cache_dir=cache_dir, sentence_model=model
            )
            print(f"run {run}:")
            bench_filters(df, sources, embedder, args.threshold)


def bench_filters(df: pl.DataFrame, sources: list[str], embedder: Embedder, threshold: float) -> None:
    start = time.perf_counter()
    out = near_dedup(df, threshold=threshold, source_questions=sources, embedder=embedder)
    dedup_total, dedup_embed, dedup_texts = time.perf_counter() - start, embedder.seconds, embedder.encoded

    start = time.perf_counter()
    decon = Decontaminator(bundled_gsm8k_test(), embedder=embedder)
    out = decontaminate(out, decon)
    decon_total = time.perf_counter() - start
    decon_embed, decon_texts = embedder.seconds - dedup_embed, embedder.encoded - dedup_texts

    counts = out.group_by("reason").len().sort("reason", nulls_last=True)
    print(f"device: {embedder.model.device}, threshold {threshold}")
    print(f"{'stage':<16}{'texts embedded':>16}{'encode s':>10}{'search s':>10}{'total s':>10}")
    for stage, texts, embed_s, total_s in (
        ("near-dedup", dedup_texts, dedup_embed, dedup_total),
        ("decontaminate", decon_texts, decon_embed, decon_total),
    ):
        print(f"{stage:<16}{texts:>16,}{embed_s:>10.1f}{total_s - embed_s:>10.1f}{total_s:>10.1f}")
    print("rows by reason:", {r or "kept": n for r, n in counts.iter_rows()})


if __name__ == "__main__":
    main()
