"""Loading source problems: the Hub's `openai/gsm8k`, a local .jsonl / .parquet file, or the bundled `sample`.

Every loader returns a PROBLEM_SCHEMA frame. A problem's id is a hash of its question, so the same problem keeps
its id whatever file or order it comes from (resume and decontamination rely on that).
"""

from __future__ import annotations

import hashlib
import json
import re
from importlib import resources
from pathlib import Path

import polars as pl

from core.answers import extract_answer, normalize_answer, parse_number
from core.errors import UserError
from core.schemas import PROBLEM_SCHEMA

BUNDLED = {"train": "gsm8k_train_sample.jsonl", "test": "gsm8k_test_sample.jsonl"}
HUB_DATASET = "openai/gsm8k"
_CALCULATOR = re.compile(r"<<([^<>]*)>>")  # GSM8K's calculator annotations: 48/2 = <<48/2=24>>24


def problem_id(question: str) -> str:
    return "p-" + hashlib.sha256(question.strip().encode()).hexdigest()[:16]


def bundled_path(split: str = "train") -> Path:
    return Path(str(resources.files("core") / "data" / BUNDLED[split]))


def from_gsm8k_rows(rows: list[dict], source: str, where: str | None = None) -> pl.DataFrame:
    """GSM8K-form rows ({question, answer: "steps ... #### 72"}) to problems; rows without a usable answer raise.

    `source` is recorded in each problem; `where` names the input in error messages (default: source).
    """
    where = where or source
    problems, seen = [], set()
    for i, row in enumerate(rows, 1):
        question, raw = row.get("question"), row.get("answer")
        if not isinstance(question, str) or not question.strip():
            raise UserError(f"Row {i} of {where} has no text in its 'question' field.")
        if raw is None or not str(raw).strip():
            raise UserError(f"Row {i} of {where} has no 'answer' field; each row needs question and answer.")
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise UserError(
                f"Row {i} of {where} has an 'answer' of type {type(raw).__name__}; give text like 'steps #### 72'."
            )
        raw = str(raw)
        solution, final = raw.rsplit("####", 1) if "####" in raw else (None, raw)
        answer = normalize_answer(extract_answer("#### " + final.strip()) if final.strip() else None)
        if answer is None:
            raise UserError(f"Row {i} of {where} has no final answer in {raw[-40:]!r}; GSM8K form ends with '#### N'.")
        if parse_number(answer) is None:
            raise UserError(f"Row {i} of {where} has the final answer {answer!r}, which is not a number.")
        pid = problem_id(question)
        if pid in seen:
            continue  # the same question twice: keep the first
        seen.add(pid)
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
    return pl.DataFrame(problems, schema=PROBLEM_SCHEMA)


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise UserError(f"Line {n} of {path} is not valid JSON; fix or remove it.") from None
            if not isinstance(row, dict):
                raise UserError(f"Line {n} of {path} is not a JSON object with question and answer fields.")
            rows.append(row)
    return rows


def _read_file(path: Path) -> list[dict]:
    if not path.is_file():
        raise UserError(f"The dataset file {path} does not exist.")
    if path.suffix == ".jsonl":
        rows = _read_jsonl(path)
    elif path.suffix == ".parquet":
        try:
            rows = pl.read_parquet(path).to_dicts()
        except Exception as exc:  # noqa: BLE001 - polars raises several kinds for a bad file
            raise UserError(f"{path} is not a readable Parquet file ({type(exc).__name__}).") from None
    else:
        raise UserError(f"{path} is neither .jsonl nor .parquet; give GSM8K-form rows in one of those.")
    if not rows:
        raise UserError(f"The dataset file {path} holds no rows.")
    return rows


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


def load_problems(spec: str = "sample", limit: int | None = None, split: str = "train") -> pl.DataFrame:
    """`spec`: "sample", a Hub id such as openai/gsm8k, or a path to a .jsonl/.parquet file in GSM8K form."""
    if limit is not None and limit < 1:
        raise UserError("--limit must be a positive number of problems.")
    if spec == "sample":
        if split not in BUNDLED:
            raise UserError(f"The bundled sample has the splits {', '.join(BUNDLED)}, not {split!r}.")
        source = f"gsm8k-{split}-sample"
        rows = _read_jsonl(bundled_path(split))
    elif Path(spec).suffix in (".jsonl", ".parquet") or Path(spec).exists():
        source = Path(spec).stem
        rows = _read_file(Path(spec))
    elif re.fullmatch(r"[\w.-]+/[\w.-]+", spec):
        source = spec
        rows = _read_hub(spec, split)
    else:
        raise UserError(f"--dataset {spec!r} is not 'sample', a Hub id like openai/gsm8k, or a .jsonl/.parquet file.")
    if limit is not None:
        rows = rows[:limit]
    return from_gsm8k_rows(rows, source, where=spec)
