"""A resumed run's configuration: the stored one, changed only where the command names a key."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from evolve.config import register
from evolve.errors import ConfigError
from evolve.resume import resume_config

register()


def _compose(overrides: list[str]):  # type: ignore[no-untyped-def]
    with initialize_config_module("evolve.conf", version_base="1.3"):
        return compose("config", overrides=overrides)


STORED = OmegaConf.to_container(_compose(["search.iterations=300", "seed=7", "llm=openai_compatible",
                                          "llm.model=m1", "llm.api_base=http://x/v1", "search.max_seconds=null",
                                          "+problem.options.train_n=[30]"]), resolve=True)


def _resume(overrides: list[str]):  # type: ignore[no-untyped-def]
    return resume_config(_compose(overrides), STORED, overrides)  # type: ignore[arg-type]


def test_without_overrides_the_stored_configuration_comes_back_whole() -> None:
    r = _resume(["resume=/runs/x"])
    assert r.changes == () and r.raised == ()
    now = OmegaConf.to_container(r.cfg, resolve=True)
    assert {k: v for k, v in now.items() if k != "resume"} == {k: v for k, v in STORED.items() if k != "resume"}
    assert r.cfg.resume == "/runs/x"


def test_an_override_changes_only_the_key_it_names_and_says_so() -> None:
    r = _resume(["search.iterations=3000"])
    assert r.cfg.search.iterations == 3000 and r.cfg.search.max_seconds is None and r.cfg.seed == 7
    assert r.cfg.llm.model == "m1"
    assert r.changes == (("search.iterations", 300, 3000),) and r.raised == ("search.iterations",)
    assert r.describe() == ["search.iterations: 300 -> 3000"]


def test_a_group_override_replaces_the_whole_group() -> None:
    r = _resume(["llm=offline"])
    assert r.cfg.llm.name == "offline" and r.cfg.llm.model is None
    assert r.cfg.search.iterations == 300


def test_a_lower_budget_is_no_raise() -> None:
    assert _resume(["search.iterations=100"]).raised == ()
    assert _resume(["search.max_seconds=50"]).raised == ()  # stored: no limit


def test_the_problem_cannot_change() -> None:
    with pytest.raises(ConfigError, match=r"problem\.options\.train_n: a resumed run keeps its problem"):
        _resume(["+problem.options.train_n=[50]"])


def test_a_stored_key_this_version_lacks_is_reported_and_ignored() -> None:
    stored = {**STORED, "search": {**STORED["search"], "gone_setting": 1}}  # type: ignore[dict-item]
    r = resume_config(_compose([]), stored, [])
    assert r.dropped == ("search.gone_setting",)
    assert "search.gone_setting: stored, but no longer a setting (ignored)" in r.describe()


def test_an_offline_setting_stored_under_llm_by_an_older_version_keeps_its_value() -> None:
    stored = {k: v for k, v in STORED.items() if k != "offline"}  # type: ignore[union-attr]
    stored["llm"] = {**STORED["llm"], "max_steps": 2, "max_nodes": 150}  # type: ignore[dict-item]
    r = resume_config(_compose([]), stored, [])
    assert (r.cfg.offline.max_steps, r.cfg.offline.max_nodes) == (2, 150)
    assert r.dropped == () and r.changes == ()
