"""Structured configuration: one dataclass per config group, registered in Hydra's ConfigStore.

The YAML options of each group live in evolve/conf/<group>/ and extend these schemas, so an unknown key
or a value of the wrong type is rejected by Hydra before any work starts; `validate` checks the rest.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field

# NB: Hydra/OmegaConf need typing.Optional/List/Dict at runtime in structured configs; the
# `from __future__ import annotations` strings are resolved by OmegaConf against this module.
from typing import Any, Dict, List, Optional  # noqa: UP035

from hydra.core.config_store import ConfigStore

from evolve.errors import ConfigError


@dataclass
class ProblemConfig:
    """Which problem to solve: a registered name, or a plugin folder (`path`), with its options."""

    name: str = "smtt"
    path: Optional[str] = None  # noqa: UP045
    options: Dict[str, Any] = field(default_factory=dict)  # noqa: UP006


@dataclass
class ModelConfig:
    """One model of an ensemble."""

    model: str = ""
    weight: float = 1.0
    api_base: Optional[str] = None  # noqa: UP045
    api_key_env: Optional[str] = None  # noqa: UP045
    provider: Optional[str] = None  # noqa: UP045  (litellm | openai; default: the llm group's)


@dataclass
class LLMConfig:
    """How children are proposed: `offline` (AST mutation, no LLM) or an LLM provider."""

    name: str = "offline"
    provider: str = "offline"  # offline | litellm | openai
    model: Optional[str] = None  # noqa: UP045
    models: List[ModelConfig] = field(default_factory=list)  # noqa: UP006
    selection: str = "weighted"  # weighted | bandit
    api_base: Optional[str] = None  # noqa: UP045
    api_key_env: Optional[str] = None  # noqa: UP045
    temperature: float = 0.8
    max_tokens: int = 4096
    timeout_s: float = 120.0
    max_retries: int = 4
    client: str = "aiohttp"  # the OpenAI protocol's client: aiohttp (lean) | sdk (the openai SDK)
    max_concurrency: int = 4
    max_cost_usd: Optional[float] = None  # noqa: UP045
    max_tokens_total: Optional[int] = None  # noqa: UP045
    input_cost_per_mtok: Optional[float] = None  # noqa: UP045  (price for models litellm does not know)
    output_cost_per_mtok: Optional[float] = None  # noqa: UP045
    diff_prob: float = 0.6
    full_prob: float = 0.3
    crossover_prob: float = 0.1
    fix_retries: int = 1
    # offline mutator
    crossover_rate: float = 0.15
    max_steps: int = 3  # offline mutator: up to this many operator applications per child
    max_nodes: Optional[int] = None  # noqa: UP045  (offline mutator: no change grows a block past this)


@dataclass
class SearchConfig:
    """The search strategy and when to stop."""

    name: str = "evolution"  # evolution | random | sequential
    iterations: int = 1500  # evaluations (duplicates cost none and do not count)
    max_seconds: Optional[float] = 100.0  # noqa: UP045
    target_score: Optional[float] = None  # noqa: UP045
    stagnation: Optional[int] = None  # noqa: UP045  (stop after this many evaluations without improvement)
    islands: int = 2
    migration_interval: int = 100
    migration_rate: float = 0.1
    island_size: int = 200
    selection: str = "rank"  # rank | power_law | tournament | uniform
    exploration: float = 0.2
    elitism: float = 0.1
    restart: float = 0.3  # evolution: share of children mutated from the seed (the random baseline as an arm)
    arm_bandit: bool = False  # evolution: shift the arms' shares toward those whose children set new bests
    tournament_size: int = 4
    power_law_alpha: float = 1.0
    child_bonus: float = 1.0
    num_inspirations: int = 2
    feature_dims: List[str] = field(default_factory=lambda: ["code_length", "ast_nodes"])  # noqa: UP006
    feature_bins: int = 8
    #: evaluate each candidate on the quick split first, then train, in one process; false: train only
    cascade: bool = True
    cascade_threshold: Optional[float] = None  # noqa: UP045
    holdout_top_k: int = 3
    max_duplicate_streak: int = 200


@dataclass
class EvaluatorConfig:
    """Where and under which limits candidates run."""

    name: str = "local"  # local (threads) | loky (processes) | dask | ray; inline = local
    workers: int = 0  # 0 = all cores
    address: Optional[str] = None  # noqa: UP045
    split_wall_s: float = 20.0
    instance_wall_s: float = 5.0
    cpu_s: float = 30.0
    memory_mb: int = 2048
    fsize_mb: int = 16
    nofile: int = 64
    nproc: int = 64
    max_output_mb: int = 64
    disk_mb: int = 64  # the candidate's private /tmp
    netns: bool = True
    drop_uid: bool = True
    filesystem: bool = True  # empty root: the repo, problems, hold-out data and archive do not exist
    pidns: bool = True
    ipc: bool = True
    userns: bool = True  # when not root: namespaces through a user namespace
    audit: bool = True  # classify attempts (network, processes, files) as `forbidden`
    max_retries: int = 2


@dataclass
class ArchiveConfig:
    """Where the archive lives: a SQLAlchemy URL (default: SQLite in the run directory)."""

    url: Optional[str] = None  # noqa: UP045


@dataclass
class PromptsConfig:
    """Jinja2 templates; `dir` points at a folder of the user's own copies, read when a run starts."""

    dir: Optional[str] = None  # noqa: UP045


@dataclass
class Config:
    """The whole configuration of `evolve run`."""

    problem: ProblemConfig = field(default_factory=ProblemConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    evaluator: EvaluatorConfig = field(default_factory=EvaluatorConfig)
    archive: ArchiveConfig = field(default_factory=ArchiveConfig)
    prompts: PromptsConfig = field(default_factory=PromptsConfig)
    seed: int = 0
    resume: Optional[str] = None  # noqa: UP045
    quiet: bool = False


@dataclass
class EvalConfig(Config):
    """`evolve eval FILE`: score one program file."""

    file: str = ""
    split: str = "train"
    json: bool = False


def register() -> None:
    """Register the schemas; the YAML files in evolve/conf extend them."""
    cs = ConfigStore.instance()
    cs.store(name="base_config", node=Config)
    cs.store(name="base_eval", node=EvalConfig)
    cs.store(group="problem", name="base_problem", node=ProblemConfig)
    cs.store(group="llm", name="base_llm", node=LLMConfig)
    cs.store(group="search", name="base_search", node=SearchConfig)
    cs.store(group="evaluator", name="base_evaluator", node=EvaluatorConfig)


def check_limits(evaluator: Any) -> None:
    """The sandbox limits the configuration sets are numbers the sandbox can enforce (its own rule, with
    the key named): an infinite time limit failed inside the sandbox, blamed on the program, and a
    negative count lifted the rlimit it stands for."""
    from evaluators.sandbox import Limits, limit_error

    for f in dataclasses.fields(Limits):
        problem = limit_error(f.name, evaluator[f.name]) if f.name in evaluator else None
        if problem is not None:
            raise ConfigError(f"evaluator.{f.name}: {problem}")


def _finite_or_none(value: Any) -> bool:
    return value is None or math.isfinite(value)


def validate(cfg: Any) -> None:
    """Checks Hydra's typing cannot express; raises ConfigError naming the key and the fix."""
    s, e, llm = cfg.search, cfg.evaluator, cfg.llm

    def need(cond: bool, key: str, msg: str) -> None:
        if not cond:
            raise ConfigError(f"{key}: {msg}")

    need(s.name in ("evolution", "random", "sequential"), "search.name",
         f"unknown strategy {s.name!r}; use evolution, random or sequential")
    need(s.iterations >= 1, "search.iterations", "must be at least 1")
    need(s.max_seconds is None or s.max_seconds > 0, "search.max_seconds", "must be positive (or null)")
    need(s.islands >= 1, "search.islands", "must be at least 1")
    need(s.island_size >= 2, "search.island_size", "must be at least 2")
    need(0.0 <= s.exploration <= 1.0, "search.exploration", "must lie in [0, 1]")
    need(0.0 <= s.restart <= 1.0, "search.restart", "must lie in [0, 1]")
    need(llm.max_steps >= 1, "llm.max_steps", "must be at least 1")
    need(llm.max_nodes is None or llm.max_nodes >= 1, "llm.max_nodes", "must be at least 1 (or null)")
    need(0.0 <= s.migration_rate <= 1.0, "search.migration_rate", "must lie in [0, 1]")
    need(0.0 <= s.elitism <= 1.0, "search.elitism", "must lie in [0, 1]")
    need(s.tournament_size >= 1, "search.tournament_size", "must be at least 1")
    need(s.num_inspirations >= 0, "search.num_inspirations", "must be 0 or more")
    need(s.migration_interval >= 1, "search.migration_interval", "must be at least 1")
    need(s.max_duplicate_streak >= 1, "search.max_duplicate_streak", "must be at least 1")
    need(0 <= s.power_law_alpha < math.inf, "search.power_law_alpha", "must be a finite number, 0 or more")
    need(0 <= s.child_bonus < math.inf, "search.child_bonus", "must be a finite number, 0 or more")
    need(_finite_or_none(s.target_score), "search.target_score", "must be a finite number (or null)")
    need(_finite_or_none(s.cascade_threshold), "search.cascade_threshold", "must be a finite number (or null)")
    need(s.selection in ("rank", "power_law", "tournament", "uniform"), "search.selection",
         f"unknown selection {s.selection!r}; use rank, power_law, tournament or uniform")
    need(s.feature_bins >= 1, "search.feature_bins", "must be at least 1")
    need(s.cascade or s.cascade_threshold is None, "search.cascade_threshold",
         "gates the train split on the quick split's score, so it needs search.cascade=true")
    need(e.name in ("local", "loky", "dask", "ray", "inline"), "evaluator.name",
         f"unknown evaluator {e.name!r}; use local, loky, dask or ray")
    need(e.workers >= 0, "evaluator.workers", "must be 0 (all cores) or a positive number")
    need(e.memory_mb >= 128, "evaluator.memory_mb", "must be at least 128")
    need(e.max_retries >= 0, "evaluator.max_retries", "must be 0 or more")
    check_limits(e)
    need(llm.provider in ("offline", "litellm", "openai"), "llm.provider",
         f"unknown provider {llm.provider!r}; use offline, litellm or openai")
    need(llm.client in ("aiohttp", "sdk"), "llm.client", f"unknown client {llm.client!r}; use aiohttp or sdk")
    need(llm.selection in ("weighted", "bandit"), "llm.selection", "use weighted or bandit")
    need(llm.max_concurrency >= 1, "llm.max_concurrency", "must be at least 1")
    need(0 < llm.timeout_s < math.inf, "llm.timeout_s", "must be a positive, finite number of seconds")
    need(0 <= llm.temperature < math.inf, "llm.temperature", "must be a finite number, 0 or more")
    need(llm.max_tokens >= 1, "llm.max_tokens", "must be at least 1")
    need(llm.max_retries >= 0, "llm.max_retries", "must be 0 or more")
    need(llm.fix_retries >= 0, "llm.fix_retries", "must be 0 or more")
    need(0.0 <= llm.crossover_rate <= 1.0, "llm.crossover_rate", "must lie in [0, 1]")
    for key in ("max_cost_usd", "input_cost_per_mtok", "output_cost_per_mtok"):
        need(llm[key] is None or 0 <= llm[key] < math.inf, f"llm.{key}", "must be a finite number, 0 or more (or null)")
    need(all(0 <= p < math.inf for p in (llm.diff_prob, llm.full_prob, llm.crossover_prob))
         and llm.diff_prob + llm.full_prob + llm.crossover_prob > 0, "llm.diff_prob/full_prob/crossover_prob",
         "must be non-negative and not all zero")


def worker_count(cfg: Any) -> int:
    """evaluator.workers, with 0 meaning every core."""
    return int(cfg.evaluator.workers) or (os.cpu_count() or 1)
