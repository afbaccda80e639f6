"""The append-only journal that makes a run resumable.

Each finished (problem, augmenter) pair is one JSON line, flushed and fsynced at once, in the run's
`journal/` folder (one file per shard). A re-run reads the journal, skips the pairs already there and appends
the rest: nothing is regenerated, lost or duplicated. A line cut short by a kill is discarded on read and cut
off the file before the next append.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class Journal:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def records(self) -> list[dict]:
        """Every complete record, first one kept where a pair appears twice."""
        seen, out = set(), []
        for record in read_records(self.folder):
            key = (record["problem_id"], record["augmenter"])
            if key not in seen:
                seen.add(key)
                out.append(record)
        return out

    def done(self) -> set[tuple[str, str]]:
        return {(r["problem_id"], r["augmenter"]) for r in self.records()}

    def samples(self) -> list[dict]:
        return [s for r in self.records() for s in r["samples"]]

    def writer(self, name: str) -> JournalWriter:
        return JournalWriter(self.folder / f"{name}.jsonl")


def read_records(folder: Path) -> list[dict]:
    """Every complete record in the journal folder, in file order, repeats included (none if there is no folder)."""
    out = []
    for path in sorted(Path(folder).glob("*.jsonl")):
        with path.open(encoding="utf-8") as f:
            for line in f:
                if not line.endswith("\n"):
                    break  # a kill cut this line short
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    return out


def written_pairs(folder: Path) -> list[tuple[str, str]]:
    """The (problem, augmenter) of every complete record, in file order: a pair journaled twice shows twice."""
    return [(r["problem_id"], r["augmenter"]) for r in read_records(folder)]


class JournalWriter:
    """Appends records to one journal file; each append is durable when it returns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        _cut_partial_line(path)

    def append(self, problem_id: str, augmenter: str, samples: list[dict]) -> None:
        line = json.dumps({"problem_id": problem_id, "augmenter": augmenter, "samples": samples}, ensure_ascii=False)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())


def _cut_partial_line(path: Path) -> None:
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as f:
        data = f.read()
        if data.endswith(b"\n"):
            return
        f.truncate(data.rfind(b"\n") + 1)
