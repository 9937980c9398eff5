from __future__ import annotations

import pytest
from hydra import compose, initialize_config_module
from hydra.errors import ConfigCompositionException

from evolve.config import register, validate
from evolve.errors import ConfigError

register()


def _compose(overrides: list[str]):  # type: ignore[no-untyped-def]
    with initialize_config_module("evolve.conf", version_base="1.3"):
        return compose("config", overrides=overrides)


def test_default_config_is_smtt_offline_evolution_local() -> None:
    cfg = _compose([])
    assert (cfg.problem.name, cfg.llm.name, cfg.search.name, cfg.evaluator.name) == (
        "smtt", "offline", "evolution", "local")
    validate(cfg)


def test_unknown_key_is_rejected_before_any_work() -> None:
    with pytest.raises(ConfigCompositionException, match="iteratons"):
        _compose(["search.iteratons=5"])


def test_value_of_wrong_type_is_rejected() -> None:
    with pytest.raises(ConfigCompositionException):
        _compose(["search.iterations=many"])


@pytest.mark.parametrize("override, key", [
    ("search.iterations=0", "search.iterations"),
    ("search.selection=best", "search.selection"),
    ("evaluator.workers=-1", "evaluator.workers"),
    ("search.exploration=1.5", "search.exploration"),
    ("evaluator.name=cloud", "evaluator.name"),
    ("search.restart=-0.1", "search.restart"),
    ("llm.max_steps=0", "llm.max_steps"),
    ("llm.client=curl", "llm.client"),
    ("evaluator.cpu_s=0", "evaluator.cpu_s"),
    ("evaluator.cpu_s=inf", "evaluator.cpu_s"),
    ("evaluator.split_wall_s=nan", "evaluator.split_wall_s"),
    ("evaluator.instance_wall_s=-1", "evaluator.instance_wall_s"),
])
def test_bad_values_name_the_key(override: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate(_compose([override]))


def test_the_sandbox_limits_refuse_an_endless_time_limit() -> None:
    """`evolve eval` builds its limits without `validate`: an infinite limit is a ConfigError there too,
    not a sandbox failure blamed on the program."""
    from evolve.runner import limits_from

    assert limits_from(_compose([])).cpu_s == 30.0
    with pytest.raises(ConfigError, match=r"evaluator\.cpu_s: must be a positive, finite"):
        limits_from(_compose(["evaluator.cpu_s=inf"]))


def test_baseline_search_options_exist() -> None:
    assert _compose(["search=random"]).search.name == "random"
    assert _compose(["search=sequential"]).search.islands == 1
