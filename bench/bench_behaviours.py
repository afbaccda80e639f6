"""Precision and recall of the rule-based behaviour detector on the hand-labelled set (presence of each behaviour).

python bench/bench_behaviours.py [--show-errors]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from analysis.behaviours import BEHAVIOURS, detect, precision_recall

LABELS = Path(__file__).resolve().parent.parent / "tests" / "analysis" / "behaviour_labels.jsonl"


def main(argv: list[str]) -> int:
    rows = [json.loads(line) for line in LABELS.read_text().splitlines() if line.strip()]
    predicted = [detect(r["text"]) for r in rows]
    scores = precision_recall(predicted, rows)
    print(f"rule-based detector on {len(rows)} labelled responses ({LABELS.name})")
    print(f"{'behaviour':<20}{'precision':>10}{'recall':>8}{'tp':>5}{'fp':>5}{'fn':>5}{'tn':>5}")
    for name in BEHAVIOURS:
        s = scores[name]
        fmt = lambda x: "-" if x is None else f"{x:.2f}"  # noqa: E731
        print(
            f"{name:<20}{fmt(s['precision']):>10}{fmt(s['recall']):>8}{s['tp']:>5}{s['fp']:>5}{s['fn']:>5}{s['tn']:>5}"
        )
    if "--show-errors" in argv:
        for row, p in zip(rows, predicted, strict=True):
            wrong = [n for n in BEHAVIOURS if (p[n] > 0) != (row[n] > 0)]
            if wrong:
                print(row["id"], wrong, row["note"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
