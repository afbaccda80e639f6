"""A small sentence embedder for the filters: in-memory cache, time spent (the model: `core.sentence_model`).

`filters` may not import `diversity` (data flows filters -> diversity); the report's embedder keeps a disk cache.
Vectors are L2-normalized float32, so an inner product is a cosine similarity.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from core.sentence_model import bundled_model_path, load_sentence_model


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
        return load_sentence_model(self.model_path, self.device)

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
