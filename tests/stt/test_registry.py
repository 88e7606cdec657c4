"""The loaded models' bound: which one is unloaded to make room, and what counts against
max_loaded_models and models_memory_mb. No weights are loaded: the catalog, the load and
the weights' size are faked (every model 100 MB), since only the accounting is tested."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from servers.stt import models
from servers.stt.config import SttSettings
from servers.stt.options import ServedModel

OTHERS = ("model-a", "model-b", "model-c")
SIZE_MB = 100.0


class Loads:
    """The fake loads: the models loaded, in order; each one waits for ``gate`` (1 s at
    most: a test that fails does not hang)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.gate = threading.Event()
        self.gate.set()

    def load(self, settings: SttSettings, path: Path, warm: bool) -> object:
        self.gate.wait(1)
        self.names.append(path.name)
        return object()  # an engine nobody decodes with


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Loads]:
    loads = Loads()
    monkeypatch.setattr(models, "served_models", lambda settings: {
        name: (ServedModel(name), Path("/nowhere") / name)
        for name in (settings.model, *OTHERS)})
    monkeypatch.setattr(models, "_load_engine", loads.load)
    monkeypatch.setattr(models, "model_size_mb", lambda path: SIZE_MB)
    yield loads
    loads.gate.set()  # no load thread left waiting


async def registry(**settings: object) -> models.ModelRegistry:
    """A registry with the configured model loaded (and not in use), as after start."""
    registry = models.ModelRegistry(SttSettings(**{"interim_nice": 0, **settings}))
    await registry.load_default()
    return registry


async def use(registry: models.ModelRegistry, name: str) -> None:
    """A session opened on ``name`` and closed."""
    await registry.acquire(name)
    registry.release(name)


async def test_the_least_recently_used_model_is_unloaded_to_make_room(loads: Loads) -> None:
    """The model a session used last is the likeliest to be asked for again: unloading
    it instead makes the next handshake for it wait for a whole load."""
    r = await registry(max_loaded_models=3)
    a, b, c = OTHERS
    for name in (a, b, a):  # b is now the least recently used
        await use(r, name)
    await use(r, c)
    assert sorted(r.loaded) == sorted([r.settings.model, a, c])
    assert loads.names == [r.settings.model, a, b, c]  # a's second use loaded nothing


async def test_a_model_in_use_is_never_unloaded(loads: Loads) -> None:
    """A session decoding with a model keeps it: unloading it under the session would
    fail every decode it asks for. With no other room the handshake is refused (503)."""
    r = await registry(max_loaded_models=2)
    a, b, _ = OTHERS
    await r.acquire(a)  # a session on a, still open
    with pytest.raises(models.ModelCapacity, match="in use"):
        await r.acquire(b)
    assert sorted(r.loaded) == sorted([r.settings.model, a]) and r.loaded[a].users == 1
    r.release(a)  # the session closes: now a may go
    await use(r, b)
    assert sorted(r.loaded) == sorted([r.settings.model, b])


@pytest.mark.parametrize("limits", [{"max_loaded_models": 2},
                                    {"models_memory_mb": 250}])
async def test_a_load_in_flight_counts_as_loaded(loads: Loads, limits: dict[str, int]) -> None:
    """Two handshakes for two models, both loading at once, with room for one beside the
    configured model: were the load in flight not counted, both would go ahead and the
    bound be passed (two models' weights more than the memory allows)."""
    r = await registry(**limits)
    a, b, _ = OTHERS
    loads.gate.clear()  # a's load stays in flight
    first = asyncio.ensure_future(r.acquire(a))
    try:
        await asyncio.sleep(0.02)
        assert a in r._loading and a not in r.loaded
        with pytest.raises(models.ModelCapacity):
            await r.acquire(b)
    finally:
        loads.gate.set()
    await first
    assert sorted(r.loaded) == sorted([r.settings.model, a])
    assert loads.names == [r.settings.model, a]


@pytest.mark.skipif(sys.platform != "linux", reason="an interim lane only on a Linux CPU")
async def test_with_an_interim_lane_a_model_counts_twice(loads: Loads) -> None:
    """The interim lane holds a second copy of the weights: counted once, the models
    loaded would take twice the memory models_memory_mb allows."""
    r = await registry(interim_nice=5, models_memory_mb=500)
    assert r.settings.interim_lane()
    a, b, _ = OTHERS
    await use(r, a)  # 200 MB beside the configured model's 200
    assert [m.size_mb for m in r.loaded.values()] == [2 * SIZE_MB, 2 * SIZE_MB]
    await use(r, b)  # another 200 would pass 500: a goes
    assert sorted(r.loaded) == sorted([r.settings.model, b])
