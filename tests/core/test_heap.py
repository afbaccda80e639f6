"""core.heap: the collector paused during a command's imports, and the heap frozen during a generation phase."""

from __future__ import annotations

import gc
import sys
import weakref

import pytest

from core import heap


class _Node:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def _unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_frozen_heap_hides_earlier_objects_from_the_collector_until_it_ends():
    before = _Node()
    dead_before = weakref.ref(before)
    del before  # cyclic garbage made before the block
    with heap.frozen_heap():
        assert gc.get_freeze_count() > 0
        inside = _Node()
        dead_inside = weakref.ref(inside)
        del inside
        gc.collect()
        assert dead_inside() is None  # what the block makes is still collected
        assert dead_before() is not None  # what was there before is not walked
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert dead_before() is None  # after the block it is the collector's again


def test_frozen_heap_gives_the_heap_back_when_the_block_raises():
    with pytest.raises(RuntimeError), heap.frozen_heap():
        raise RuntimeError("the generation phase failed")
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize("enabled", [True, False])
def test_import_long_lived_imports_with_the_collector_paused_and_restores_it(monkeypatch, tmp_path, enabled):
    name = "tests_heap_probe_module"  # a module whose import records whether the collector could run meanwhile
    (tmp_path / f"{name}.py").write_text("import gc\n\ncollecting_during_import = gc.isenabled()\nvalue = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    (gc.enable if enabled else gc.disable)()
    try:
        module = heap.import_long_lived(name)
        assert gc.isenabled() is enabled
    finally:
        gc.enable()
        sys.modules.pop(name, None)
    assert module.value == 42
    assert module.collecting_during_import is False
    assert gc.get_freeze_count() > 0  # the imported objects are out of the collector's walks


def test_import_long_lived_restores_the_collector_when_the_import_fails():
    with pytest.raises(ModuleNotFoundError):
        heap.import_long_lived("no_such_module_for_core_heap")
    assert gc.isenabled()


def test_the_cli_freezes_its_imports_only_in_its_own_process():
    """`flows run` freezes what its command imported; a caller of the CLI in its own process keeps its heap as is."""
    from flows import cli

    cli.load_command("augment-gsm8k")
    assert gc.get_freeze_count() == 0
    cli.load_command("augment-gsm8k", own_process=True)
    assert gc.get_freeze_count() > 0
