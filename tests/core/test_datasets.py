"""Loading problems: bundled sample, local files, and one clear sentence for bad input."""

import json

import polars as pl
import pytest

from core.datasets import load_problems, problem_id
from core.errors import UserError
from core.schemas import PROBLEM_SCHEMA


def test_bundled_sample_loads_offline_with_normalized_answers():
    df = load_problems("sample", limit=3)
    assert df.schema == PROBLEM_SCHEMA
    assert df["answer"].to_list() == ["72", "10", "5"]
    assert "<<" not in df["solution"][0]  # calculator annotations removed
    assert df["id"][0] == problem_id(df["question"][0])


def test_bundled_test_split():
    assert load_problems("sample", split="test").height == 200


def test_jsonl_and_parquet_files(tmp_path):
    rows = [{"question": "What is 2+2?", "answer": "2+2=4\n#### 4"}, {"question": "Half of 3?", "answer": "#### 1.5"}]
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    parquet = tmp_path / "p.parquet"
    pl.DataFrame(rows).write_parquet(parquet)
    for path in (jsonl, parquet):
        df = load_problems(str(path))
        assert df["answer"].to_list() == ["4", "1.5"]
        assert df["source"].to_list() == ["p", "p"]


def test_duplicate_questions_are_loaded_once(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"question": "Q?", "answer": "#### 1"}\n{"question": "Q?", "answer": "#### 1"}\n')
    assert load_problems(str(path)).height == 1


@pytest.mark.parametrize(
    "content, words",
    [
        ('{"question": "Q?", "answer": "#### 1"}\n{"question": "Q2?", "ans', "Line 2"),
        ('{"question": "Q?"}\n', "no 'answer' field"),
        ('{"question": "Q?", "answer": "no final number here ####"}\n', "no final answer"),
        ('{"question": "", "answer": "#### 1"}\n', "no text in its 'question'"),
        ("", "holds no rows"),
        ("[1, 2]\n", "not a JSON object"),
    ],
)
def test_bad_files_give_one_sentence(tmp_path, content, words):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(UserError, match=words) as info:
        load_problems(str(path))
    assert "\n" not in str(info.value)


def test_missing_file_and_bad_spec():
    with pytest.raises(UserError, match="does not exist"):
        load_problems("/nonexistent/file.jsonl")
    with pytest.raises(UserError, match="is not 'sample'"):
        load_problems("not a dataset")
    with pytest.raises(UserError, match="positive"):
        load_problems("sample", limit=0)
