"""Path dedup by equations (RFT): correct solutions that say the same equations in other words are one path."""

from __future__ import annotations

from filters.answer_check import check_answers
from filters.exact_dedup import (
    EQUATION_DUPLICATE,
    drop_equation_duplicates,
    drop_exact_duplicates,
    equation_signature,
)

# Natalia's clips, written four ways: three paraphrases of one path, one other path
PATH_A = "Natalia sold 48 / 2 = 24 clips in May.\nAltogether she sold 48 + 24 = 72 clips.\nThe answer is: 72"
PATH_A_WORDS = (
    "In May the number of clips is half: 48/2 = 24.\nSo over April and May: 24 + 48 = 72 clips in total.\n"
    "The answer is: 72"
)
PATH_A_MARKS = "May: 48 ÷ 2 = 24 clips\nBoth months: 48+24 = 72.00\nThe answer is: 72"
PATH_B = "In May she sold 48 * 0.5 = 24 clips.\nAltogether 48 + 24 = 72 clips.\nThe answer is: 72"
WRONG = "She sold 48 / 2 = 24 clips.\n48 + 24 = 72, minus 2 = 70.\nThe answer is: 70"


def test_signature_normalizes_words_spacing_symbols_and_operand_order():
    assert equation_signature(PATH_A) == ("48/2=24", "24+48=72")
    assert equation_signature(PATH_A_WORDS) == equation_signature(PATH_A)
    assert equation_signature(PATH_A_MARKS) == equation_signature(PATH_A)
    assert equation_signature(PATH_B) != equation_signature(PATH_A)
    assert equation_signature("3 x 4 = 12 and $1,200 - $200 = $1,000") == ("3*4=12", "1200-200=1000")
    assert equation_signature("4 * 3 = 12") == equation_signature("3 × 4 = 12")
    assert equation_signature("12 - 4 = 8") != equation_signature("4 - 12 = 8")  # order matters where it should
    assert equation_signature("She has no equations, only 12 apples.") == ()


def test_paraphrased_correct_paths_are_dropped_other_paths_and_wrong_answers_kept(make_frame):
    rows = [
        {"response": text, "answer": answer, "target": "72", "query": "How many clips?", "augmenter": "ansaug"}
        for text, answer in [(PATH_A, "72"), (PATH_A_WORDS, "72"), (WRONG, "70"), (PATH_B, "72"), (PATH_A_MARKS, "72")]
    ]
    df = drop_equation_duplicates(drop_exact_duplicates(check_answers(make_frame(rows))))
    assert df["reason"].to_list() == [None, EQUATION_DUPLICATE, "wrong_answer", None, EQUATION_DUPLICATE]


def test_other_problems_and_equation_free_responses_are_not_compared(make_frame):
    rows = [
        {"response": PATH_A, "parent_id": "p0"},
        {"response": PATH_A_WORDS, "parent_id": "p1"},  # same path, another problem
        {"response": "No equations here.", "parent_id": "p0"},
        {"response": "Still none, said differently.", "parent_id": "p0"},
    ]
    df = drop_equation_duplicates(make_frame(rows))
    assert df["keep"].to_list() == [True, True, True, True]
