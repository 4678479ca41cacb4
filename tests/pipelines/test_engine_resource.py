"""The engine resource: validated like ``[engine]``, the engine made once per run and closed at teardown."""

from __future__ import annotations

import pytest
from dagster import build_init_resource_context

from anchormix.engine.local import LocalEngine
from anchormix.errors import ConfigError


def test_the_engine_resource_validates_like_the_file():
    from pipelines.resources import EngineResource

    assert EngineResource().settings().kind == "local"  # the file's default: make demo runs in process
    with pytest.raises(ConfigError) as err:
        EngineResource(kind="ray", address="ray://head:10001").settings()
    assert err.value.key == "engine.address"


def test_one_engine_per_run_closed_at_teardown(monkeypatch):
    from anchormix.engine.ray_engine import RayEngine
    from pipelines.resources import EngineResource

    closed = []
    monkeypatch.setattr(RayEngine, "close", lambda self: closed.append(self))
    with EngineResource(kind="ray", address="auto").yield_for_execution(build_init_resource_context()) as res:
        engine = res.engine()
        assert isinstance(engine, RayEngine) and res.engine() is engine  # made once, no Ray started yet
    assert closed == [engine]
    with EngineResource().yield_for_execution(build_init_resource_context()) as res:
        assert isinstance(res.engine(), LocalEngine)
