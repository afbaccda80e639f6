"""Precision and recall of the behaviour detectors on the hand-labelled set (presence of each behaviour).

    python bench/bench_behaviours.py [--show-errors]                   # the rule-based detector
    python bench/bench_behaviours.py --judge local [--model M] [--limit N]   # also the LLM judge, and agreement

The labels were written by hand, by meaning, after the rules and without tuning the rules on them afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from analysis.behaviours import BEHAVIOURS, agreement, detect, precision_recall

LABELS = Path(__file__).resolve().parent.parent / "tests" / "analysis" / "behaviour_labels.jsonl"


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def print_scores(title: str, scores: dict) -> None:
    print(title)
    print(f"{'behaviour':<20}{'precision':>10}{'recall':>8}{'tp':>5}{'fp':>5}{'fn':>5}{'tn':>5}{'unparsed':>10}")
    for name in BEHAVIOURS:
        s = scores[name]
        print(
            f"{name:<20}{_fmt(s['precision']):>10}{_fmt(s['recall']):>8}{s['tp']:>5}{s['fp']:>5}{s['fn']:>5}"
            f"{s['tn']:>5}{s['unparsed']:>10}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-errors", action="store_true", help="list the rows the rules get wrong")
    parser.add_argument("--judge", choices=["local", "openai", "vllm"], help="also run the LLM judge on this backend")
    parser.add_argument("--model", help="the judge's model (default: the backend's default)")
    parser.add_argument("--base-url", help="with --judge openai")
    parser.add_argument("--limit", type=int, help="only the first N labelled rows")
    args = parser.parse_args()

    rows = [json.loads(line) for line in LABELS.read_text().splitlines() if line.strip()][: args.limit]
    rules = [detect(r["text"]) for r in rows]
    title = f"rule-based detector on {len(rows)} labelled responses ({LABELS.name})"
    print_scores(title, precision_recall(rules, rows))
    if args.show_errors:
        for row, p in zip(rows, rules, strict=True):
            wrong = [n for n in BEHAVIOURS if (p[n] > 0) != (row[n] > 0)]
            if wrong:
                print(" ", row["id"], wrong, row["note"])
    if args.judge:
        from analysis.judge import judge_responses
        from core.llm import make_backend

        llm = make_backend(args.judge, model=args.model, base_url=args.base_url)
        started = time.perf_counter()
        try:
            judged = asyncio.run(judge_responses(llm, [r["text"] for r in rows]))
        finally:
            llm.close()
        counts = [j["counts"] for j in judged]
        print()
        print_scores(f"LLM judge ({llm.name}, {time.perf_counter() - started:.0f} s)", precision_recall(counts, rows))
        print()
        print("agreement of rules and judge on presence (rows both parsed)")
        for name, a in agreement(rules, counts).items():
            print(f"  {name:<20} compared {a['compared']:>3}  agreement {_fmt(a['agreement'])}", end="")
            print(f"  kappa {_fmt(a['kappa'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
