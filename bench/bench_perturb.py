"""Figures for the perturb augmenter on the first GSM8K train problems, with a real model.

Prints
- program coverage, per origin: share of problems with a program that reproduces the gold answer, read off the
  reference solution's calculator marks (no model), written by the model, and either;
- on the perturbed questions of the covered problems: majority-vote label precision, i.e. among questions whose
  k sampled solutions reached the agreement threshold (what the muggle augmenter would label), the share whose
  majority answer equals the program's exact answer; plus how often any one solution reached that answer.

    python bench/bench_perturb.py                      # bundled SmolLM2-135M, first 50 problems
    python bench/bench_perturb.py --n 10 --k 4 --json out.json

`--data` takes what `--dataset` takes (default: the bundled sample, whose first 200 rows are GSM8K train's).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path

from augmenters import perturb
from augmenters.base import AugmentConfig
from augmenters.muggle import accepted, majority_vote
from augmenters.program_eval import answer_string
from core.answers import answers_equal
from core.datasets import load_problems
from core.llm import make_backend


async def run_problem(problem: dict, llm, cfg: AugmentConfig, origins: tuple[str, ...]) -> dict:
    tried = {}
    if "solution" in origins:
        tried["solution"] = perturb.program_from_marks(problem)
    if "model" in origins:
        tried["model"] = await perturb.program_from_model(problem, llm, cfg)
    outcome = next((o for o in tried.values() if o.checked is not None), None)
    record = {
        "id": problem["id"],
        "reasons": {origin: o.reason for origin, o in tried.items()},
        "origin": outcome.origin if outcome else None,
        "program": outcome.source if outcome else None,
        "model_program": tried["model"].source if "model" in tried else None,
        "questions": [],
    }
    if outcome is None:
        return record
    for i, p in enumerate(perturb.draw_perturbations(problem, outcome.checked, cfg)):
        if p is None:
            record["questions"].append({"draw": i, "reason": "no_valid_values"})
            continue
        solutions = await perturb.solve_perturbation(problem, i, p, llm, cfg, cfg.muggle_k)
        answers = [a for _, a in solutions]
        vote = majority_vote(answers)
        target = answer_string(p.answer)
        record["questions"].append(
            {
                "draw": i,
                "question": p.question,
                "program_answer": target,
                "answers": answers,
                "majority": vote.answer,
                "agreement": vote.agreement,
                "labelled": accepted(vote, cfg.muggle_agreement),
                "majority_correct": answers_equal(target, vote.answer),
                "any_correct": any(answers_equal(target, a) for a in answers),
            }
        )
    return record


def summarize(records: list[dict], cfg: AugmentConfig, seconds: float) -> dict:
    covered = [r for r in records if r["origin"] is not None]
    questions = [q for r in covered for q in r["questions"] if "question" in q]
    labelled = [q for q in questions if q["labelled"]]
    origins = sorted({o for r in records for o in r["reasons"]})
    return {
        "problems": len(records),
        "program_coverage": len(covered) / len(records),
        "covered": len(covered),
        "coverage_by_origin": {
            o: sum(1 for r in records if o in r["reasons"] and r["reasons"][o] is None) / len(records) for o in origins
        },
        "no_program_reasons": {
            o: dict(Counter(r["reasons"][o] for r in records if r["reasons"].get(o))) for o in origins
        },
        "perturbed_questions": len(questions),
        "draws_without_valid_values": sum(1 for r in covered for q in r["questions"] if "question" not in q),
        "k": cfg.muggle_k,
        "agreement_threshold": cfg.muggle_agreement,
        "majority_labelled": len(labelled),
        "majority_precision": (sum(q["majority_correct"] for q in labelled) / len(labelled)) if labelled else None,
        "majority_accuracy_all": (sum(q["majority_correct"] for q in questions) / len(questions))
        if questions
        else None,
        "any_solution_reaches_program_answer": (
            sum(q["any_correct"] for q in questions) / len(questions) if questions else None
        ),
        "seconds": round(seconds, 1),
    }


async def main_async(args: argparse.Namespace) -> None:
    data = args.data
    problems = load_problems(data, limit=args.n).to_dicts()
    cfg = AugmentConfig(seed=args.seed, perturb_n=args.perturb_n, muggle_k=args.k, muggle_agreement=args.agreement,
                        max_tokens=args.max_tokens)  # fmt: skip
    llm = make_backend(args.backend, model=args.model, max_batch=args.max_batch)
    start = time.monotonic()

    origins = perturb.program_origins(args.programs)

    async def tracked(problem: dict) -> dict:
        record = await run_problem(problem, llm, cfg, origins)
        print(f"[{time.monotonic() - start:7.1f}s] {json.dumps(record)}", file=sys.stderr, flush=True)
        return record

    try:
        records = await asyncio.gather(*(tracked(p) for p in problems))
    finally:
        llm.close()
    summary = summarize(records, cfg, time.monotonic() - start)
    summary.update(data=str(data), model=llm.name, completion_tokens=llm.usage.completion_tokens)
    print(json.dumps(summary, indent=2))
    for r in records:
        if r["origin"] is not None:
            print(f"\n--- {r['id']} program ({r['origin']}) ---\n{r['program']}")
            for q in r["questions"]:
                print(json.dumps(q))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "records": records}, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50, help="first N train problems")
    parser.add_argument("--data", default="sample", help="'sample', a Hub id or a GSM8K-form .jsonl/.parquet")
    parser.add_argument("--backend", default="local")
    parser.add_argument("--model", default=None)
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--perturb-n", type=int, default=2)
    parser.add_argument("--programs", default="solution,model", help="program origins to measure (both by default)")
    parser.add_argument("--k", type=int, default=4, help="solutions sampled per perturbed question")
    parser.add_argument("--agreement", type=float, default=0.5)
    parser.add_argument("--max-tokens", type=int, default=320)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the records here")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
