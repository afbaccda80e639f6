"""The augment flow's post-generation warm-up: against an openai server it makes the Embedder the filters then use
(its cache read, its model loaded) in its thread; in-process backends load nothing beside the model."""

from __future__ import annotations

import core.embeddings
from flows.augment import FilterOptions, _post_generation_warm_up


def test_openai_warm_up_makes_the_embedder_the_filters_use(monkeypatch, tmp_path):
    monkeypatch.setenv(core.embeddings.CACHE_ENV, str(tmp_path / "cache"))
    loaded = []
    monkeypatch.setattr(core.embeddings, "load_sentence_model", lambda name, device: loaded.append(name) or "model")
    warm_up, made = _post_generation_warm_up("openai", FilterOptions())
    assert made == []  # nothing is made before the warm-up runs (it starts after the first reply)
    warm_up.start()
    warm_up.wait()
    assert len(made) == 1
    assert made[0].model == "model" and made[0].cache is not None
    assert len(loaded) == 1  # the filters find the model loaded


def test_warm_up_without_embedding_filters_makes_no_embedder():
    warm_up, made = _post_generation_warm_up("openai", FilterOptions(dedup_threshold=None, decontaminate=None))
    warm_up.start()
    warm_up.wait()
    assert made == [] and len(warm_up.loads) == 1  # `datasets` only


def test_in_process_backend_loads_nothing_beside_its_model():
    warm_up, made = _post_generation_warm_up("local", FilterOptions())
    assert warm_up.loads == [] and made == []


def test_a_failing_model_load_is_left_to_the_filters(monkeypatch, tmp_path):
    monkeypatch.setenv(core.embeddings.CACHE_ENV, str(tmp_path / "cache"))

    def broken(name, device):
        raise OSError("no model here")

    monkeypatch.setattr(core.embeddings, "load_sentence_model", broken)
    warm_up, made = _post_generation_warm_up("openai", FilterOptions())
    warm_up.start()
    warm_up.wait()  # the thread ends; the error is the filter stage's to report when it loads the model itself
    assert len(made) == 1 and made[0]._model is None
