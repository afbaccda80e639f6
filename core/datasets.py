"""Loading source problems: the Hub's `openai/gsm8k`, a local .jsonl / .parquet file, or the bundled `sample`.

Every loader returns a PROBLEM_SCHEMA frame. A problem's id is a hash of its question, so the same problem keeps
its id whatever file or order it comes from (resume and decontamination rely on that).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path

import polars as pl

from core.answers import extract_answer, normalize_answer, number_refusal, parse_number
from core.errors import UserError
from core.numbers import MAX_DIGITS
from core.schemas import PROBLEM_SCHEMA
from core.text_files import check_readable, iter_lines, loads_json

BUNDLED = {"train": "gsm8k_train_sample.jsonl", "test": "gsm8k_test_sample.jsonl"}
HUB_DATASET = "openai/gsm8k"
_CALCULATOR = re.compile(r"<<([^<>]*)>>")  # GSM8K's calculator annotations: 48/2 = <<48/2=24>>24
_LONG_NUMBER = re.compile(rf"\d{{{MAX_DIGITS + 1},}}")
_PLAIN_INTEGER = re.compile(r"-?[1-9]\d{0,14}|0")
log = logging.getLogger(__name__)


def problem_id(question: str) -> str:
    return "p-" + hashlib.sha256(question.strip().encode()).hexdigest()[:16]


def bundled_path(split: str = "train") -> Path:
    return Path(str(resources.files("core") / "data" / BUNDLED[split]))


def _text(value: str, i: int, where: str, field: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UserError(f"Row {i} of {where} has a lone surrogate in its {field!r}, not text; fix it.") from None
    return value


def _final_answer(raw: object, i: int, where: str) -> tuple[str | None, str]:
    """(solution, normalized final answer) of one row's 'answer' field, or a UserError that says what is wrong."""
    if raw is None:
        raise UserError(f"Row {i} of {where} has no 'answer' field; each row needs question and answer.")
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise UserError(
            f"Row {i} of {where} has an 'answer' of type {type(raw).__name__}; give text like 'steps #### 72'."
        )
    raw = _text(str(raw), i, where, "answer")
    if not raw.strip():
        raise UserError(f"Row {i} of {where} has an empty 'answer'; give text like 'steps #### 72'.")
    solution, final = raw.rsplit("####", 1) if "####" in raw else (None, raw)
    if _PLAIN_INTEGER.fullmatch(final.strip()):  # GSM8K's own form: the general reading below gives the same text
        return solution, final.strip()
    extracted = extract_answer("#### " + final.strip()) if final.strip() else None
    if (reason := number_refusal(extracted)) is not None:
        raise UserError(f"Row {i} of {where} has a final answer that is too large to read exactly: {reason}.")
    answer = normalize_answer(extracted)
    if answer is None:
        raise UserError(f"Row {i} of {where} has no final answer in {raw[-40:]!r}; GSM8K form ends with '#### N'.")
    if parse_number(answer) is None:
        raise UserError(f"Row {i} of {where} has the final answer {answer[:40]!r}, which is not a number.")
    return solution, answer


def from_gsm8k_rows(rows: Iterable[dict], source: str, where: str | None = None) -> pl.DataFrame:
    """GSM8K-form rows ({question, answer: "steps ... #### 72"}) to problems; rows without a usable answer raise.

    `source` is recorded in each problem; `where` names the input in error messages (default: source). The same
    question twice with the same answer is kept once (and logged); with different answers it is refused.
    """
    where = where or source
    problems: list[dict] = []
    first_row: dict[str, tuple[int, str]] = {}  # problem id -> (row number, answer) where it first appeared
    duplicates = 0
    for i, row in enumerate(rows, 1):
        question = row.get("question")
        if not isinstance(question, str) or not question.strip():
            raise UserError(f"Row {i} of {where} has no text in its 'question' field.")
        question = _text(question, i, where, "question")
        if _LONG_NUMBER.search(question):
            raise UserError(
                f"Row {i} of {where} has a number of more than {MAX_DIGITS} digits in its question; "
                "no word problem needs one (the augmenters read every number of a question exactly)."
            )
        solution, answer = _final_answer(row.get("answer"), i, where)
        pid = problem_id(question)
        if pid in first_row:
            j, earlier = first_row[pid]
            if earlier != answer:
                raise UserError(
                    f"Rows {j} and {i} of {where} ask the same question with different answers "
                    f"({earlier[:20]} and {answer[:20]}); keep the right one."
                )
            duplicates += 1
            continue  # the same question twice: keep the first
        first_row[pid] = (i, answer)
        clean = _CALCULATOR.sub("", solution).strip() if solution else None
        problems.append(
            {
                "id": pid,
                "question": question.strip(),
                "answer": answer,
                "solution": clean,
                "source": source,
                "calculations": [m.strip() for m in _CALCULATOR.findall(solution or "")],
            }
        )
    if duplicates:
        log.warning("%s repeats %d question(s) with the same answer; each is used once.", where, duplicates)
    # column by column: a frame built row by row makes a series for each row's list of calculations (3x slower)
    return pl.DataFrame({name: [p[name] for p in problems] for name in PROBLEM_SCHEMA}, schema=PROBLEM_SCHEMA)


def _read_jsonl(path: Path, limit: int | None = None) -> Iterator[dict]:
    """Rows of a .jsonl file, read lazily: with `limit`, the file is read only up to its limit-th row."""
    count = 0
    for n, line in iter_lines(path, "dataset file"):
        if limit is not None and count >= limit:
            return
        if not line.strip():
            continue
        row = loads_json(line, f"Line {n} of {path}")
        if not isinstance(row, dict):
            raise UserError(f"Line {n} of {path} is not a JSON object with question and answer fields.")
        count += 1
        yield row


def _read_parquet(path: Path, limit: int | None) -> list[dict]:
    try:
        frame = pl.scan_parquet(path)
        return (frame.head(limit) if limit is not None else frame).collect().to_dicts()
    except PermissionError:
        raise UserError(f"The dataset file {path} cannot be read: permission denied.") from None
    except Exception as exc:  # noqa: BLE001 - polars raises several kinds for a bad file
        raise UserError(f"{path} is not a readable Parquet file ({type(exc).__name__}).") from None


def _read_file(path: Path, limit: int | None = None) -> Iterator[dict] | list[dict]:
    check_readable(path, "dataset file")
    if path.suffix == ".jsonl":
        return _read_jsonl(path, limit)
    if path.suffix == ".parquet":
        return _read_parquet(path, limit)
    raise UserError(f"{path} is neither .jsonl nor .parquet; give GSM8K-form rows in one of those.")


def _read_hub(name: str, split: str) -> list[dict]:
    try:
        import datasets

        config = "main" if name == HUB_DATASET else None
        return list(datasets.load_dataset(name, config, split=split))
    except Exception as exc:  # noqa: BLE001 - offline, unknown id, or no such split all end the same way
        raise UserError(
            f"Could not load {name!r} from the Hugging Face Hub ({type(exc).__name__}); offline, use "
            "--dataset sample (the bundled GSM8K sample) or a local .jsonl/.parquet file."
        ) from None


def _is_there(path: Path) -> bool:
    try:
        return path.exists() or path.is_symlink()
    except OSError:  # a name too long for the file system, ...: not a file we can read
        return False


# what `preload_problems` read, for the one `load_problems` call that asks for the same (a command line reads its
# file before Prefect starts, so that a bad file is refused at once; the flow it starts then takes these rows)
_preloaded: dict[tuple, pl.DataFrame] = {}


def _file_state(spec: str) -> tuple | None:
    """What tells a local file's content apart between two reads (None for the sample and Hub ids)."""
    try:
        st = Path(spec).stat()
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def preload_problems(spec: str = "sample", limit: int | None = None, split: str = "train") -> pl.DataFrame:
    """`load_problems` now, keeping the frame for the next `load_problems` call with the same arguments while the
    file is unchanged: that call takes it instead of reading the file again (once; later calls read)."""
    _preloaded.clear()
    problems = load_problems(spec, limit, split)
    _preloaded[(spec, limit, split, _file_state(spec))] = problems
    return problems


def load_problems(spec: str = "sample", limit: int | None = None, split: str = "train") -> pl.DataFrame:
    """`spec`: "sample", a Hub id such as openai/gsm8k, or a path to a .jsonl/.parquet file in GSM8K form.

    With `limit`, only the first `limit` rows are read (a .jsonl file is streamed, not parsed whole)."""
    if _preloaded and (kept := _preloaded.pop((spec, limit, split, _file_state(spec)), None)) is not None:
        return kept
    if limit is not None and limit < 1:
        raise UserError("--limit must be a positive number of problems.")
    rows: Iterable[dict]
    if spec == "sample":
        if split not in BUNDLED:
            raise UserError(f"The bundled sample has the splits {', '.join(BUNDLED)}, not {split!r}.")
        source = f"gsm8k-{split}-sample"
        rows = _read_jsonl(bundled_path(split), limit)
    elif "\0" in spec or len(spec) > 4096:
        raise UserError(f"--problems {spec[:40]!r}... is not a usable name or path.")
    elif Path(spec).suffix in (".jsonl", ".parquet") or _is_there(Path(spec)):
        source = Path(spec).stem
        rows = _read_file(Path(spec), limit)
    elif re.fullmatch(r"[\w.-]+/[\w.-]+", spec):
        source = spec
        rows = _read_hub(spec, split)[:limit]
    else:
        raise UserError(
            f"--problems {spec[:80]!r} is not 'sample', a Hub id like openai/gsm8k, or a .jsonl/.parquet file."
        )
    problems = from_gsm8k_rows(rows, source, where=spec)
    if problems.is_empty():
        raise UserError(f"The dataset file {spec} holds no rows.")
    return problems
