"""Programs from the reference solutions' calculator marks, and their perturbed questions, for reading by hand.

No model runs here. Prints how many problems get a program from their marks (and why the others do not), then,
with --show, each perturbed question beside its original, the exact new answer and the program, so a person can
check whether the new question makes sense and the answer is right.

    python bench/review_perturb.py --data ../shared/data/gsm8k/train.jsonl          # coverage on all of train
    python bench/review_perturb.py --start 150 --end 200 --show                      # read 50 by hand
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

from augmenters.base import AugmentConfig
from augmenters.perturb import draw_perturbations, program_from_marks, solution_for
from augmenters.program_eval import answer_string
from core.datasets import load_problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="sample", help="'sample', a Hub id or a GSM8K-form .jsonl/.parquet")
    parser.add_argument("--start", type=int, default=0, help="first problem (0-based)")
    parser.add_argument("--end", type=int, default=None, help="stop before this problem")
    parser.add_argument("--perturb-n", type=int, default=1, help="perturbed versions per problem")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", action="store_true", help="print every perturbed question")
    parser.add_argument(
        "--band", type=float, nargs=2, default=AugmentConfig.perturb_band, help="new values between these multiples"
    )
    args = parser.parse_args()

    problems = load_problems(args.data, limit=args.end).to_dicts()[args.start :]
    cfg = AugmentConfig(seed=args.seed, perturb_n=args.perturb_n, perturb_band=tuple(args.band))
    reasons: Counter[str] = Counter()
    questions = with_question = 0
    for problem in problems:
        outcome = program_from_marks(problem)
        reasons[outcome.reason or "program"] += 1
        if outcome.checked is None:
            continue
        drawn = [p for p in draw_perturbations(problem, outcome.checked, cfg) if p is not None]
        with_question += bool(drawn)
        for p in drawn:
            questions += 1
            if args.show:
                print(f"--- {problem['id']}\noriginal:  {problem['question']}  [{problem['answer']}]")
                print(f"perturbed: {p.question}  [{answer_string(p.answer)}]")
                print("solution:  " + solution_for(problem, outcome.marks, p).replace("\n", " | "))
                print("program:   " + outcome.source.replace("\n", "; ") + "\n")
    summary = {
        "problems": len(problems),
        "with_program": reasons["program"],
        "coverage": round(reasons["program"] / len(problems), 4) if problems else None,
        "no_program": {k: v for k, v in reasons.most_common() if k != "program"},
        "with_perturbed_question": with_question,
        "question_coverage": round(with_question / len(problems), 4) if problems else None,
        "perturbed_questions": questions,
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
