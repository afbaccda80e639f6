"""The answer check and exact dedup, and the funnel computed from their reasons."""

from core.funnel import funnel
from core.schemas import new_sample, samples_frame
from filters.answer_check import check_answers
from filters.exact_dedup import drop_exact_duplicates


def row(variant, answer, target="12", augmenter="ansaug", response=None, reason=None):
    return new_sample(
        parent_id="p1",
        augmenter=augmenter,
        variant=variant,
        prompt="q",
        query="q",
        response=response or f"steps {variant}\nThe answer is: {answer}",
        answer=answer,
        target=target,
        original_question="q",
        model="m",
        reason=reason,
    )


def test_answer_check_verifies_and_drops_with_reasons():
    df = samples_frame(
        [
            row("s0", "12"),
            row("s1", "12.0"),
            row("s2", "13"),
            row("s3", None),
            row("m0", "3/4", target="0.75", augmenter="fobar"),
            row("r0", None, reason="bad_rephrasing", augmenter="rephrase"),
        ]
    )
    out = check_answers(df)
    assert out["keep"].to_list() == [True, True, False, False, True, False]
    assert out["reason"].to_list() == [None, None, "wrong_answer", "no_answer", None, "bad_rephrasing"]
    assert out["verified_by"].to_list() == ["gold", "gold", None, None, "masked_number", None]


def test_exact_dedup_keeps_the_first_of_equal_texts():
    df = samples_frame(
        [
            row("s0", "12", response="A  B\nThe answer is: 12"),
            row("s1", "12", response="a b\nthe answer is: 12"),
            row("s2", "12", response="other\nThe answer is: 12"),
        ]
    )
    out = drop_exact_duplicates(check_answers(df))
    assert out["reason"].to_list() == [None, "duplicate", None]


def test_funnel_counts_each_stage_per_type():
    df = drop_exact_duplicates(
        check_answers(
            samples_frame(
                [
                    row("s0", "12"),
                    row("s1", "12", response="steps s0\nThe answer is: 12"),
                    row("s2", "5"),
                    row("s3", None),
                    row("m0", "4", target="4", augmenter="fobar"),
                ]
            )
        )
    )
    f = funnel(df)
    assert f["GSM_AnsAug"] == {
        "generated": 4,
        "parsed": 3,
        "verified": 2,
        "kept": 1,
        "dropped_by": {"duplicate": 1, "wrong_answer": 1, "no_answer": 1},
    }
    assert f["GSM_FOBAR"]["kept"] == 1
    assert f["total"]["generated"] == 5 and f["total"]["kept"] == 2
