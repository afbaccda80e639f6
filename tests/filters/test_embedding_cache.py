"""The filters' embeddings through core.embeddings: the same decisions as plain sentence-transformers vectors (what
the filters used before the disk cache), and a second run over the same texts embeds nothing."""

from __future__ import annotations

import numpy as np

from core.embeddings import Embedder
from core.sentence_model import bundled_model_path, load_sentence_model
from filters.decontaminate import bundled_gsm8k_test
from filters.stages import decontaminate_stage, near_dedup_stage

TEST_QUESTIONS = bundled_gsm8k_test()


class PlainEmbedder:
    """The reference: SentenceTransformer.encode, L2-normalised float32, no cache."""

    def __init__(self) -> None:
        self.model = load_sentence_model(bundled_model_path(), "cpu")

    def embed(self, texts):
        vectors = self.model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)


def fixed_samples(make_frame, train_questions):
    """Kept questions, copies and paraphrases of a source problem and of test questions, and distinct ones."""
    source = train_questions[0]
    rows = [{"query": q, "original_question": source} for q in train_questions[1:16]]
    rows += [
        {"query": train_questions[3].replace(".", " ."), "original_question": source},  # near copy of a sample
        {"query": source.replace(" the ", " a "), "original_question": source},  # near copy of its source
        {"query": TEST_QUESTIONS[2], "original_question": source},  # a test question verbatim
        {"query": TEST_QUESTIONS[9].replace(" and ", " & "), "original_question": source},  # a near copy of one
    ]
    return make_frame(rows)


def run_filters(df, problems, embedder):
    out = near_dedup_stage(df, problems=problems, embedder=embedder)
    return decontaminate_stage(out, decontaminate="gsm8k-test", embedder=embedder)["reason"].to_list()


def test_second_run_embeds_nothing_and_decides_as_plain_vectors(tmp_path, make_frame, train_questions):
    import polars as pl

    df = fixed_samples(make_frame, train_questions)
    problems = pl.DataFrame({"question": train_questions[:1] + train_questions[40:60]})
    expected = run_filters(df, problems, PlainEmbedder())
    assert expected == [None] * 15 + ["near_duplicate", "near_duplicate_source", "contaminated", "contaminated"]

    first = Embedder(cache_dir=tmp_path, device="cpu")
    assert run_filters(df, problems, first) == expected
    assert first.encoded > len(TEST_QUESTIONS)  # the test questions, the source problems, the samples

    second = Embedder(cache_dir=tmp_path, device="cpu")  # a later run: a new Embedder over the same texts
    assert run_filters(df, problems, second) == expected
    assert second.encoded == 0 and second.seconds == 0 and second._model is None

    texts = df["query"].to_list() + TEST_QUESTIONS[:20]
    np.testing.assert_allclose(second.embed(texts), PlainEmbedder().embed(texts), atol=1e-5)
