"""A seeded fuzzer of hostile numbers, programs, files and option values (issue 17).

Each generated case must end, within CASE_LIMIT_S, in either success or one clear sentence: no exception other than
the module's own error type, and for the CLI a non-zero exit with exactly one `error:` / `flows ...:` line and no
traceback, with nothing written outside --out. The CLI runs in-process (`flows.cli.main(argv)`), stopped where a
Prefect flow would start (every check before that point runs for real); a small sample runs the real CLI in a
subprocess against the suite's Prefect server. The figures (cases, clean, traceback, slow) are printed at the end
(`pytest -s`).
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import time
import traceback
from collections import Counter
from pathlib import Path

import pytest

from augmenters.program_eval import ProgramError, evaluate
from core.answers import answers_equal, extract_answer, normalize_answer, parse_number
from core.datasets import load_problems
from core.errors import UserError

SEED = 17
CASE_LIMIT_S = 10.0
FIGURES: dict[str, Counter] = {}

# --- generators ---------------------------------------------------------------------------------------------------


def hostile_number(rng: random.Random) -> str:
    """A number-like text: huge or tiny exponents, thousands of digits, odd signs, notations and characters."""
    digits = lambda: str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(rng.choice(  # noqa: E731
        [0, 2, 20, 99, 100, 101, 300, 4299, 4301, 5000])))  # fmt: skip
    exponent = str(rng.choice([0, 1, 5, 99, 100, 101, 308, 309, 5000, 80000, 99999999, 10**12, 10**40]))
    kind = rng.randrange(12)
    if kind == 0:
        return digits()
    if kind == 1:
        return f"{rng.choice(['', '-', '+'])}{digits()}e{rng.choice(['', '-', '+'])}{exponent}"
    if kind == 2:
        return f"{digits()}.{digits()}"
    if kind == 3:
        return f"{digits()}/{rng.choice([digits(), '0'])}"
    if kind == 4:
        return f"{digits()} {digits()}/{digits()}"
    if kind == 5:
        return f"\\frac{{{digits()}}}{{{rng.choice([digits(), '0'])}}}"
    if kind == 6:
        return f"${digits()}{rng.choice(['', ',000', ',00', '%', 'kg', ' dollars'])}"
    if kind == 7:
        return f"{digits()}^{{{exponent}}}" if rng.random() < 0.5 else f"{digits()}**{exponent}"
    if kind == 8:
        return "0." + "0" * rng.choice([10, 100, 5000]) + "1"
    if kind == 9:
        return rng.choice(["nan", "inf", "-inf", "1e", "e5", ".", "-", "--1", "1.2.3", "0x1F", "1_000", "١٢٣", "１２",
                           "", " ", "\u00a0", "1e-0", "-0", "+.5e+3", "9" * 5000 + "e-" + "9" * 50])  # fmt: skip
    if kind == 10:
        return "\\boxed{" * rng.choice([1, 10, 1000]) + digits() + "}" * rng.choice([0, 1, 1000])
    return " ".join(hostile_number(rng) for _ in range(rng.randint(2, 4)))


def answer_text(rng: random.Random, number: str) -> str:
    template = rng.choice(["The answer is: {}", "#### {}", "\\boxed{{{}}}", "so she has {} apples", "{}", "{}."])
    return template.format(number)


def hostile_program(rng: random.Random) -> str:
    """A program a model could write: hostile literals, ranges, nesting, huge powers, junk tokens."""
    number = rng.choice([(hostile_number(rng).split() or ["1"])[0], "1e9999999", "1e-80000", "2", "0.5", "10**1000"])
    n = rng.choice([1, 10, 200, 1000, 3000])
    templates = [
        f"x = {number}\nanswer = x * 2",
        f"x = 3\nanswer = 0\nfor i in range(0, x, {rng.choice(['0', '1', '-1', 'x - 3'])}):\n    answer = answer + 1",
        f"answer = 0\nfor i in range({rng.choice(['2 ** 63', '2 ** 200', '-(2 ** 63)', '10 ** 1000', 'x'])}):\n"
        "    answer = 1",
        "answer = " + "+".join(["1"] * n),
        "answer = " + "-" * n + "1",
        "answer = " + "(" * min(n, 150) + "1" + ")" * min(n, 150),
        f"answer = {rng.choice(['2 ** 2 ** 2 ** 2 ** 2', '10 ** 1000 / 3', '(1/3) ** 1000', '7 ** -1000'])}",
        f"answer = round(1 / 3, {rng.choice(['10 ** 9', '-5', '0.5', '12'])})",
        f"answer = {rng.choice(['int', 'floor', 'ceil', 'abs', 'round'])}({number})",
        f"answer = min({', '.join(['1'] * rng.choice([1, 2, 100]))})",
        " ".join(
            rng.choice(
                [
                    "answer",
                    "=",
                    "1",
                    "(",
                    ")",
                    "+",
                    "for",
                    "in",
                    "range",
                    ":",
                    "\n",
                    "if",
                    "**",
                    "e9",
                    "import",
                    "os",
                    "__class__",
                    "'x'",
                    "lambda",
                    "[",
                    "]",
                    "1e99999",
                ]
            )
            for _ in range(rng.randint(1, 60))
        ),  # fmt: skip
    ]
    return rng.choice(templates)


def hostile_file(rng: random.Random, folder: Path, index: int) -> Path:
    """A problems file, or something where one is expected, wrong in one or more ways."""
    name = folder / f"f{index}{rng.choice(['.jsonl', '.jsonl', '.jsonl', '.parquet', '.csv', ''])}"
    kind = rng.randrange(10)
    if kind == 0:
        name.mkdir()
        return name
    if kind == 1:
        other = name.with_name(name.name + ".other")
        name.symlink_to(other)
        if rng.random() < 0.5:
            other.symlink_to(name)  # a loop; else dangling
        return name
    rows = []
    for _ in range(rng.randint(0, 4)):
        answer = rng.choice([f'"#### {hostile_number(rng)}"', f'"steps #### {rng.randint(1, 99)}"', '""', "null",
                             (hostile_number(rng).split() or ["0"])[0], '["#### 7"]', "true", '"\\ud800"'])  # fmt: skip
        question = rng.choice(['"Q?"', '"Q?"', '""', '"\\udc80 lone"', "123", '"' + "x" * 10_000 + '"',
                              '"Sam has ' + "9" * 5000 + ' pens?"'])  # fmt: skip
        rows.append(f'{{"question": {question}, "answer": {answer}}}')
    if kind == 2:
        depth = rng.choice([10, 1000, 100_000])
        rows.append("[" * depth + "]" * depth)
    if kind == 3:
        rows.append('{"question": "Half a line')
    text = "\n".join(rows) + rng.choice(["\n", "", "\n\n"])
    encoding = rng.choice(["utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16", "utf-32"])
    try:
        data = text.encode(encoding, errors="surrogatepass")
    except UnicodeEncodeError:
        data = text.encode("utf-8", errors="surrogatepass")
    if kind == 4:
        data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 200)))
    if kind == 5:
        data = data.replace(b"Q", b"\xe9")
    if kind >= 8:  # well-formed rows (a BOM, blank lines, a repeated question, a number answer): should load
        good = [
            f'{{"question": "Q{j} {rng.random()}?", "answer": "{rng.randint(1, 9)} #### {rng.randint(0, 999)}"}}'
            for j in range(rng.randint(1, 5))
        ] + ['{"question": "Same?", "answer": 4}'] * rng.randint(0, 2)
        data = rng.choice([b"", b"\xef\xbb\xbf"]) + "\n\n".join(good).encode()  # fmt: skip
    name.write_bytes(data)
    return name


# --- numbers, programs and files: the library calls ----------------------------------------------------------------


def _timed(fn, allowed: tuple[type[BaseException], ...]) -> tuple[str, float, str]:
    started = time.monotonic()
    try:
        fn()
        outcome, detail = "ok", ""
    except allowed as e:
        outcome, detail = "clean", str(e)
    except Exception:  # noqa: BLE001 - what the fuzzer looks for
        outcome, detail = "traceback", traceback.format_exc(limit=4)
    return outcome, time.monotonic() - started, detail


def _record(kind: str, outcomes: list[tuple[str, float, str]]) -> None:
    counts = Counter(o for o, _, _ in outcomes)
    counts["cases"] = len(outcomes)
    counts["slow"] = sum(1 for _, seconds, _ in outcomes if seconds > CASE_LIMIT_S)
    FIGURES[kind] = counts
    bad = [
        f"{o}, {seconds:.1f} s: {detail}"
        for o, seconds, detail in outcomes
        if o == "traceback" or seconds > CASE_LIMIT_S
    ]
    assert not bad, f"{len(bad)} of {len(outcomes)} {kind} cases failed; first:\n{bad[0]}"


def test_fuzz_numbers_in_answers():
    rng = random.Random(SEED)
    answers_equal("\\sqrt{4}", "2")  # import math-verify and sympy once: a start-up cost, not an input's
    outcomes = []
    for _ in range(150):
        text = answer_text(rng, hostile_number(rng))

        def case(text=text):
            raw = extract_answer(text)
            normalize_answer(raw)
            value = parse_number(raw)
            assert value is None or max(abs(value.numerator), value.denominator) < 10**101
            answers_equal("72", raw)
            answers_equal(raw, text)

        outcomes.append(_timed(case, ()))
    _record("numbers", outcomes)


def test_fuzz_programs():
    rng = random.Random(SEED + 1)
    outcomes = []
    for _ in range(150):
        source = hostile_program(rng)
        outcomes.append(_timed(lambda source=source: evaluate(source), (ProgramError,)))
    _record("programs", outcomes)
    assert FIGURES["programs"]["clean"] > 50  # most are refused, each with its reason


def test_fuzz_problem_files(tmp_path):
    rng = random.Random(SEED + 2)
    outcomes = []
    for i in range(60):
        path = hostile_file(rng, tmp_path, i)
        limit = rng.choice([None, 1, 2])

        def case(path=path, limit=limit):
            try:
                load_problems(str(path), limit=limit)
            except UserError as e:
                assert "\n" not in str(e) and len(str(e)) < 400, str(e)[:400]
                raise

        outcomes.append(_timed(case, (UserError,)))
    _record("files", outcomes)


# --- options: the CLI in-process --------------------------------------------------------------------------------


class _ReachedFlow(Exception):
    """Every check passed: the command was about to start a Prefect flow (or talk to the Prefect API)."""


@pytest.fixture
def in_process_cli(monkeypatch):
    """flows.cli.main(argv) -> (exit code or 'reached', stdout, stderr), with flows and the API stopped at the door."""
    import prefect.flows

    from flows import cli, deploy

    def stop(*_, **__):
        raise _ReachedFlow

    monkeypatch.setattr(prefect.flows.Flow, "__call__", stop)
    monkeypatch.setattr(deploy, "check_api", stop)
    saved_env = dict(os.environ)
    for name in cli.FLOWS:  # import every flow module once: a start-up cost (seconds here), not an input's
        cli.load_command(name)

    def run(argv: list[str]):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(argv)
            except SystemExit as e:
                code = e.code
            except _ReachedFlow:
                code = "reached"
        return code, out.getvalue(), err.getvalue()

    yield run
    os.environ.clear()
    os.environ.update(saved_env)


OPTIONS = {
    "augment-gsm8k": ["--problems", "--dataset", "--limit", "--temperature", "--max-tokens", "--seed", "--ansaug-n",
                      "--mask-limit", "--muggle-agreement", "--best-of", "--min-score", "--dedup-threshold",
                      "--select-budget", "--shard-size", "--concurrency", "--request-timeout", "--max-retries",
                      "--workers", "--base-url", "--out", "--augmenters", "--perturb-programs", "--split"],
    "diversity-report": ["--run", "--select-budget", "--cache-dir", "--model"],
    "sft": ["--run", "--out", "--epochs", "--max-steps", "--learning-rate", "--batch-size", "--lora-r", "--lora-alpha",
            "--logging-steps", "--save-steps", "--limit", "--max-length", "--gpus", "--seed"],
    "grpo": ["--problems", "--run", "--out", "--limit", "--rewards", "--reward-weight", "--length-soft-limit",
             "--length-hard-limit", "--num-generations", "--temperature", "--beta", "--vllm-server-url",
             "--vllm-gpu-memory-utilization"],
    "evaluate": ["--out", "--problems", "--limit", "--k", "--samples", "--temperature", "--max-tokens", "--base-url",
                 "--run", "--aha-samples"],
    "export": ["--run", "--verl-out", "--test-problems"],
    "mine-failures": ["--out", "--problems", "--limit", "--k", "--temperature", "--max-tokens", "--seed", "--base-url"],
    "prm-labels": ["--run", "--out", "--n", "--temperature", "--max-tokens", "--limit", "--concurrency", "--base-url"],
    "self-train": ["--out", "--rounds", "--problems", "--limit", "--ansaug-n", "--temperature", "--epochs",
                   "--learning-rate", "--eval-k", "--eval-problems"],
    "behaviours": ["--run", "--out", "--limit", "--base-url"],
    "serve": ["--limit", "--param", "--cron", "--flow"],
    "deploy": ["--workdir", "--param", "--cron", "--pool"],
}  # fmt: skip


def hostile_value(rng: random.Random, places: dict[str, str]) -> str:
    pool = [
        "0", "-1", "1", "2", "+7", "3.5", "-0", "1e3", "nan", "NaN", "inf", "-inf", "1e99999999", "1e-80000",
        "9" * 5000, "99999999999999999999", "0x10", "1_000", "１２", "", " ", ",", ",,", "-", "--", "x" * 5000, "💥",
        "http://[::1", "http://user:SECRETKEY@127.0.0.1:9/v1", "http://h?api_key=SECRETKEY", "ftp://h", "http://",
        "http://h:99999/v1", "http://h:0/v1", "http://127.0.0.1:9/v1", "http://a/v1,http://b/v1", "/dev/null",
        "sample", "none", "correct", "correct=nan", "length=inf", "augment-gsm8k.limit=" + "9" * 5000,
        "augment-gsm8k.base_url=http://u:SECRETKEY@h", "augment-gsm8k=* * *", "augment-gsm8k",
        places["file"], places["dir"], places["loop"], places["inside_file"], places["jsonl"], "a" * 5000,
    ]  # fmt: skip
    return rng.choice(pool)


def _places(root: Path) -> dict[str, str]:
    (root / "in").mkdir()
    (root / "in" / "file.txt").write_text("not a folder\n")
    (root / "in" / "rows.jsonl").write_text('{"question": "Q?", "answer": "#### 7"}\n')
    run = root / "in" / "run"
    run.mkdir()
    (run / "samples.parquet").write_bytes(b"")
    (root / "in" / "loop").symlink_to(root / "in" / "loop2")
    (root / "in" / "loop2").symlink_to(root / "in" / "loop")
    return {"file": str(root / "in" / "file.txt"), "dir": str(run), "loop": str(root / "in" / "loop"),
            "inside_file": str(root / "in" / "file.txt" / "sub"), "jsonl": str(root / "in" / "rows.jsonl")}  # fmt: skip


def _base_args(command: str, places: dict[str, str], out: str) -> list[str]:
    dead = ["--backend", "openai", "--model", "m", "--base-url", "http://127.0.0.1:9/v1"]
    return {
        "augment-gsm8k": ["run", "augment-gsm8k", *dead, "--out", out],
        "diversity-report": ["run", "diversity-report", "--run", places["dir"]],
        "sft": ["run", "sft", "--run", places["dir"], "--out", out],
        "grpo": ["run", "grpo", "--out", out],
        "evaluate": ["run", "evaluate", "--out", out],
        "export": ["run", "export", "--run", places["dir"], "--verl-out", out],
        "mine-failures": ["run", "mine-failures", *dead, "--out", out],
        "prm-labels": ["run", "prm-labels", *dead, "--run", places["dir"], "--out", out],
        "self-train": ["run", "self-train", "--out", out],
        "behaviours": ["run", "behaviours", "--run", places["dir"], "--out", out],
        "serve": ["serve", "--flow", "augment-gsm8k"],
        "deploy": ["deploy", "--flow", "augment-gsm8k", "--workdir", places["dir"]],
    }[command]


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def option_cases(rng: random.Random, places: dict[str, str], n: int):
    for _ in range(n):
        command = rng.choice(list(OPTIONS))
        extra = []
        for _ in range(rng.choice([1, 1, 2])):
            extra += [rng.choice(OPTIONS[command]), hostile_value(rng, places)]
        yield command, extra


def _one_sentence(code, out: str, err: str) -> bool:
    lines = [line for line in err.splitlines() if line.startswith(("error:", "flows"))]
    return code not in (0, "reached") and len(lines) == 1 and "Traceback" not in out + err


def test_fuzz_options_in_process(tmp_path, monkeypatch, in_process_cli):
    rng = random.Random(SEED + 3)
    places = _places(tmp_path)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    outcomes = []
    for i, (command, extra) in enumerate(option_cases(rng, places, 240)):
        out = str(tmp_path / f"out{i}")
        argv = _base_args(command, places, out) + extra
        before = _tree(tmp_path)
        started = time.monotonic()
        try:
            code, stdout, stderr = in_process_cli(argv)
        except Exception:  # noqa: BLE001 - a traceback is what the fuzzer looks for
            outcomes.append(("traceback", time.monotonic() - started, f"{argv}\n{traceback.format_exc(limit=5)}"))
            continue
        seconds = time.monotonic() - started
        written = {p for p in _tree(tmp_path) - before if not p.startswith(f"out{i}")}
        if code == "reached" or code == 0:
            outcome = "ok"
        elif _one_sentence(code, stdout, stderr):
            outcome = "clean"
        else:
            outcome = "traceback"
        if "SECRETKEY" in stdout + stderr or written:
            outcome = "traceback"
        outcomes.append((outcome, seconds, f"{argv[:12]} -> {code}\n{stderr[-800:]} written: {sorted(written)[:3]}"))
    _record("options", outcomes)
    assert FIGURES["options"]["clean"] > 100


# the issue's option cases, each a regression test
ISSUE_OPTION_CASES = [
    ("augment-gsm8k", ["--temperature", "nan"], "not a finite number"),
    ("augment-gsm8k", ["--request-timeout", "inf"], "not a finite number"),
    ("augment-gsm8k", ["--out", ""], "not an empty string"),
    ("augment-gsm8k", ["--out", "/dev/null"], "is a file, not a folder"),
    ("augment-gsm8k", ["--base-url", "http://[::1"], "not a valid URL"),
    ("augment-gsm8k", ["--base-url", "http://user:SECRETKEY@127.0.0.1:9/v1"], "OPENAI_API_KEY"),
    ("augment-gsm8k", ["--best-of", "0"], "at least 1"),
    ("augment-gsm8k", ["--select-budget", "0"], "at least 1"),
    ("augment-gsm8k", ["--limit", "0"], "at least 1"),
    ("augment-gsm8k", ["--limit", "1e99999999"], "not a whole number"),
    ("sft", ["--logging-steps", "0"], "at least 1"),
    ("sft", ["--lora-r", "0"], "at least 1"),
    ("sft", ["--epochs", "nan"], "not a finite number"),
    ("sft", ["--limit", "0"], "at least 1"),
    ("sft", ["--run", "{jsonl_dir}/rows.txt"], "give a run folder or a .parquet/.jsonl file"),
    ("grpo", ["--rewards", ""], "at least one name"),
    ("grpo", ["--length-soft-limit", "600", "--length-hard-limit", "500"], "more than --length-soft-limit"),
    ("grpo", ["--limit", "-1"], "at least 1"),
    ("grpo", ["--reward-weight", "correct=nan"], "NAME=WEIGHT"),
    ("evaluate", ["--temperature", "nan"], "not a finite number"),
    ("export", ["--run", "{jsonl}"], "is a file, not a folder"),
    ("export", ["--verl-out", "{file}"], "is a file, not a folder"),
    ("diversity-report", ["--cache-dir", "{file}"], "is a file, not a folder"),
    ("diversity-report", ["--run", "{loop}"], "is a symlink loop"),
    ("diversity-report", ["--select-budget", "0"], "at least 1"),
    ("evaluate", ["--problems", "{loop}"], "is a symlink loop"),
    ("grpo", ["--problems", "{dir}"], "is a folder, not a file"),
    ("augment-gsm8k", ["--dataset", "{jsonl_dir}/nowhere.jsonl"], "does not exist"),
    ("serve", ["--limit", "0"], "at least 1"),
    ("deploy", ["--param", "augment-gsm8k.base_url=http://u:SECRETKEY@h/v1"], "OPENAI_API_KEY"),
]


@pytest.mark.parametrize("command, extra, words", ISSUE_OPTION_CASES)
def test_issue_17_option_cases_end_in_one_sentence(tmp_path, in_process_cli, command, extra, words):
    places = _places(tmp_path)
    (tmp_path / "in" / "rows.txt").write_text("x\n")
    filled = [e.format(jsonl_dir=str(tmp_path / "in"), **places) for e in extra]
    code, stdout, stderr = in_process_cli(_base_args(command, places, str(tmp_path / "out")) + filled)
    assert _one_sentence(code, stdout, stderr), (code, stderr)
    assert words in stderr
    assert "SECRETKEY" not in stdout + stderr
    assert not (tmp_path / "out").exists()


def test_dataset_stays_an_alias_of_problems(tmp_path, in_process_cli):
    places = _places(tmp_path)
    for option in ("--problems", "--dataset"):
        code, _, stderr = in_process_cli(
            _base_args("augment-gsm8k", places, str(tmp_path / "out")) + [option, places["jsonl"]]
        )
        assert code == "reached", stderr


# --- a sample through the real CLI ----------------------------------------------------------------------------------


def test_fuzz_sample_through_the_real_cli(tmp_path, in_process_cli):
    """Generated option cases the in-process CLI refused give the same one line from the real `flows` command (so
    the in-process figures stand for the real CLI); hostile files through the real CLI: test_malformed_inputs.py."""
    import subprocess

    from reliability_helpers import REPO, flows_cmd

    rng = random.Random(SEED + 4)
    places = _places(tmp_path)
    sample = []
    for i, (command, extra) in enumerate(option_cases(rng, places, 40)):
        argv = _base_args(command, places, str(tmp_path / f"out{i}")) + extra
        code, stdout, stderr = in_process_cli(argv)
        if code not in (0, "reached") and len(sample) < 5:
            sample.append((argv, stderr.strip()))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    outcomes = []
    for argv, expected in sample:
        started = time.monotonic()
        result = subprocess.run(flows_cmd(*argv), capture_output=True, text=True, timeout=300, env=env, cwd=REPO)
        same = _one_sentence(result.returncode, result.stdout, result.stderr) and result.stderr.strip() == expected
        outcome = "clean" if same and "SECRETKEY" not in result.stdout + result.stderr else "traceback"
        outcomes.append((outcome, time.monotonic() - started, f"{argv}\n{result.stderr[-1500:]}\nvs {expected}"))
    # a subprocess pays Python's and the flow modules' start-up on a loaded machine: its time is reported only
    counts = Counter(o for o, _, _ in outcomes)
    FIGURES["cli-subprocess"] = Counter({**counts, "cases": len(outcomes),
                                         "slow": sum(1 for _, s, _ in outcomes if s > CASE_LIMIT_S)})  # fmt: skip
    bad = [detail for o, _, detail in outcomes if o == "traceback"]
    assert len(sample) == 5 and not bad, bad[:1]


def teardown_module(module):
    for kind, counts in FIGURES.items():
        print(
            f"\nfuzz {kind}: cases {counts['cases']}, clean {counts['clean'] + counts['ok']} "
            f"({counts['ok']} accepted, {counts['clean']} refused in one sentence), "
            f"traceback {counts['traceback']}, slow {counts['slow']}"
        )


@pytest.mark.parametrize(
    "content, words",
    [(b"{not json", "not valid JSON"), (b"\xff\xfe{}", "UTF-16"), (b'{"funnel": {"GSM_AnsAug": 3}}', "malformed"),
     (b'{"funnel": {"GSM_AnsAug": {"kept": "many"}}}', "malformed"), (b"[" * 100_000, "nested too deeply")],
)  # fmt: skip
def test_a_malformed_stats_json_in_a_run_is_one_sentence(tmp_path, content, words):
    import polars as pl

    from diversity.run_data import _load_funnel

    (tmp_path / "stats.json").write_bytes(content)
    with pytest.raises(UserError, match=words):
        _load_funnel(tmp_path, pl.DataFrame({"type": ["GSM_AnsAug"], "keep": [True]}))
