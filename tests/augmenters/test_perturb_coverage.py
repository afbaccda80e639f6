"""Issue 11, coverage: problems the mark programs used to refuse needlessly, and the refusals that must stay.

Every problem here is our own, written in GSM8K's form (question, solution text without the marks, the marks, the
gold answer).
"""

import random
from fractions import Fraction

import pytest

from augmenters.numbers_in_text import find_numbers
from augmenters.perturb import program_from_marks, solution_for
from augmenters.perturb_draw import sample_perturbation, tied_sums
from augmenters.program_eval import ProgramError


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


def test_a_result_equal_to_a_value_a_word_gives_is_read_as_the_result_when_only_that_reading_holds():
    # 12 is 3 * 4, and also what "years" may stand for (months); read as the constant 12, the mark "3*4" would be
    # computed for nothing, so the later 12 is the result
    aunt = _problem(
        "Ela is 3 years old. Her cousin is 4 times as old as Ela. Her aunt is 25 years older than her cousin. "
        "How old is her aunt?",
        "Her cousin is 3*4 = 12 years old.\nHer aunt is 12+25 = 37 years old.",
        ["3*4=12", "12+25=37"],
        "37",
    )
    draws = _draws(aunt)
    assert draws
    for p in draws:
        ela, times, older = (n.value for n in find_numbers(p.question))
        assert p.answer == ela * times + older


def test_a_result_equal_to_a_given_number_is_refused_when_two_readings_hold_and_differ():
    # 5 is both the washer's load and 20 / 4 towels' weight: "10+5" and "15/5" can each be either
    washer = _problem(
        "A washer takes 5 kg at a time. 4 towels weigh 1 kg and 2 blankets weigh 1 kg. Eli washes 20 towels and 20 "
        "blankets. How many loads does he run?",
        "The towels weigh 20/4 = 5 kg.\nThe blankets weigh 20/2 = 10 kg.\nThat is 10+5 = 15 kg.\n"
        "He runs 15/5 = 3 loads.",
        ["20/4=5", "20/2=10", "10+5=15", "15/5=3"],
        "3",
    )
    assert program_from_marks(washer).reason == "ambiguous_number"


def test_a_result_equal_to_a_given_number_is_kept_and_its_solution_rewritten_occurrence_by_occurrence():
    # the $30 of the trip is also the difference 120 - 90 = 30; the last mark "30*2" can only be that difference
    # (read as the trip's $30, the mark "120-90" would be computed for nothing)
    boats = _problem(
        "A trip on a canoe costs $30 per hour and a trip on a motorboat costs $40 per hour. Mia takes the canoe and "
        "Leo the motorboat, each for 3 hours a day. How much more does Leo pay than Mia over two days?",
        "Mia pays $30 x 3 = $90 a day.\nLeo pays $40 x 3 = $120 a day.\nLeo pays $120 - $90 = $30 more a day.\n"
        "Over two days that is $30 x 2 = $60.",
        ["30*3=90", "40*3=120", "120-90=30", "30*2=60"],
        "60",
    )
    outcome = program_from_marks(boats)
    assert outcome.checked is not None, outcome.reason
    kept = 0
    for seed in range(20):
        p = sample_perturbation(outcome.checked, boats["question"], random.Random(seed))
        if p is None:
            continue
        kept += 1
        canoe, motor, hours = (n.value for n in find_numbers(p.question))
        assert p.answer == (motor - canoe) * hours * 2
        lines = solution_for(boats, outcome.marks, p).splitlines()
        assert lines[0] == f"Mia pays ${canoe} x {hours} = ${canoe * hours} a day."
        difference = (motor - canoe) * hours
        assert lines[2] == f"Leo pays ${motor * hours} - ${canoe * hours} = ${difference} more a day."
        assert lines[3] == f"Over two days that is ${difference} x 2 = ${difference * 2}."
        assert lines[-1] == f"The answer is: {difference * 2}"
    assert kept >= 10


def test_readings_that_compute_a_quantity_twice_or_divide_it_by_itself_do_not_hold():
    # the two "30-12" marks are the girls who leave (30 children leave) and the boys who stay (30 boys): read both
    # as the result, the solution would compute one quantity twice; the other readings differ, so it is refused
    fair = _problem(
        "At a fair there are 40 girls and 30 boys. 3/7 of all the children go home, 12 of them boys. How many more "
        "girls than boys stay?",
        "There are 40+30 = 70 children.\n70*3/7 = 30 go home.\n30-12 = 18 of them are girls.\n"
        "40-18 = 22 girls stay.\n30-12 = 18 boys stay.\n22-18 = 4 more girls stay.",
        ["40+30=70", "70*3/7=30", "30-12=18", "40-18=22", "30-12=18", "22-18=4"],
        "4",
    )
    assert program_from_marks(fair).reason == "ambiguous_number"
    # 1000 is the sum and what "milliliters" per liter stands for: "1000/1000" read as the sum over itself is 1
    # whatever the bottles hold; the other readings differ
    bottles = _problem(
        "Ana buys a 3 liter bottle of juice and two small ones of 600 and 400 milliliters. How many liters of juice "
        "does she buy?",
        "The small ones hold 600+400 = 1000 milliliters.\n1 liter is 1000 milliliters, so that is 1000/1000 = 1 "
        "liter.\nShe buys 3+1 = 4 liters.",
        ["600+400=1000", "1000/1000=1", "3+1=4"],
        "4",
    )
    assert program_from_marks(bottles).reason == "ambiguous_number"


def test_a_total_the_question_writes_is_drawn_as_the_sum_of_its_parts():
    # "all 15 singers" is 10 + 5 in the question, never computed in a mark: drawn on its own, the new question
    # would say "12 boys and 6 girls ... all 15 singers"
    choir = _problem(
        "A choir has 10 boys who sing 7 songs each and 5 girls who sing 4 songs each. On average, how many songs "
        "does each of all 15 singers sing?",
        "The boys sing 10*7 = 70 songs.\nThe girls sing 5*4 = 20 songs.\nThat is 70+20 = 90 songs.\n"
        "Each singer sings 90/15 = 6 songs on average.",
        ["10*7=70", "5*4=20", "70+20=90", "90/15=6"],
        "6",
    )
    draws = _draws(choir, 30)
    assert draws
    for p in draws:
        boys, boy_songs, girls, girl_songs, singers = (n.value for n in find_numbers(p.question))
        assert singers == boys + girls
        assert p.answer == (boys * boy_songs + girls * girl_songs) / singers
    # a total that two pairs of the question's numbers make: we cannot tell which it totals
    written = find_numbers("A shelter has 4 cats and 6 dogs, a shop 3 birds and 7 fish. The shelter's 10 animals...")
    with pytest.raises(ProgramError) as refused:
        tied_sums(written, {Fraction(10): ["x5"]})
    assert refused.value.reason == "ambiguous_number"


def test_cents_enter_as_dollars_and_a_walk_there_and_back_doubles():
    stall = _problem(
        "A stall sells 6 apples at 40 cents each and a pie for $3. How much does Noor pay for the apples and the pie?",
        "The apples cost 6*0.40 = $2.40.\nShe pays 2.40+3 = $5.40.",
        ["6*0.40=2.40", "2.40+3=5.40"],
        "5.40",
    )
    draws = _draws(stall)
    assert draws
    for p in draws:
        apples, cents, pie = (n.value for n in find_numbers(p.question))
        assert p.answer == apples * cents / 100 + pie
        assert f"{apples}*{float(cents / 100):.2f}" in solution_for(stall, program_from_marks(stall).marks, p)
    walk = _problem(
        "Ivo lives 300 meters from the park. He walks to the park and back 4 times a week. How far does he walk?",
        "One walk is 300*2 = 600 meters.\nHe walks 600*4 = 2400 meters a week.",
        ["300*2=600", "600*4=2400"],
        "2400",
    )
    assert _draws(walk)
    # without the words, the 2 is still a number nothing explains
    walk["question"] = walk["question"].replace(" and back", "")
    assert program_from_marks(walk).reason == "unexplained_literal"
