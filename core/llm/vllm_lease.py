"""One vLLM engine per process at a time: the GPU lease every engine (and every GPU scorer) takes before it loads.

vLLM takes `gpu_memory_utilization` of the GPU for itself, so a second engine (the next checkpoint of an evaluation,
a verifier model, a reward model loaded with transformers) next to a live one runs out of memory. Whoever needs the
GPU calls `take(owner)`: the engine holding it is waited on until it has no request in flight, then shut down, and
its GPU memory freed. A released backend builds its engine again if it is asked for more work later.
"""

from __future__ import annotations

import gc
import threading
from typing import Protocol


class EngineOwner(Protocol):
    def in_flight(self) -> int:
        """Requests of this owner now running on its engine."""
        ...

    def release_engine(self) -> None:
        """Shut the engine down and drop every reference to it (called with the lease's lock held)."""
        ...


condition = threading.Condition()  # guards the holder and every holder's in-flight count
_holder: EngineOwner | None = None


def take(owner: EngineOwner | None) -> None:
    """Make `owner` the only engine holder of this process; an idle other holder is shut down first (blocks while
    the other has requests in flight). `owner=None` just frees the GPU, e.g. before a scorer loads a model there."""
    global _holder
    with condition:
        while _holder is not None and _holder is not owner and _holder.in_flight() > 0:
            condition.wait(timeout=1.0)
        if _holder is not None and _holder is not owner:
            _holder.release_engine()
            _holder = None
            free_gpu_memory()
        _holder = owner


def give_back(owner: EngineOwner) -> None:
    """`owner` has shut its engine down (close()): the lease is free."""
    global _holder
    with condition:
        if _holder is owner:
            _holder = None
            free_gpu_memory()
        condition.notify_all()


def holder() -> EngineOwner | None:
    return _holder


def release_gpu() -> None:
    """Shut down this process's vLLM engine, if any, before another model is loaded onto the GPU."""
    if _holder is not None:
        take(None)


def free_gpu_memory() -> None:
    """Collect dropped engines and hand cached CUDA blocks back to the driver (a no-op without torch or CUDA)."""
    gc.collect()
    try:
        import torch
    except ImportError:
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
