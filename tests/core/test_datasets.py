"""Loading problems: bundled sample, local files, and one clear sentence for bad input."""

import json

import polars as pl
import pytest

from core.datasets import load_problems, preload_problems, problem_id
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


def _rows(*answers: int) -> str:
    return "".join(json.dumps({"question": f"What is {a} + 0?", "answer": f"#### {a}"}) + "\n" for a in answers)


def test_a_preloaded_file_is_read_once_while_it_is_unchanged(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(_rows(1, 2, 3))
    first = preload_problems(str(path), limit=2)
    assert first["answer"].to_list() == ["1", "2"]
    assert load_problems(str(path), limit=2) is first  # the flow takes what the command line read
    again = load_problems(str(path), limit=2)  # once only: a later call reads the file
    assert again is not first and again.equals(first)

    preload_problems(str(path), limit=2)
    assert load_problems(str(path), limit=3)["answer"].to_list() == ["1", "2", "3"]  # other arguments: read

    preload_problems(str(path))
    path.write_text(_rows(7, 8))  # changed between the two calls: read again
    assert load_problems(str(path))["answer"].to_list() == ["7", "8"]


def test_a_bad_file_is_refused_by_the_preload(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(_rows(1) + "{not json\n")
    with pytest.raises(UserError, match="Line 2 of .* is not valid JSON"):
        preload_problems(str(path))


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


# --- issue 17: every way a file can be wrong ends in one sentence that names it ---------------------------------

GOOD_ROW = b'{"question": "Q?", "answer": "#### 7"}\n'


@pytest.mark.parametrize(
    "content, words",
    [
        ('{"question": "Caf\xe9?", "answer": "#### 7"}\n'.encode("latin-1"), "not UTF-8"),
        (GOOD_ROW.decode().encode("utf-16"), "UTF-16"),
        (b'{"question": "Q\\ud800?", "answer": "#### 7"}\n', "lone surrogate"),
        (b"[" * 100_000 + b"]" * 100_000 + b"\n", "nested too deeply"),
        (b'{"question": "Q?", "answer": ' + b"9" * 5000 + b"}\n", "more than 100 digits"),
        (b'{"question": "Q?", "answer": "#### 1e99999999"}\n', "too large to read exactly"),
        (b'{"question": "Q?", "answer": "#### 1e-80000"}\n', "too large to read exactly"),
        (b'{"question": "Q?", "answer": ""}\n', "empty 'answer'"),
        (b'{"question": "Q ' + b"9" * 5000 + b'?", "answer": "#### 1"}\n', "more than 100 digits in its question"),
        (b'{"question": "Q?", "answer": "#### 1"}\n{"question": "Q?", "answer": "#### 2"}\n', "different answers"),
    ],
)
def test_hostile_files_give_one_sentence_quickly(tmp_path, content, words):
    import time

    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    started = time.monotonic()
    with pytest.raises(UserError, match=words) as info:
        load_problems(str(path))
    assert "\n" not in str(info.value)
    assert time.monotonic() - started < 2.0


def test_a_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD_ROW)
    assert load_problems(str(path))["answer"].to_list() == ["7"]


def test_folders_symlink_loops_and_unreadable_files_are_named_for_what_they_are(tmp_path, monkeypatch):
    (tmp_path / "dir.jsonl").mkdir()
    with pytest.raises(UserError, match="is a folder, not a file"):
        load_problems(str(tmp_path / "dir.jsonl"))
    (tmp_path / "a.jsonl").symlink_to(tmp_path / "b.jsonl")
    (tmp_path / "b.jsonl").symlink_to(tmp_path / "a.jsonl")
    with pytest.raises(UserError, match="symlink loop"):
        load_problems(str(tmp_path / "a.jsonl"))
    (tmp_path / "dangling.jsonl").symlink_to(tmp_path / "nowhere")
    with pytest.raises(UserError, match="symlink to nothing"):
        load_problems(str(tmp_path / "dangling.jsonl"))
    locked = tmp_path / "locked.jsonl"
    locked.write_bytes(GOOD_ROW)

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(type(locked), "open", refuse)  # root ignores chmod 0, so the refusal is simulated
    with pytest.raises(UserError, match="permission denied"):
        load_problems(str(locked))


def test_limit_reads_only_the_rows_it_needs(tmp_path):
    path = tmp_path / "long.jsonl"
    rows = [json.dumps({"question": f"Q{i}?", "answer": f"#### {i}"}) for i in range(3)]
    path.write_text("\n".join(rows) + "\n{broken line that a full parse would refuse\n")
    assert load_problems(str(path), limit=2)["answer"].to_list() == ["0", "1"]
    with pytest.raises(UserError, match="Line 4"):
        load_problems(str(path))


def test_duplicate_questions_are_reported(tmp_path, caplog):
    path = tmp_path / "d.jsonl"
    path.write_text('{"question": "Q?", "answer": "#### 1"}\n{"question": "Q?", "answer": "#### 1.0"}\n')
    with caplog.at_level("WARNING"):
        assert load_problems(str(path)).height == 1
    assert "repeats 1 question" in caplog.text


def test_final_answers_read_as_the_general_reader_reads_them():
    """The fast path for GSM8K's plain integers gives the same answer as the general reading, on seeded answers of
    every nearby form (signs, leading zeros, commas, decimals, spaces, words)."""
    import random

    from core.answers import extract_answer, normalize_answer
    from core.datasets import from_gsm8k_rows

    rng = random.Random(11)
    forms = [
        lambda n: str(n), lambda n: f"-{n}", lambda n: f"0{n}", lambda n: f"{n:,}", lambda n: f"{n}.0",
        lambda n: f" {n} ", lambda n: f"{n}.5", lambda n: f"${n}", lambda n: f"{n} apples", lambda n: f"{n}/4",
    ]  # fmt: skip
    finals = ["0", "-0", *(rng.choice(forms)(rng.choice([rng.randrange(10), rng.randrange(10**rng.randrange(1, 16))]))
                          for _ in range(400))]  # fmt: skip
    rows = [{"question": f"Question {i}?", "answer": f"Work.\n#### {final}"} for i, final in enumerate(finals)]
    frame = from_gsm8k_rows(rows, "fuzz")
    assert frame["answer"].to_list() == [normalize_answer(extract_answer(f"#### {final}")) for final in finals]
