"""Write a blind-audit sheet of perturbed problems: for each problem of a row range that gets a perturbed question
(programs from the calculator marks, one draw, a fixed seed), the row number, the original question, the perturbed
question, the program's answer and the solution written from the reference. No model runs here.

It prints only the coverage, never the rows, so that the person who wrote the rules can make the sheet for
someone else without reading it.

    python bench/audit_sheet.py --data ../shared/data/gsm8k/train.jsonl --start 5000 --end 5300 --out /work/audit
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from augmenters.base import AugmentConfig
from augmenters.perturb import draw_perturbations, program_from_marks, solution_for
from augmenters.program_eval import answer_string
from core.datasets import load_problems


def audit_rows(problems: list[dict], start: int, cfg: AugmentConfig) -> list[dict]:
    """One entry per problem with a perturbed question (the first draw that held)."""
    rows = []
    for offset, problem in enumerate(problems):
        outcome = program_from_marks(problem)
        if outcome.checked is None:
            continue
        drawn = [p for p in draw_perturbations(problem, outcome.checked, cfg) if p is not None]
        if not drawn:
            continue
        p = drawn[0]
        rows.append(
            {
                "row": start + offset,
                "original_question": problem["question"],
                "perturbed_question": p.question,
                "answer": answer_string(p.answer),
                "solution": solution_for(problem, outcome.marks, p),
            }
        )
    return rows


def write_sheet(rows: list[dict], total: int, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Blind audit of perturbed problems",
        "",
        f"Coverage: {len(rows)} / {total} problems got a perturbed question.",
        "",
        "For each item, solve the perturbed question from its text alone; note whether the answer below is right",
        "and whether the question is sensible as a word problem.",
        "",
    ]
    for r in rows:
        lines += [
            f"## Row {r['row']}",
            "",
            f"**Original:** {r['original_question']}",
            "",
            f"**Perturbed:** {r['perturbed_question']}",
            "",
            f"**Program's answer:** {r['answer']}",
            "",
            "**Solution written from the reference:**",
            "",
            *[f"> {line}" for line in r["solution"].splitlines()],
            "",
        ]
    (out / "sheet.md").write_text("\n".join(lines), encoding="utf-8")
    with (out / "sheet.jsonl").open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="sample", help="'sample', a Hub id or a GSM8K-form .jsonl/.parquet")
    parser.add_argument("--start", type=int, required=True, help="first row (0-based)")
    parser.add_argument("--end", type=int, required=True, help="stop before this row")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="folder for sheet.md and sheet.jsonl")
    args = parser.parse_args()
    problems = load_problems(args.data, limit=args.end).to_dicts()[args.start :]
    rows = audit_rows(problems, args.start, AugmentConfig(seed=args.seed, perturb_n=1))
    write_sheet(rows, len(problems), args.out)
    print(f"coverage: {len(rows)} / {len(problems)} problems got a perturbed question; sheet in {args.out}")


if __name__ == "__main__":
    main()
