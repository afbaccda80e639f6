"""Near-duplicate removal with the real bundled MiniLM embedder and faiss."""

import polars as pl

from filters.near_dedup import near_dedup

SOURCE = (
    "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her "
    "friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck egg. "
    "How much in dollars does she make every day at the farmers' market?"
)
REPHRASE = (
    "Every day, Janet's ducks produce 16 eggs. Each morning she eats three for breakfast and uses four to bake "
    "muffins for her friends. At the farmers' market she sells the rest for $2 per egg. How many dollars does "
    "she earn at the market each day?"
)


def reasons(df: pl.DataFrame) -> list[str | None]:
    return df["reason"].to_list()


def test_planted_duplicates_and_light_paraphrases_are_caught_distinct_kept(make_frame, embedder, train_questions):
    distinct = train_questions[:12]
    light = REPHRASE.replace("Every day,", "Each day,").replace("earn", "make")
    rows = [{"query": q, "original_question": SOURCE} for q in distinct]
    rows += [
        {"query": REPHRASE, "original_question": SOURCE},  # 12: a real rephrasing: kept
        {"query": "  " + REPHRASE.upper() + " ", "original_question": SOURCE},  # 13: case/space copy
        {"query": light, "original_question": SOURCE},  # 14: light paraphrase of 12
        {"query": distinct[3].replace("  ", " ").replace(".", " ."), "original_question": SOURCE},  # 15: near copy
        {"query": REPHRASE.replace("16", "18"), "original_question": SOURCE},  # 16: other numbers: another problem
    ]
    out = near_dedup(make_frame(rows), embedder=embedder)
    assert reasons(out)[:13] == [None] * 13
    assert reasons(out)[13:16] == ["near_duplicate"] * 3
    assert reasons(out)[16] is None


def test_against_source_problems(make_frame, embedder, train_questions):
    other = train_questions[0]
    rows = [
        {"query": SOURCE.replace("ducks lay", "ducks produce"), "original_question": SOURCE},  # light paraphrase
        {"query": SOURCE, "original_question": SOURCE},  # a "rephrasing" that is the source verbatim
        {"query": other.replace("How", "how"), "original_question": SOURCE},  # copies another source problem
        {"query": REPHRASE, "original_question": SOURCE},  # a real rephrasing
        {"augmenter": "ansaug", "query": SOURCE, "original_question": SOURCE, "response": "16-3-4=9. 9*2=18."},
    ]
    out = near_dedup(make_frame(rows), source_questions=[SOURCE, other], embedder=embedder)
    assert reasons(out) == ["near_duplicate_source"] * 3 + [None, None]


def test_masked_questions_differ_by_their_numbers_and_are_kept(make_frame, embedder):
    tail = " If we know the answer is 18, what is the value of unknown variable x?"
    masked = [SOURCE.replace("16", "x") + tail, SOURCE.replace("$2", "$x") + tail]
    rows = [{"augmenter": "fobar", "query": q, "original_question": SOURCE} for q in masked]
    out = near_dedup(make_frame(rows), source_questions=[SOURCE], embedder=embedder)
    assert out["keep"].to_list() == [True, True]


def test_same_question_responses_highest_score_kept(make_frame, embedder, train_questions):
    solution = "She has 16 - 3 - 4 = 9 eggs left.\nShe makes 9 * 2 = 18 dollars.\nThe answer is: 18"
    rows = [
        {"augmenter": "ansaug", "query": SOURCE, "original_question": SOURCE, "response": solution, "score": 0.2},
        {
            "augmenter": "ansaug",
            "query": SOURCE,
            "original_question": SOURCE,
            "response": solution.replace("She has", "She's got"),
            "score": 0.9,
        },
        {
            "augmenter": "ansaug",
            "query": SOURCE,
            "original_question": SOURCE,
            "response": "Eggs used: 3 + 4 = 7. Eggs sold: 16 - 7 = 9. Money: 9 * $2 = $18.\nThe answer is: 18",
            "score": 0.5,
        },
        {"augmenter": "ansaug", "query": SOURCE, "original_question": SOURCE, "response": solution, "reason": "x"},
    ]
    out = near_dedup(make_frame(rows), embedder=embedder)
    assert reasons(out) == ["near_duplicate", None, None, "x"]  # of the cluster {0, 1} the better-scored stays
