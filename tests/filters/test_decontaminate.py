"""Decontamination against the bundled GSM8K test sample and user files, with the real MiniLM embedder."""

import json

import polars as pl
import pytest

from core.errors import UserError
from core.schemas import samples_frame
from filters.decontaminate import Decontaminator, bundled_gsm8k_test, decontaminate, load_eval_sets
from filters.stages import decontaminate_stage

TEST_QUESTIONS = bundled_gsm8k_test()


def test_planted_test_questions_are_removed_train_questions_kept(make_frame, embedder, train_questions):
    planted = TEST_QUESTIONS[5]
    words = planted.split()
    reworded = " ".join(words[:-6]) + " " + " ".join(reversed(words[-6:]))  # copied head, scrambled tail
    rows = [{"query": q} for q in train_questions[:30]]
    rows += [{"query": planted}, {"query": reworded}, {"query": TEST_QUESTIONS[7].replace(" the ", " a ")}]
    decon = Decontaminator(TEST_QUESTIONS, embedder=embedder)
    out = decontaminate(make_frame(rows), decon)
    assert out["reason"].to_list() == [None] * 30 + ["contaminated"] * 3


def test_embedding_catches_a_paraphrase_without_shared_ngrams(make_frame, embedder, train_questions):
    paraphrase = (
        "Janet has ducks that lay 16 eggs daily. Three of them she eats at breakfast each morning, and four go into "
        "muffins she bakes for friends each day. The rest she sells at the farmers market, $2 for each fresh egg. "
        "How many dollars does she make daily at the farmers market?"
    )
    decon = Decontaminator(TEST_QUESTIONS, embedder=embedder)
    assert decon.ngram_hits([paraphrase]) == [False]  # only the embedding side can see it
    out = decontaminate(make_frame([{"query": paraphrase}, {"query": train_questions[0]}]), decon)
    assert out["reason"].to_list() == ["contaminated", None]


def test_user_eval_files_and_the_stage(tmp_path, make_frame, embedder):
    mine = "A wizard owns 13 owls and buys 29 more each week for 6 weeks. How many owls does the wizard own?"
    jsonl = tmp_path / "eval.jsonl"
    jsonl.write_text(json.dumps({"question": mine, "answer": "187"}) + "\n")
    parquet = tmp_path / "eval.parquet"
    pl.DataFrame({"question": [TEST_QUESTIONS[0]]}).write_parquet(parquet)
    sets = load_eval_sets(f"gsm8k-test={parquet},{jsonl}")
    assert sets == {"gsm8k-test": [TEST_QUESTIONS[0]], str(jsonl): [mine]}

    df = make_frame([{"query": mine}, {"query": TEST_QUESTIONS[1]}, {"query": "x", "reason": "wrong_answer"}])
    out = decontaminate_stage(df, decontaminate=[str(jsonl)], embedder=embedder)
    assert out["reason"].to_list() == ["contaminated", None, "wrong_answer"]  # the test set was not asked for
    out = decontaminate_stage(df, decontaminate="gsm8k-test", embedder=embedder)
    assert out["reason"].to_list() == [None, "contaminated", "wrong_answer"]
    assert decontaminate_stage(df, decontaminate=None).equals(df)


@pytest.mark.parametrize("spec", ["missing.jsonl", "gsm8k-test=nope.parquet", "data.csv"])
def test_bad_paths_are_one_sentence_user_errors(tmp_path, spec):
    (tmp_path / "data.csv").write_text("question\nhi\n")
    with pytest.raises(UserError, match=r"^Decontamination file .*\.$"):
        load_eval_sets(str(tmp_path / spec) if "=" not in spec else spec)


def test_file_without_question_field(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps({"problem": "hi"}) + "\n")
    with pytest.raises(UserError, match="no `question` field"):
        load_eval_sets(str(path))


class _NoEmbedding:
    def embed(self, texts):
        raise AssertionError("nothing is kept: the eval sets need no embedding")


def test_no_kept_rows_embed_nothing():
    empty = samples_frame([])
    assert decontaminate_stage(empty, decontaminate="gsm8k-test", embedder=_NoEmbedding()).height == 0
