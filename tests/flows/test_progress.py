"""The progress artifact never holds the work it reports on, and still ends at 100 %."""

from __future__ import annotations

import asyncio
import time
import uuid
from types import SimpleNamespace

from flows import progress as progress_module
from flows.progress import Progress


class SlowArtifacts:
    """Prefect's create_progress_artifact / update_progress_artifact (their `.aio` forms and keywords), each call
    taking `delay_s` like a round trip to a slow server; `fail` makes every call raise."""

    def __init__(self, delay_s: float, fail: bool = False) -> None:
        self.delay_s, self.fail = delay_s, fail
        self.sent: list[float] = []
        self.id = uuid.uuid4()
        self.create = SimpleNamespace(aio=self._create)
        self.update = SimpleNamespace(aio=self._update)

    async def _create(self, progress: float, key: str | None = None, description: str | None = None) -> uuid.UUID:
        await asyncio.sleep(self.delay_s)
        if self.fail:
            raise RuntimeError("server gone")
        self.sent.append(progress)
        return self.id

    async def _update(self, artifact_id: uuid.UUID, progress: float, description: str | None = None) -> None:
        assert artifact_id == self.id
        await asyncio.sleep(self.delay_s)
        self.sent.append(progress)


def _patch(monkeypatch, artifacts: SlowArtifacts) -> None:
    monkeypatch.setattr(progress_module, "create_progress_artifact", artifacts.create)
    monkeypatch.setattr(progress_module, "update_progress_artifact", artifacts.update)


def test_a_slow_artifact_never_holds_the_work_and_the_last_value_is_100(monkeypatch):
    artifacts = SlowArtifacts(delay_s=0.3)
    _patch(monkeypatch, artifacts)

    async def run() -> float:
        progress = Progress(40, "work", key="k", every_s=0.0)
        started = time.monotonic()
        await progress.start()
        for _ in range(39):
            await progress.advance()
        took = time.monotonic() - started
        await progress.advance()  # the last item waits for the artifact to reach 100 %
        progress.close()
        return took

    took = asyncio.run(run())
    assert took < 0.1  # 39 items while creation and updates take 0.3 s each
    assert artifacts.sent[0] == 0.0 and artifacts.sent[-1] == 100.0
    assert len(artifacts.sent) < 10  # one call in flight at a time, not one per item


def test_an_artifact_that_fails_is_logged_and_the_work_goes_on(monkeypatch, caplog):
    _patch(monkeypatch, SlowArtifacts(delay_s=0.0, fail=True))

    async def run() -> int:
        progress = Progress(3, "work", key="k")
        await progress.start()
        for _ in range(3):
            await progress.advance()
        progress.close()
        return progress.done

    assert asyncio.run(run()) == 3
    assert "progress artifact not updated: server gone" in caplog.text
