"""Malformed inputs through the real `flows` CLI: each ends in one clear sentence and a non-zero exit, no traceback.

A 100,000-character question is not malformed to the loader: the server refuses it per pair, with the reason
recorded (test_flaky_server.py). The cases run as concurrent subprocesses against the suite's Prefect server.
"""

from __future__ import annotations

import importlib.util
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from reliability_helpers import error_lines, flows

DEAD_LLM = ["--backend", "openai", "--model", "m", "--base-url", "http://127.0.0.1:9/v1", "--limit", "1"]
GOOD = json.dumps({"question": "Tom has 3 apples and buys 4 more. How many has he?", "answer": "3 + 4 = 7\n#### 7"})


def jsonl(*rows: dict) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


# name -> (file name or None, its content (None: no file), extra options, words the one error line must hold)
CASES: dict[str, tuple[str | None, str | bytes | None, list[str], list[str]]] = {
    "broken jsonl": (
        "d.jsonl",
        GOOD + '\n{"question": "Half a line',
        ["--limit", "5"],
        ["Line 2 of", "not valid JSON"],
    ),
    "a row that is not an object": ("d.jsonl", '["a", "list"]\n', [], ["Line 1 of", "not a JSON object"]),
    "missing question": ("d.jsonl", jsonl({"answer": "#### 7"}), [], ["Row 1 of", "no text in its 'question'"]),
    "missing answer": ("d.jsonl", jsonl({"question": "Q?"}), [], ["Row 1 of", "has no 'answer' field"]),
    "question not text": ("d.jsonl", jsonl({"question": 123, "answer": "#### 7"}), [], ["Row 1 of", "'question'"]),
    "no final answer": ("d.jsonl", jsonl({"question": "Q?", "answer": "steps #### "}), [], ["no final answer"]),
    "empty file": ("d.jsonl", "", [], ["holds no rows"]),
    "missing file": ("nowhere.jsonl", None, [], ["does not exist"]),
    "not jsonl or parquet": ("d.csv", "question,answer\nQ?,7\n", [], ["neither .jsonl nor .parquet"]),
    "broken parquet": ("d.parquet", b"PAR1 not really", [], ["not a readable Parquet file"]),
    "unknown option": (None, None, ["--task-runer", "threads"], ["unrecognized arguments: --task-runer"]),
    "unknown task runner": (None, None, ["--task-runner", "spark"], ["invalid choice: 'spark'"]),
    "no workers": (None, None, ["--task-runner", "threads", "--workers", "0"], ["--workers must be at least 1"]),
}
if importlib.util.find_spec("prefect_ray") is None:
    CASES["ray not installed"] = (None, None, ["--task-runner", "ray"], ["needs prefect-ray", "pip install"])
if importlib.util.find_spec("prefect_dask") is None:
    CASES["dask not installed"] = (None, None, ["--task-runner", "dask"], ["needs prefect-dask", "mathaug[scale]"])

# not caught yet: the loader takes these rows (see issue 7's report for the core/datasets.py change)
ANSWER_CASES = {
    "non-numeric gold": ("d.jsonl", jsonl({"question": "Q?", "answer": "steps #### abc"}), [], ["not a number"]),
    "answer not text": ("d.jsonl", jsonl({"question": "Q?", "answer": ["#### 7"]}), [], ["Row 1 of", "list"]),
}


def _symlink_loop(path):
    path.symlink_to(path.with_name("other.jsonl"))
    path.with_name("other.jsonl").symlink_to(path)


# issue 17: every file read ends in a sentence that names the real problem, and no key leaks from a URL
ISSUE_17_CASES: dict[str, tuple[str | None, object, list[str], list[str]]] = {
    "latin-1 file": ("d.jsonl", '{"question": "Caf\xe9?", "answer": "#### 7"}\n'.encode("latin-1"), [],
                     ["Line 1 of", "not UTF-8"]),
    "UTF-16 file": ("d.jsonl", GOOD.encode("utf-16"), [], ["UTF-16", "save it as UTF-8"]),
    "lone surrogate": ("d.jsonl", b'{"question": "Q\\ud800?", "answer": "#### 7"}\n', [], ["lone surrogate"]),
    "100,000 nested brackets": ("d.jsonl", b"[" * 100_000 + b"]" * 100_000 + b"\n", [], ["nested too deeply"]),
    "5,000-digit integer": ("d.jsonl", b'{"question": "Q?", "answer": ' + b"9" * 5000 + b"}\n", [],
                            ["more than 100 digits"]),
    "1e99999999 answer": ("d.jsonl", jsonl({"question": "Q?", "answer": "#### 1e99999999"}), [],
                          ["too large", "100 digits"]),
    "empty answer": ("d.jsonl", jsonl({"question": "Q?", "answer": "  "}), [], ["empty 'answer'"]),
    "conflicting duplicates": ("d.jsonl", jsonl({"question": "Q?", "answer": "#### 1"}, {"question": "Q?",
                               "answer": "#### 2"}), ["--limit", "5"], ["Rows 1 and 2", "different answers"]),
    "a folder as the file": ("d.jsonl", "mkdir", [], ["is a folder"]),
    "a symlink loop": ("d.jsonl", _symlink_loop, [], ["symlink loop"]),
    "--out /dev/null": (None, None, ["--out", "/dev/null"], ["--out", "is a file, not a folder"]),
    "--base-url with a key": (None, None, ["--base-url", "http://user:SECRETKEY@127.0.0.1:9/v1"], ["OPENAI_API_KEY"]),
    "--base-url that does not parse": (None, None, ["--base-url", "http://[::1"], ["not a valid URL"]),
    "--temperature nan": (None, None, ["--temperature", "nan"], ["not a finite number"]),
}  # fmt: skip


def _run_case(server, folder, name, case):
    file_name, content, extra, _ = case
    args = ["run", "augment-gsm8k", *DEAD_LLM, "--out", str(folder / "out"), *extra]
    if file_name:
        path = folder / file_name
        if content == "mkdir":
            path.mkdir()
        elif callable(content):
            content(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            path.write_text(content)
        args += ["--problems", str(path)]
    return flows(server, *args)


@pytest.fixture(scope="module")
def outcomes(prefect_server, tmp_path_factory):
    """Every case's CompletedProcess, six at a time."""
    cases = {**CASES, **ANSWER_CASES, **ISSUE_17_CASES}
    folders = {name: tmp_path_factory.mktemp("case") for name in cases}
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = {name: pool.submit(_run_case, prefect_server, folders[name], name, c) for name, c in cases.items()}
        return {name: future.result() for name, future in futures.items()}


def _assert_one_sentence(result, words):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    [line] = error_lines(result)
    for word in words:
        assert word.lower() in line.lower(), line
    # refused before Prefect starts: no flow run, no log line beside the sentence
    assert result.stderr.strip().splitlines() == [line]


@pytest.mark.parametrize("name", list(CASES))
def test_malformed_input_ends_in_one_sentence(name, outcomes):
    _assert_one_sentence(outcomes[name], CASES[name][3])


@pytest.mark.parametrize("name", list(ANSWER_CASES))
def test_non_numeric_or_mistyped_answers_end_in_one_sentence(name, outcomes):
    _assert_one_sentence(outcomes[name], ANSWER_CASES[name][3])


@pytest.mark.parametrize("name", list(ISSUE_17_CASES))
def test_issue_17_files_and_options_end_in_one_sentence(name, outcomes):
    _assert_one_sentence(outcomes[name], ISSUE_17_CASES[name][3])
    assert "SECRETKEY" not in outcomes[name].stdout + outcomes[name].stderr


# every other command that reads problems or a run's rows reads them before Prefect starts, too
OTHER_COMMANDS = {
    "evaluate --problems": ["evaluate", "--backend", "openai", "--model", "m", "--base-url", "http://127.0.0.1:9/v1",
                            "--problems", "{bad}", "--out", "{out}"],
    "mine-failures --problems": ["mine-failures", "--backend", "openai", "--model", "m", "--base-url",
                                 "http://127.0.0.1:9/v1", "--problems", "{bad}", "--out", "{out}"],
    "grpo --problems": ["grpo", "--problems", "{bad}", "--out", "{out}"],
    "grpo --run": ["grpo", "--run", "{bad}", "--out", "{out}"],
    "sft --run": ["sft", "--run", "{bad}", "--out", "{out}"],
    # found after round 0's evaluation before (10 minutes of SmolLM2 on this machine)
    "self-train --problems": ["self-train", "--problems", "{bad}", "--out", "{out}"],
    "self-train --eval-problems": ["self-train", "--eval-problems", "{bad}", "--out", "{out}"],
}  # fmt: skip


@pytest.mark.parametrize("name", list(OTHER_COMMANDS))
def test_other_commands_refuse_a_bad_file_before_prefect_starts(name, prefect_server, tmp_path):
    bad = tmp_path / "d.jsonl"
    bad.write_text(GOOD + '\n{"question": "Half a line\n')
    args = [a.format(bad=bad, out=tmp_path / "out") for a in OTHER_COMMANDS[name]]
    result = flows(prefect_server, "run", *args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    [line] = result.stderr.strip().splitlines()  # no flow run: only the sentence
    assert line.startswith("error:") and str(bad) in line
    assert not (tmp_path / "out").exists()
