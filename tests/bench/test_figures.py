"""`make bench`'s JSON: the figures helper every bench script records through, and the choice of
sections (``make bench ONLY=...``). The benches themselves pass or fail nothing and run only in
`make bench`."""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # The bench scripts import each other by name, as `python bench/<script>.py` lets them.
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("figures")


@pytest.fixture
def run(figures: ModuleType) -> ModuleType:
    return importlib.import_module("run")


def test_recorded_figures_come_back_as_one_flat_object(
    figures: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = tmp_path / "figures.jsonl"
    monkeypatch.setenv(figures.ENVIRONMENT, str(recorded))
    figures.record("async300_p50_s", 12.5)
    figures.record("chaos_charged_twice", 0)
    figures.record("async300_p50_s", 11.0)  # the last value of a key wins
    latest = tmp_path / "bench" / "latest.json"
    figures.write(figures.collect(recorded), latest)
    assert json.loads(latest.read_text()) == {"async300_p50_s": 11.0, "chaos_charged_twice": 0}


def test_a_torn_line_costs_only_its_own_figure(
    figures: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recorded = tmp_path / "figures.jsonl"
    recorded.write_text('{"key": "pages_healthz_p50_ms", "value": 0.3}\n{"key": "engine_48')
    assert figures.collect(recorded) == {"pages_healthz_p50_ms": 0.3}
    assert "line 2" in capsys.readouterr().err
    assert figures.collect(tmp_path / "missing.jsonl") == {}


def test_without_the_environment_variable_nothing_is_written(
    figures: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(figures.ENVIRONMENT, raising=False)
    monkeypatch.chdir(tmp_path)
    figures.record("engine_48mp_s", 2.5)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("key", ["Engine48mp", "engine-48mp", "_engine", "engine__s", ""])
def test_keys_are_snake_case(figures: ModuleType, key: str) -> None:
    with pytest.raises(ValueError, match="snake_case"):
        figures.record(key, 1)


@pytest.mark.parametrize("value", [math.nan, math.inf, True, "1.5", None])
def test_values_are_finite_numbers(figures: ModuleType, value: object) -> None:
    with pytest.raises(ValueError, match="number"):
        figures.record("engine_48mp_s", value)


def test_sections_by_name_group_and_comma_list(run: ModuleType) -> None:
    assert run.sections("all") == list(run.SECTIONS)
    assert run.sections("vendor") == ["engine", "pipeline", "crash"]
    assert run.sections("queue") == ["queue", "crash"]
    assert run.sections("crash, pages") == ["pages", "crash"]  # always in a full run's order
    assert run.sections("burst,engine") == ["engine", "burst"]
    assert run.sections("burst,pipeline") == ["pipeline"]  # the pipeline runs the bursts
    assert run.sections("recipes,pipeline") == ["pipeline", "recipes"]
    with pytest.raises(ValueError, match="no bench section 'bursts'"):
        run.sections("pipeline,bursts")
    with pytest.raises(ValueError, match="no bench section named"):
        run.sections(" , ")
