"""Issue 11, coverage: problems the mark programs used to refuse needlessly, and the refusals that must stay.

Every problem here is our own, written in GSM8K's form (question, solution text without the marks, the marks, the
gold answer).
"""

import random

from augmenters.numbers_in_text import find_numbers
from augmenters.perturb import program_from_marks
from augmenters.perturb_draw import sample_perturbation


def _problem(question: str, solution: str, calculations: list[str], answer: str, pid: str = "own") -> dict:
    return {"id": pid, "question": question, "solution": solution, "calculations": calculations, "answer": answer}


def _draws(problem: dict, n: int = 20) -> list:
    outcome = program_from_marks(problem)
    assert outcome.checked is not None, outcome.reason
    draws = [sample_perturbation(outcome.checked, problem["question"], random.Random(seed)) for seed in range(n)]
    return [p for p in draws if p is not None]


def test_the_complement_of_a_percentage_is_a_percentage():
    coat = _problem(
        "A coat costs $80. The shop takes 25% off. How much does Ana pay for the coat?",
        "Ana pays 100-25 = 75% of the price.\nThat is 80*75/100 = $60.",
        ["100-25=75", "80*75/100=60"],
        "60",
    )
    draws = _draws(coat)
    assert draws
    for p in draws:
        price, off = (n.value for n in find_numbers(p.question))
        assert p.answer == price * (100 - off) / 100
    # the complement may not then be used as a plain number (a wrong reference: "80 - 75" dollars)
    misused = _problem(
        "A coat costs $80. The shop takes 25% off. How much does Ana save?",
        "Ana pays 100-25 = 75% of the price.\nShe saves 80-75 = $5.",
        ["100-25=75", "80-75=5"],
        "5",
    )
    assert program_from_marks(misused).reason == "percent_as_number"
