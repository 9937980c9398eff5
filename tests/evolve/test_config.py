from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

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
    ("offline.max_steps=0", "offline.max_steps"),
    ("offline.max_nodes=0", "offline.max_nodes"),
    ("llm.client=curl", "llm.client"),
    ("evaluator.cpu_s=0", "evaluator.cpu_s"),
    ("evaluator.cpu_s=inf", "evaluator.cpu_s"),
    ("evaluator.split_wall_s=nan", "evaluator.split_wall_s"),
    ("evaluator.instance_wall_s=-1", "evaluator.instance_wall_s"),
    ("evaluator.fsize_mb=-1", "evaluator.fsize_mb"),
    ("evaluator.nofile=-1", "evaluator.nofile"),
    ("evaluator.nproc=-1", "evaluator.nproc"),
    ("evaluator.max_output_mb=-1", "evaluator.max_output_mb"),
    ("evaluator.disk_mb=-1", "evaluator.disk_mb"),
    ("evaluator.max_retries=-1", "evaluator.max_retries"),
    ("search.tournament_size=0", "search.tournament_size"),
    ("search.migration_interval=0", "search.migration_interval"),
    ("search.max_duplicate_streak=0", "search.max_duplicate_streak"),
    ("search.elitism=2", "search.elitism"),
    ("search.num_inspirations=-1", "search.num_inspirations"),
    ("search.power_law_alpha=nan", "search.power_law_alpha"),
    ("search.child_bonus=inf", "search.child_bonus"),
    ("search.target_score=nan", "search.target_score"),
    ("llm.timeout_s=0", "llm.timeout_s"),
    ("llm.temperature=nan", "llm.temperature"),
    ("llm.max_tokens=0", "llm.max_tokens"),
    ("llm.max_retries=-1", "llm.max_retries"),
    ("llm.fix_retries=-1", "llm.fix_retries"),
    ("offline.crossover_rate=2", "offline.crossover_rate"),
    ("llm.max_cost_usd=nan", "llm.max_cost_usd"),
    ("llm.input_cost_per_mtok=-1", "llm.input_cost_per_mtok"),
    ("llm.full_prob=nan", "llm.diff_prob/full_prob/crossover_prob"),
    ("seed=-1", "seed"),
    ("evaluator.workers=100000", "evaluator.workers"),
    ("evaluator.nofile=1000000000", "evaluator.nofile"),
    ("evaluator.memory_mb=1000000000", "evaluator.memory_mb"),
    ("evaluator.disk_mb=1000000000", "evaluator.disk_mb"),
])
def test_bad_values_name_the_key(override: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate(_compose([override]))


@pytest.mark.parametrize("override", ["search.max_seconds=null", "search.target_score=null", "llm.max_cost_usd=0",
                                      "evaluator.nofile=0", "search.num_inspirations=0"])
def test_edge_values_that_mean_something_are_accepted(override: str) -> None:
    cfg = _compose([override])
    validate(cfg)  # a refused value raises ConfigError
    key, value = override.split("=")
    assert OmegaConf.select(cfg, key) == (None if value == "null" else float(value))


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


def test_more_local_workers_than_the_machine_can_run_is_refused_but_a_cluster_may_have_them() -> None:
    with pytest.raises(ConfigError, match=r"evaluator\.workers=100000: more than 4 per core .* evaluator=dask\|ray"):
        validate(_compose(["evaluator.workers=100000"]))
    validate(_compose(["evaluator=dask", "evaluator.workers=100000"]))


def test_a_process_limit_above_what_this_process_may_grant_is_refused() -> None:
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no hard process limit on this machine")
    with pytest.raises(ConfigError, match=rf"evaluator\.nproc={hard + 1}: .*use at most {hard}"):
        validate(_compose([f"evaluator.nproc={hard + 1}"]))


@pytest.mark.parametrize("override, near", [("+search.iteration=5", "search.iterations"),
                                            ("+evaluator.worker=2", "evaluator.workers"),
                                            ("+llm.modle=gpt", "llm.model"),
                                            ("+seeds=3", "seed")])
def test_an_added_unknown_key_is_an_error_naming_the_closest_key(override: str, near: str) -> None:
    key = override[1:].split("=")[0]
    with pytest.raises(ConfigError, match=rf"^{key}: no such setting; did you mean {near}\?"):
        validate(_compose([override]))


def test_an_added_key_with_nothing_close_says_where_the_settings_are_listed() -> None:
    with pytest.raises(ConfigError, match=r"^zzz: no such setting; `evolve run --help` lists the settings"):
        validate(_compose(["+zzz=1"]))


def test_problem_options_take_added_keys() -> None:
    cfg = _compose(["+problem.options.train_n=[30]"])
    validate(cfg)  # a refused key raises ConfigError
    assert list(cfg.problem.options.train_n) == [30]


def test_an_llm_run_has_no_time_cap_by_default_and_the_offline_demo_keeps_100_s() -> None:
    from evolve.llm.mutator import LLMMutator
    from evolve.loop import max_seconds
    from evolve.mutators.offline import OfflineMutator

    offline, llm = OfflineMutator.default_max_seconds, LLMMutator.default_max_seconds
    assert max_seconds(None, offline) == 100.0
    assert max_seconds(None, llm) is None
    assert max_seconds(30.0, llm) == 30.0 and max_seconds(0.0, offline) is None


def test_run_help_says_how_the_time_cap_depends_on_the_llm(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "evolve.cli", "run", "--help"], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path).stdout
    assert "no time cap) with an LLM" in " ".join(out.split())


@pytest.mark.parametrize("value", ["inf", "-1"])
def test_a_time_cap_that_cannot_be_stored_is_refused_with_the_way_to_lift_it(value: str) -> None:
    with pytest.raises(ConfigError, match=r"search\.max_seconds: .*0 for no time cap"):
        validate(_compose([f"search.max_seconds={value}"]))
