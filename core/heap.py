"""Keeping Python's cyclic garbage collector out of the way of start-up and of the generation phase.

A run's command imports ~240,000 objects (Prefect, pydantic, polars, httpx) that live until it exits. The collector
walks all of them at every full collection: measured here (bench/bench_server.py, 1,000 problems), full collections
of 40-160 ms came before the first request and during generation, where each one stalls the event loop that keeps
the server busy; in all, 275 collections took 0.40 s of a 12.8 s generation phase. With the heap frozen: 0.21-0.25 s,
the longest 46 ms.

`gc.freeze()` moves every live object to a generation the collector never walks. Frozen objects are still freed by
reference counting; only cyclic garbage among them stays until `gc.unfreeze()` gives them back to the collector.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
from collections.abc import Iterator
from types import ModuleType


def import_long_lived(name: str) -> ModuleType:
    """Import a module with the collector paused, then freeze what is alive: modules, classes and functions live as
    long as the process, so collections during the import would walk them for nothing (measured: 0.25 s off a
    2.27 s import of the augment command, median of 8). The few cycles the import left as garbage (~2 MB) are
    frozen too, until `frozen_heap` ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return importlib.import_module(name)
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Within the block, the collector walks only the objects made inside it: what was alive before (the modules,
    the problems, the flow run's context) is frozen. After the block every object is the collector's again, so cycles
    that die later (a served process runs many flows) are still collected."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
