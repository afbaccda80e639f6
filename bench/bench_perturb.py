"""Figures for the perturb augmenter on the first GSM8K train problems, with a real model.

Prints
- program coverage: share of problems for which the model wrote a program that reproduces the gold answer;
- on the perturbed questions of the covered problems: majority-vote label precision, i.e. among questions whose
  k sampled solutions reached the agreement threshold (what the muggle augmenter would label), the share whose
  majority answer equals the program's exact answer; plus how often any one solution reached that answer.

    python bench/bench_perturb.py                      # bundled SmolLM2-135M, first 50 problems
    python bench/bench_perturb.py --n 10 --k 4 --json out.json

`--shared-seed` (default on) gives every request the same seed so the local backend can batch requests of
different problems together (it batches only requests with equal params); the run is then not bit-reproducible.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from augmenters import perturb  # noqa: E402
from augmenters.base import AugmentConfig  # noqa: E402
from augmenters.muggle import accepted, majority_vote  # noqa: E402
from augmenters.program_eval import answer_string  # noqa: E402
from core.answers import answers_equal, normalize_answer  # noqa: E402
from core.llm import make_backend  # noqa: E402
from core.llm.base import GenParams  # noqa: E402

SHARED_DATA = Path("/work/shared/data/gsm8k/train.jsonl")
BUNDLED_DATA = Path(__file__).resolve().parents[1] / "core" / "data" / "gsm8k_train_sample.jsonl"


def load_problems(path: Path, n: int) -> list[dict]:
    problems = []
    with path.open() as f:
        for i, line in enumerate(f):
            if i >= n:
                break
            row = json.loads(line)
            gold = normalize_answer(row["answer"].split("####")[-1])
            problems.append(
                {
                    "id": f"gsm8k-train-{i}",
                    "question": row["question"],
                    "answer": gold,
                    "solution": row["answer"],
                    "source": "gsm8k",
                }  # fmt: skip
            )
    return problems


class SharedSeed:
    """Wraps a backend so every request carries one seed: requests of different problems can share a batch."""

    def __init__(self, llm, seed: int) -> None:
        self.llm, self.seed = llm, seed
        self.name, self.usage = llm.name, llm.usage

    async def chat(self, messages, n=1, params: GenParams = GenParams()):
        return await self.llm.chat(messages, n=n, params=dataclasses.replace(params, seed=self.seed))

    def close(self) -> None:
        self.llm.close()


async def run_problem(problem: dict, llm, cfg: AugmentConfig) -> dict:
    outcome = await perturb.write_program(problem, llm, cfg)
    record = {"id": problem["id"], "reason": outcome.reason, "program": outcome.source, "questions": []}
    if outcome.checked is None:
        return record
    for i, p in enumerate(perturb.draw_perturbations(problem, outcome.checked, cfg)):
        if p is None:
            record["questions"].append({"draw": i, "reason": "no_valid_values"})
            continue
        solutions = await perturb.solve_perturbation(problem, i, p, llm, cfg)
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
    covered = [r for r in records if r["reason"] is None]
    questions = [q for r in covered for q in r["questions"] if "question" in q]
    labelled = [q for q in questions if q["labelled"]]
    return {
        "problems": len(records),
        "program_coverage": len(covered) / len(records),
        "covered": len(covered),
        "no_program_reasons": dict(Counter(r["reason"] for r in records if r["reason"])),
        "perturbed_questions": len(questions),
        "draws_without_valid_values": sum(1 for r in covered for q in r["questions"] if "question" not in q),
        "k": perturb.solutions_per_question(cfg),
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
    data = Path(args.data) if args.data else (SHARED_DATA if SHARED_DATA.exists() else BUNDLED_DATA)
    problems = load_problems(data, args.n)
    cfg = AugmentConfig(seed=args.seed, perturb_n=args.perturb_n, muggle_k=args.k, muggle_agreement=args.agreement,
                        max_tokens=args.max_tokens)  # fmt: skip
    llm = make_backend(args.backend, model=args.model, max_batch=args.max_batch)
    if args.shared_seed:
        llm = SharedSeed(llm, args.seed)
    start = time.monotonic()

    async def tracked(problem: dict) -> dict:
        record = await run_problem(problem, llm, cfg)
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
        if r["reason"] is None:
            print(f"\n--- {r['id']} program ---\n{r['program']}")
            for q in r["questions"]:
                print(json.dumps(q))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "records": records}, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50, help="first N train problems")
    parser.add_argument("--data", default=None, help="GSM8K-format JSONL (default: the shared train set)")
    parser.add_argument("--backend", default="local")
    parser.add_argument("--model", default=None)
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--perturb-n", type=int, default=2)
    parser.add_argument("--k", type=int, default=4, help="solutions sampled per perturbed question")
    parser.add_argument("--agreement", type=float, default=0.5)
    parser.add_argument("--max-tokens", type=int, default=320)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shared-seed", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--json", default=None, help="also write the records here")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
