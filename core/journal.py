"""The append-only journal that makes a run resumable, and keeps every raw reply of the model.

Each finished (problem, augmenter) pair is one JSON line, flushed and fsynced at once, in the run's `journal/`
folder (one file per shard). Before it, in the same file, come the raw replies the pair got from the model
(`"kind": "reply"` lines: the request's key, each completion's text, finish reason and token counts), written
without an fsync of their own: the pair's fsync makes them durable with it. A re-run reads the journal, rebuilds
finished pairs from their stored replies (core.llm.replay: no model call, so a changed parser or filter applies to
old replies) and appends the rest: nothing is regenerated, lost or duplicated. A line cut short by a kill is
discarded on read and cut off the file before the next append.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import defaultdict
from pathlib import Path

Pair = tuple[str, str]  # (problem_id, augmenter)


class Journal:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def records(self) -> list[dict]:
        """Every complete pair record, first one kept where a pair appears twice."""
        seen, out = set(), []
        for record in read_records(self.folder):
            key = (record["problem_id"], record["augmenter"])
            if key not in seen:
                seen.add(key)
                out.append(record)
        return out

    def done(self) -> set[Pair]:
        return {(r["problem_id"], r["augmenter"]) for r in self.records()}

    def samples(self) -> list[dict]:
        return [s for r in self.records() for s in r["samples"]]

    def replies(self) -> dict[Pair, dict[str, list[list[dict]]]]:
        """Stored replies per pair: request key -> the completions of each time it was asked, in order."""
        out: dict[Pair, dict[str, list[list[dict]]]] = defaultdict(lambda: defaultdict(list))
        for line in read_lines(self.folder):
            if line.get("kind") == "reply":
                out[(line["problem_id"], line["augmenter"])][line["key"]].append(line["completions"])
        return {pair: dict(keys) for pair, keys in out.items()}

    def writer(self, name: str) -> JournalWriter:
        return JournalWriter(self.folder / f"{name}.jsonl")


_REPLY_START = '{"kind": "reply"'  # how JournalWriter.append_reply's lines begin


def read_lines(folder: Path, replies: bool = True) -> list[dict]:
    """Every complete line of the journal folder (pair records and, unless `replies` is False, the raw replies),
    in file order. Reply lines are most of a journal's bytes: skipped unparsed, a 4,000-problem run's records read
    in 0.14 s instead of 0.25 s on this machine."""
    out = []
    for path in sorted(Path(folder).glob("*.jsonl")):
        with path.open(encoding="utf-8") as f:
            for line in f:
                if not line.endswith("\n"):
                    break  # a kill cut this line short
                if not replies and line.startswith(_REPLY_START):
                    continue
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    return out


def read_records(folder: Path) -> list[dict]:
    """Every complete pair record in the journal folder, in file order, repeats included (none without a folder)."""
    return [r for r in read_lines(folder, replies=False) if r.get("kind") != "reply"]


def written_pairs(folder: Path) -> list[Pair]:
    """The (problem, augmenter) of every complete record, in file order: a pair journaled twice shows twice."""
    return [(r["problem_id"], r["augmenter"]) for r in read_records(folder)]


class JournalWriter:
    """Appends to one journal file; a pair record is durable when append() returns (its replies with it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        _cut_partial_line(path)
        self._file = None
        self._written = 0  # lines written (flushed) so far
        self._synced = 0  # lines an fsync has covered
        self._syncing: asyncio.Future | None = None

    def _write(self, record: dict, sync: bool) -> None:
        if self._file is None:
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()  # in the OS's hands: survives a kill of this process
        self._written += 1
        if sync:
            os.fsync(self._file.fileno())  # on disk: survives a power cut
            self._synced = self._written

    def append_reply(self, problem_id: str, augmenter: str, key: str, completions: list[dict]) -> None:
        """One raw reply of the model to a pair's request; made durable by the pair's append."""
        self._write(
            {"kind": "reply", "problem_id": problem_id, "augmenter": augmenter, "key": key, "completions": completions},
            sync=False,
        )

    def append(self, problem_id: str, augmenter: str, samples: list[dict], replayable: bool = False) -> None:
        """A finished pair; `replayable`: every reply it used is stored, so a re-run can rebuild it without a model."""
        record: dict = {"problem_id": problem_id, "augmenter": augmenter, "samples": samples}
        if replayable:
            record["replayable"] = True
        self._write(record, sync=True)

    async def append_durably(
        self, problem_id: str, augmenter: str, samples: list[dict], replayable: bool = False
    ) -> None:
        """append() for an event loop: the fsync runs on a thread, and pairs finishing together share one."""
        record: dict = {"problem_id": problem_id, "augmenter": augmenter, "samples": samples}
        if replayable:
            record["replayable"] = True
        self._write(record, sync=False)
        target = self._written
        while self._synced < target:
            if self._syncing is None:
                self._syncing = asyncio.ensure_future(self._fsync())
            await asyncio.shield(self._syncing)

    async def _fsync(self) -> None:
        covered = self._written  # an fsync that starts now covers every line written so far
        try:
            await asyncio.to_thread(os.fsync, self._file.fileno())
            self._synced = max(self._synced, covered)
        finally:
            self._syncing = None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _cut_partial_line(path: Path) -> None:
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as f:
        data = f.read()
        if data.endswith(b"\n"):
            return
        f.truncate(data.rfind(b"\n") + 1)
