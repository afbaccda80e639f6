"""MetaMath's masking rule for backward questions, and our decision on number words."""

import pytest

from augmenters.masking import choose_masks, mask_candidates


def masked(question: str) -> list[tuple[str, str, str]]:
    return [(m.text, m.value, m.apply(question)) for m in mask_candidates(question)]


def test_digit_tokens_are_masked_keeping_dollar_and_punctuation():
    q = "A pen costs $1,200.50, a cap costs $3."
    assert masked(q) == [
        ("1,200.50", "1200.5", "A pen costs $x, a cap costs $3."),
        ("3", "3", "A pen costs $1,200.50, a cap costs $x."),
    ]


def test_percent_and_fraction_tokens():
    q = "He saves 50% of 3/4 of his pay."
    assert [(t, v) for t, v, _ in masked(q)] == [("50", "50"), ("3/4", "3/4")]
    assert masked(q)[0][2] == "He saves x% of 3/4 of his pay."


@pytest.mark.parametrize("token", ["2nd", "10-hour", "5kg", "x2", "3rd."])
def test_tokens_with_letters_are_not_masked(token):
    assert mask_candidates(f"On the {token} day she ran.") == []


def test_number_words_are_masked_after_digits():
    q = "Twelve kids share 36 apples and twenty pears."
    assert [(t, v) for t, v, _ in masked(q)] == [("36", "36"), ("Twelve", "12"), ("twenty", "20")]
    assert masked(q)[1][2] == "x kids share 36 apples and twenty pears."


@pytest.mark.parametrize("word", ["one", "half", "twice", "double", "third", "dozen"])
def test_ambiguous_or_ratio_words_are_not_masked(word):
    assert mask_candidates(f"She ate {word} of the cake.") == []


def test_each_occurrence_is_its_own_mask_and_only_that_one_changes():
    q = "Tom has 5 red and 5 blue marbles."
    results = masked(q)
    assert [r[2] for r in results] == ["Tom has x red and 5 blue marbles.", "Tom has 5 red and x blue marbles."]


def test_negative_and_decimal_numbers():
    q = "It was -4 degrees, then 2.50 more."
    assert [(t, v) for t, v, _ in masked(q)] == [("-4", "-4"), ("2.50", "2.5")]


def test_choose_masks_limit():
    q = "1 2 3 4 5"
    assert len(choose_masks(q, 0)) == 5
    assert [m.text for m in choose_masks(q, 2)] == ["1", "2"]


def test_question_without_numbers_has_no_masks():
    assert mask_candidates("How many apples are there?") == []
