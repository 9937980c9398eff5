"""The `evolve` command's dispatch into Hydra."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hydra._internal.config_loader_impl import ConfigLoaderImpl

from evolve import cli


def _composes(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> list[str]:
    """Run `_hydra` on a task that does nothing; the run modes of every config composition, in order."""
    seen: list[str] = []
    original = ConfigLoaderImpl.load_configuration

    def counting(self: Any, config_name: Any, overrides: list[str], run_mode: Any, **kw: Any) -> Any:
        seen.append(run_mode.name)
        return original(self, config_name, overrides, run_mode, **kw)

    monkeypatch.setattr(ConfigLoaderImpl, "load_configuration", counting)
    import hydra

    @hydra.main(config_path=str(Path(cli.__file__).parent / "conf"), config_name="config", version_base="1.3")
    def task(cfg: Any) -> None:
        return None

    cli._hydra(task, "evolve run", args)
    return seen


def test_a_run_composes_its_config_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert _composes(monkeypatch, [f"hydra.run.dir={tmp_path}"]) == ["RUN"]


def test_a_mode_override_is_read_from_the_composed_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Hydra composes once to learn the mode, then once per job of the sweep
    seen = _composes(monkeypatch, ["hydra.mode=MULTIRUN", f"hydra.sweep.dir={tmp_path}", "seed=1,2"])
    assert seen[0] == "MULTIRUN" and len(seen) >= 3


def test_the_mode_lookup_is_restored_after_the_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from hydra._internal.hydra import Hydra

    before = Hydra.get_mode
    _composes(monkeypatch, [f"hydra.run.dir={tmp_path}"])
    assert Hydra.get_mode is before
