"""Writing a run's outputs, each file atomically (a kill never leaves half a file behind).

In the run folder: `samples.parquet` (every sample, with reasons), `problems.parquet` (the sources used),
`dataset/train.parquet` and `dataset/metamathqa.jsonl` (kept rows, MetaMathQA field names), `dataset/` also
loadable with `datasets.load_from_disk`, and `stats.json`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import polars as pl

from core.errors import UserError
from core.text_files import read_json

METAMATHQA_FIELDS = ["query", "response", "type", "original_question"]


def _atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_parquet(df: pl.DataFrame, path: Path) -> None:
    _atomic(path, lambda tmp: df.write_parquet(tmp))


def write_json(obj: dict, path: Path) -> None:
    _atomic(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"))


def check_resume_settings(path: Path, settings: dict, keys: tuple[str, ...], made: str = "a run") -> None:
    """Refuse in one sentence to go on with the run whose settings file is `path` when one of `keys` changed, since
    finished and new work would differ; then store `settings` there. A key the file lacks (written before it was
    recorded) says nothing. `made`: what the folder holds ("a run", "labels")."""
    settings = json.loads(json.dumps(settings))  # compared as stored: tuples become lists
    if path.exists():
        before = read_json(path, "run settings file")
        if not isinstance(before, dict):
            raise UserError(f"{path} is not a run's settings; use a new --out, or delete it to start the run again.")
        for key in keys:
            if key not in before or before[key] == settings.get(key):
                continue
            if key == "prompts":
                raise UserError(
                    f"{path.parent} holds {made} made with other prompt texts than this version's; use a new --out "
                    "(its stored replies answer the old prompts only)."
                )
            raise UserError(
                f"{path.parent} holds {made} made with {key}={before[key]!r}, not {settings.get(key)!r}; "
                "use the same options to resume it, or a new --out."
            )
    write_json(settings, path)


def training_set(samples: pl.DataFrame) -> pl.DataFrame:
    """Kept rows in MetaMathQA's field names (plus ids, so rows can be traced back)."""
    kept = samples.filter(pl.col("keep").fill_null(False))
    return kept.select([*METAMATHQA_FIELDS, "id", "parent_id", "answer", "verified_by", "score"])


def write_dataset(samples: pl.DataFrame, folder: Path) -> pl.DataFrame:
    """dataset/train.parquet, dataset/metamathqa.jsonl and the `datasets` files, replaced as one folder."""
    import datasets

    train = training_set(samples)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        train.write_parquet(tmp / "train.parquet")
        train.select(METAMATHQA_FIELDS).write_ndjson(tmp / "metamathqa.jsonl")
        datasets.Dataset.from_polars(train).save_to_disk(str(tmp))
        old = folder.with_name(f".{folder.name}.old")
        if folder.exists():
            shutil.rmtree(old, ignore_errors=True)
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return train


def read_run_parquet(path: Path, columns: tuple[str, ...] = ()) -> pl.DataFrame:
    """A Parquet file a flow wrote, with the columns a reader needs, or one sentence saying why it cannot be read."""
    if not path.is_file():
        raise UserError(f"{path} does not exist; pass the --out folder of the flow that writes it.")
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any read failure means a damaged or foreign file
        raise UserError(f"Could not read {path} ({type(exc).__name__}); it is damaged or no Parquet file.") from None
    if missing := sorted(set(columns) - set(frame.columns)):
        raise UserError(f"{path} lacks the columns {missing}; it was not written by a mathaug flow.")
    return frame
