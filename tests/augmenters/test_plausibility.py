"""Perturbed values a careful reader believes (augmenters.plausibility), on our own GSM8K-like problems."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from augmenters.numbers_in_text import find_numbers
from augmenters.perturb import check_program
from augmenters.perturb_draw import sample_perturbation
from augmenters.plausibility import number_rule, question_caps
from augmenters.program_eval import ProgramError
from augmenters.solution_program import build_from_marks


def _rule(text: str, value: int):
    [number] = [n for n in find_numbers(text) if n.value == value]
    return number_rule(text, number)


# --- numbers inside a name or a fixed fact stay as written ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Twelve 4-wheel drive trucks wait at the gate.", 4),
        ("She rides a 10-speed bike to school.", 10),
        ("He changed $300 into $20 bills.", 20),
        ("She paid with five 10 dollar bills.", 10),
        ("A marathon is 26 miles long and Tom has run 9 miles.", 26),
        ("They shuffled a deck of 52 cards.", 52),
        ("The 6 friends share the 28 tiles in the set equally.", 28),
        ("A standard crate holds 24 bottles and the shop has 90 bottles.", 24),
        ("The density of silver is 10 grams per cubic centimeter; her bar is 5 cubic centimeters.", 10),
        ("Sound travels fast: the speed of sound is 343 meters per second.", 343),
        ("He slept 70% of the recommended 8 hours on 3 nights.", 8),
        ("Her copper bar measures 2 by 3 by 4 inches, and a cubic inch of copper weighs 5 ounces.", 5),
        ("The tank holds 30 gallons; one gallon of sea water weighs about 9 pounds.", 9),
    ],
)
def test_names_and_fixed_facts_stay(text, value):
    assert _rule(text, value).fixed


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("A standard crate holds 24 bottles and the shop has 90 bottles.", 90),
        ("Her bar is 5 cubic centimeters and the density of silver is 10 grams per cubic centimeter.", 5),
    ],
)
def test_story_quantities_beside_a_fixed_fact_still_move(text, value):
    assert _rule(text, value) == number_rule(text, next(n for n in find_numbers(text) if n.value == value))
    assert not _rule(text, value).fixed


def test_heights_move_little_and_weekly_days_stay_within_the_week():
    assert _rule("Mia is half as tall as her father, who is 70 inches.", 70).band == (0.9, 1.1)
    assert _rule("The tree is 40 feet tall and grows 2 feet a year.", 40).band == (0.9, 1.1)
    assert _rule("He trains 6 days a week for 2 hours.", 6).most == 7
    assert _rule("She swims 40 hours every month to prepare.", 40).band == (0.8, 1.25)
    assert _rule("After school, she tutors 4 days a week for $15 an hour.", 4).most == 5


def test_a_plain_count_beside_a_name_still_moves():
    text = "Twelve 4-wheel drive trucks carry 30 boxes each."
    assert _rule(text, 30).fixed is None
    checked = check_program("trucks = 12\nboxes = 30\nanswer = trucks * boxes", text.replace("Twelve", "12"), "360")
    assert Fraction(4) not in checked.groups and Fraction(30) in checked.groups


# --- a rate per unit moves only a little, a rate on a price stays in its range --------------------------------------


def test_rates_per_unit_move_little():
    eggs = _rule("Each of her 9 hens lays 3 eggs a day.", 3)
    speed = _rule("He drives 600 miles at 50 miles per hour.", 50)
    assert eggs.band == speed.band and eggs.band[1] <= 1.25
    assert _rule("He drives 600 miles at 50 miles per hour.", 600).band is None


def test_tax_and_tip_stay_realistic():
    assert _rule("Milk costs $4 and there is an 8% sales tax.", 8).most == 15
    assert _rule("They left a 20% tip on the $60 bill.", 20).most == 30
    question = "A lamp costs $40 and the sales tax is 10%. How much does she pay?"
    checked = check_program("price = 40\ntax = 10\nanswer = price + price * tax / 100", question, "44")
    for seed in range(30):
        p = sample_perturbation(checked, question, random.Random(seed))
        assert p is not None and p.values.get("tax", 10) <= 12  # x1.25 of 10%, never 40%


# --- words of the question cap every quantity that was under the cap -------------------------------------------------


def test_question_caps():
    assert 100 in question_caps("Ann is 12 years old and her aunt is 3 times as old.")
    assert 100 in question_caps("Sam scored 45 on his math test.")
    assert 60 in question_caps("There were 20 students on the bus.")
    assert question_caps("Ann buys 12 apples.") == ()


def test_hours_in_a_week_stay_believable():
    assert 100 in question_caps("Omar practised the piano for 60 hours last week.")
    assert 100 in question_caps("How many hours does she work in a week?")
    assert 100 not in question_caps("The trip took 9 hours and cost $80.")
    question = "Omar played video games for 88 hours last week. This week he plays 9 hours a day. How many fewer hours?"
    checked = check_program("last = 88\nper_day = 9\nanswer = last - per_day * 7", question, "25")
    drawn = [sample_perturbation(checked, question, random.Random(seed)) for seed in range(40)]
    assert any(drawn) and all(p.values.get("last", 88) <= 100 for p in drawn if p is not None)


def test_ages_stay_human():
    question = "Lena is 9 years old. Her great-grandmother is 10 times as old as Lena. How old is the grandmother?"
    checked = check_program("lena = 9\ntimes = 10\nanswer = lena * times", question, "90")
    for seed in range(40):
        p = sample_perturbation(checked, question, random.Random(seed))
        assert p is None or p.answer <= 100


def test_test_scores_stay_out_of_100():
    question = "Ravi scored 8 points more than Mia on a quiz. Mia scored twice as many as Leo, who scored 46."
    checked = check_program("more = 8\nleo = 46\nanswer = leo * 2 + more", question, "100")
    for seed in range(40):
        p = sample_perturbation(checked, question, random.Random(seed))
        assert p is None or p.answer <= 100


def test_steps_stay_near_their_original_size():
    question = "A box holds 40 pens and a pack holds 30 pens. Jo buys 6 boxes and 5 packs. How many pens in all?"
    checked = check_program("box = 40\npack = 30\nboxes = 6\npacks = 5\nanswer = box * boxes + pack * packs",
                            question, "390")  # fmt: skip
    for seed in range(30):
        p = sample_perturbation(checked, question, random.Random(seed))
        assert p is not None and Fraction(390 * 2, 5) <= p.answer <= Fraction(390 * 5, 2)


# --- a literal that is an input times a word's factor: the input stays ---------------------------------------------


def test_operand_reused_through_a_word_relation_stays_fixed():
    question = ("Each weekday box of nails weighs 8 pounds and the Sunday box weighs twice as much. "
                "A truck carries 30 of each. How many pounds is that?")  # fmt: skip
    # the program hard-codes the Sunday box as 16 (2 x 8): a new weekday weight would leave it behind
    checked = check_program("weekday = 8\ntrucks = 30\nanswer = weekday * trucks + 16 * trucks", question, "720")
    assert Fraction(8) not in checked.groups and Fraction(30) in checked.groups


# --- reference solutions whose words would go stale ----------------------------------------------------------------


def test_a_factor_word_for_a_written_number_keeps_it_fixed():
    question = "Maya saves $600 over 10 months. She is paid 2 times a month. How much does she save per paycheck?"
    solution = "She saves 600/10 = $60 a month.\nShe is paid twice a month, so she saves 60/2 = $30 each time."
    marks = build_from_marks(question, solution, ["600/10=60", "60/2=30"], "30")
    checked = check_program(marks.source, question, "30", ["600/10=60", "60/2=30"], percent_check=False)
    assert Fraction(2) not in checked.groups and Fraction(600) in checked.groups  # "twice" stays true


def test_a_word_for_a_computed_value_refuses():
    question = "Ann buys 3 packs of 4 eggs. She also has 5 eggs. How many eggs does she have?"
    solution = "The packs hold 3*4 = 12 eggs, a dozen.\nWith the others she has 12+5 = 17 eggs."
    with pytest.raises(ProgramError) as err:
        build_from_marks(question, solution, ["3*4=12", "12+5=17"], "17")
    assert err.value.reason == "stale_solution_text"


def test_a_dollar_sign_on_a_count_refuses():
    question = "A cafe sells tea for $3 and cake for $5. It sold 12 teas and 9 cakes. How much did it make?"
    solution = "Tea made $3 x 12 = $36.\nCake made $9 x 5 = $45.\nIn all $36 + $45 = $81."
    with pytest.raises(ProgramError) as err:
        build_from_marks(question, solution, ["3*12=36", "9*5=45", "36+45=81"], "81")
    assert err.value.reason == "stale_solution_text"
    fine = solution.replace("$9 x 5", "$5 x 9")  # the $ on the price: the solution can be rewritten
    assert build_from_marks(question, fine, ["3*12=36", "5*9=45", "36+45=81"], "81").source


def test_a_count_under_its_period_stays_under_it():
    question = "Omar works 5 days a week and earns $90 a day. How much does he earn in a week?"
    checked = check_program("days = 5\npay = 90\nanswer = days * pay", question, "450")
    for seed in range(30):
        p = sample_perturbation(checked, question, random.Random(seed))
        assert p is not None and p.values.get("days", 5) < 7  # a working week, not every day
