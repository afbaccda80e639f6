"""Sentence embeddings with a content-hash disk cache, so a text is embedded once per model, ever.

One `Embedder` serves the filters (near-dedup, decontamination) and the diversity report; `core.sentence_model`
loads the model. Vectors are L2-normalised float32, so an inner product is a cosine similarity and the squared
distance between two of them is 2 - 2·cos, in [0, 4].
The cache is a folder per model holding shards (``keys-<n>.npy``: (n, 32) uint8 SHA-256 digests of the texts,
``vecs-<n>.npy`` with their float32 vectors); each call that embeds something new writes one more shard
atomically (so concurrent runs never see half a shard), and a reader loads every shard. Texts not in the cache
are de-duplicated, sorted by length (so each batch pads little) and encoded with sentence-transformers on the GPU
when there is one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core import torch_thread
from core.llm.local import cache_root
from core.sentence_model import bundled_model_path, load_sentence_model

CACHE_ENV = "MATHAUG_EMBEDDING_CACHE"  # the embedding cache's folder, if set (tests point it at a temporary one)
_CHUNK = 4096  # texts per encode() call, so a crash loses at most one chunk of work
_MAX_SHARDS = 64  # compact the cache into one shard beyond this many

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """$MATHAUG_EMBEDDING_CACHE, else <mathaug cache>/embeddings (~/.cache/mathaug, moved by $MATHAUG_CACHE or
    $XDG_CACHE_HOME): shared by runs, so the GSM8K questions and base problems embed once."""
    folder = os.environ.get(CACHE_ENV)
    return Path(folder).expanduser() if folder else cache_root() / "embeddings"


def text_digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def model_fingerprint(model: str) -> str:
    """A folder name for the model's cache: its name plus a hash of what identifies its weights."""
    path = Path(model)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        identity = str(path.resolve()) + "".join(f"|{p.relative_to(path)}:{p.stat().st_size}" for p in files)
    else:
        identity = model
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.name if path.is_dir() else model).strip("-")[:48]
    if slug == "model" and path.is_dir():
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.parent.name)[:48]
    return f"{slug}-{hashlib.sha256(identity.encode()).hexdigest()[:12]}"


class EmbeddingCache:
    """digest -> vector, persisted as .npy shards in one folder (one folder per model).

    Opening the cache reads every shard's keys (32 bytes a text) but maps its vectors from disk: a run reads only
    the vectors it asks for, so a cache grown over many runs costs its keys in memory, not its whole size."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._row: dict[bytes, tuple[int, int]] = {}  # digest -> (shard, row in it)
        self._vectors: list[np.ndarray] = []  # one per shard: memory-mapped when read from disk
        self._warned = False
        self._load()

    def _shards(self) -> list[tuple[Path, Path]]:
        pairs = []
        for keys in sorted(self.folder.glob("keys-*.npy")):
            vecs = keys.with_name("vecs-" + keys.name[len("keys-") :])
            if vecs.exists():
                pairs.append((keys, vecs))
        return pairs

    def _load(self) -> None:
        for keys_path, vecs_path in self._shards():
            try:
                keys, vecs = np.load(keys_path), np.load(vecs_path, mmap_mode="r")
            except (OSError, ValueError):  # compacted away by another run meanwhile, or unreadable: embed again
                continue
            if keys.ndim != 2 or keys.shape[1] != 32 or vecs.ndim != 2 or len(keys) != len(vecs):
                continue  # a torn or foreign shard: ignore it, its texts get embedded again
            if vecs.dtype != np.float32 or (self._vectors and vecs.shape[1] != self.dim):
                continue
            self._add_rows(_digests_of(keys), vecs)

    def _add_rows(self, digests: Sequence[bytes], vectors: np.ndarray) -> None:
        shard = len(self._vectors)
        for i, key in enumerate(digests):
            self._row.setdefault(key, (shard, i))
        self._vectors.append(vectors)

    def __len__(self) -> int:
        return len(self._row)

    def __contains__(self, digest: bytes) -> bool:
        return digest in self._row

    @property
    def dim(self) -> int | None:
        return self._vectors[0].shape[1] if self._vectors else None

    def get(self, digests: Sequence[bytes]) -> np.ndarray:
        """The vectors of `digests` (all in the cache), in their order, read shard by shard."""
        where = np.array([self._row[d] for d in digests], dtype=np.int64).reshape(-1, 2)
        out = np.empty((len(digests), self.dim or 0), dtype=np.float32)
        for shard in np.unique(where[:, 0]):
            mine = where[:, 0] == shard
            out[mine] = self._vectors[shard][where[mine, 1]]  # reads only these rows of a mapped shard
        return out

    def add(self, digests: Sequence[bytes], vectors: np.ndarray) -> list[Path]:
        """Persist new vectors as one shard (written to temporary names, then renamed into place)."""
        if not len(digests):
            return []
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        try:
            written = self._write(digests, vectors)
        except OSError as exc:  # a read-only or full disk: the vectors still serve this process
            if not self._warned:
                log.warning(
                    "Cannot write the embedding cache in %s (%s); set %s to a writable folder.",
                    self.folder,
                    exc,
                    CACHE_ENV,
                )
                self._warned = True
            written = []
        self._add_rows(digests, vectors)
        if len(self._vectors) > _MAX_SHARDS:
            self._compact()
        return written

    def _write(self, digests: Sequence[bytes], vectors: np.ndarray) -> list[Path]:
        self.folder.mkdir(parents=True, exist_ok=True)
        # raw uint8 rows, not numpy's "S32", which drops a digest's trailing zero bytes
        keys = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(len(digests), 32)
        name = f"{len(self._shards()):06d}-{uuid.uuid4().hex[:8]}.npy"
        written = []
        for prefix, array in (("vecs-", vectors), ("keys-", keys)):  # keys last: a shard counts once both exist
            tmp = self.folder / f".tmp-{prefix}{name}"
            with open(tmp, "wb") as handle:
                np.save(handle, array)
            os.replace(tmp, self.folder / f"{prefix}{name}")
            written.append(self.folder / f"{prefix}{name}")
        return written

    def _compact(self) -> None:
        old = self._shards()
        digests = list(self._row)
        vectors = self.get(digests)
        self._row, self._vectors = {}, []
        keep = set(self.add(digests, vectors))
        for pair in old:
            for path in pair:
                if path not in keep:
                    path.unlink(missing_ok=True)


def _digests_of(keys: np.ndarray) -> list[bytes]:
    """Rows of a (n, 32) uint8 array as 32-byte digests."""
    raw = np.ascontiguousarray(keys, dtype=np.uint8).tobytes()
    return [raw[i : i + 32] for i in range(0, len(raw), 32)]


class Embedder:
    """Embeds texts with a sentence-transformers model, caching every vector on disk by the text's SHA-256.

    `embed(texts)` -> (len(texts), dim) float32 unit vectors in input order. `encoded` counts the texts this
    instance ran through the model (cache misses after de-duplication) and `seconds` the time that took: a second
    run over the same texts leaves both at 0 and never loads the model. The cache is read on the first `embed`.
    """

    def __init__(
        self,
        model: str | None = None,
        cache_dir: str | Path | None = None,
        device: str | None = None,
        batch_size: int = 64,
        sentence_model=None,  # an already loaded SentenceTransformer for `model` (it is then not loaded again)
    ) -> None:
        self.model_name = model or bundled_model_path()
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.device = device
        self.batch_size = batch_size
        self.encoded = 0
        self.seconds = 0.0
        self._model = sentence_model
        self._cache: EmbeddingCache | None = None

    @property
    def cache(self) -> EmbeddingCache:
        if self._cache is None:
            self._cache = EmbeddingCache(self.cache_dir / model_fingerprint(self.model_name))
        return self._cache

    @property
    def model(self):
        if self._model is None:
            self._model = load_sentence_model(self.model_name, self.device)
        return self._model

    @property
    def dim(self) -> int:
        cached = self.cache.dim
        return cached if cached is not None else int(self.model.get_embedding_dimension())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, L2-normalised, in input order."""
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        digests = [text_digest(t) for t in texts]
        missing: dict[bytes, str] = {}
        for digest, text in zip(digests, texts, strict=True):
            if digest not in self.cache and digest not in missing:
                missing[digest] = text
        if missing:
            order = sorted(missing, key=lambda d: len(missing[d]), reverse=True)
            for start in range(0, len(order), _CHUNK):
                chunk = order[start : start + _CHUNK]
                began = time.perf_counter()
                vectors = torch_thread.run(
                    self.model.encode,
                    [missing[d] for d in chunk],
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                self.seconds += time.perf_counter() - began
                self.cache.add(chunk, np.asarray(vectors, dtype=np.float32))
                self.encoded += len(chunk)
        return self.cache.get(digests)
