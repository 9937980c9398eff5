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
from omegaconf import OmegaConf

from evolve.errors import ConfigError
from evolve.search.strategy import find_strategy, strategy_names


@dataclass
class ProblemConfig:
    """Which problem to solve: a registered name, or a plugin folder (`path`), with its options."""

    name: str = "smtt"
    path: Optional[str] = None  # noqa: UP045
    openevolve: Optional[str] = None  # noqa: UP045  (a folder in OpenEvolve's format: docs/openevolve.md)
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
    provider: str = "offline"  # offline | an LLM provider (evolve/llm/providers.py): litellm | openai
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
    num_ctx: Optional[int] = None  # noqa: UP045  (Ollama's context size in tokens; llm=ollama sets it)
    max_concurrency: int = 4
    max_cost_usd: Optional[float] = None  # noqa: UP045
    max_tokens_total: Optional[int] = None  # noqa: UP045
    input_cost_per_mtok: Optional[float] = None  # noqa: UP045  (price for models litellm does not know)
    output_cost_per_mtok: Optional[float] = None  # noqa: UP045
    diff_prob: float = 0.6
    full_prob: float = 0.3
    crossover_prob: float = 0.1
    fix_retries: int = 1
    #: share of proposals that hand a recent child that crashed, timed out or was invalid back to a model,
    #: with its edit and its error, to fix (the fixed program is that child's child)
    fix_rate: float = 0.1
    prompt_history: int = 5  # the parent's latest children shown in its prompts (their ideas and outcomes)
    #: a mutation prompt's size limit in tokens (about 4 characters each); the oldest history goes first,
    #: then inspirations, then recent failures
    prompt_max_tokens: int = 12000


@dataclass
class OfflineConfig:
    """The offline mutator's settings (`llm=offline`: AST mutation, no LLM)."""

    crossover_rate: float = 0.15  # share of operator draws that splice from an inspiration, when there is one
    max_steps: int = 3  # up to this many operator applications per child
    max_nodes: Optional[int] = None  # noqa: UP045  (no change grows a block past this many AST nodes)


#: settings that moved, old key -> new key: the CLI and a resumed run's stored configuration accept the old
MOVED_KEYS = {f"llm.{key}": f"offline.{key}" for key in ("crossover_rate", "max_steps", "max_nodes")}


@dataclass
class SearchConfig:
    """The search strategy and when to stop."""

    name: str = "evolution"  # a registered strategy (evolve/search/strategy.py): evolution, random, sequential, ...
    iterations: int = 1500  # evaluations (duplicates cost none and do not count)
    #: a time cap in seconds; unset (null): 100 with llm=offline (the demo), none with an LLM, whose runs
    #: iterations and llm.max_cost_usd bound (a cap would cancel calls already paid for); 0: no cap
    max_seconds: Optional[float] = None  # noqa: UP045
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
    #: settings of a strategy that the keys above do not cover (its config file sets them)
    params: Dict[str, Any] = field(default_factory=dict)  # noqa: UP006
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
    #: at the end, also score up to this many of the run's successive best programs on hold-out (the
    #: report's hold-out over time); 0: only the top k and the seed
    holdout_history: int = 8
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
    seccomp: bool = True  # the syscall filter: no processes, namespaces, mounts, sockets (docs/sandbox.md)
    cgroup: bool = True  # one memory and task budget per candidate, where a cgroup can be made (root)
    pin_cpu: bool = True  # a worker's candidates, zygote and thread share one CPU (cheaper round trips)
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
    offline: OfflineConfig = field(default_factory=OfflineConfig)
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
    if evaluator.get("name", "local") in MACHINE_EVALUATORS:  # a cluster's workers have limits of their own
        _check_machine(evaluator)


#: local workers per core beyond which a configuration is refused: each worker keeps a sandbox zygote and
#: runs one candidate process at a time, so more than a few per core only queue on the CPU
WORKERS_PER_CORE = 4
#: evaluators whose workers are processes or threads of this machine
MACHINE_EVALUATORS = ("local", "inline", "loky")


#: memory limits up to this many MB are accepted on any machine, so the defaults hold on small ones
MEMORY_FLOOR_MB = 4096


def machine_limits() -> dict[str, int]:
    """The most the sandbox can give a candidate on this machine: per-candidate limits above these are
    clamped by the kernel (open files, processes) or can never bind (memory and the tmpfs /tmp beyond the
    machine's memory and swap)."""
    import resource

    memory_mb = (os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") >> 20) + _swap_mb()
    out = {"memory_mb": max(MEMORY_FLOOR_MB, memory_mb), "disk_mb": max(MEMORY_FLOOR_MB, memory_mb)}
    for key, which in (("nofile", resource.RLIMIT_NOFILE), ("nproc", resource.RLIMIT_NPROC)):
        hard = resource.getrlimit(which)[1]
        if hard != resource.RLIM_INFINITY:
            out[key] = hard
    return out


def _swap_mb() -> int:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("SwapTotal:"):
                    return int(line.split()[1]) >> 10
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _check_workers(e: Any) -> None:
    cores = os.cpu_count() or 1
    if e.name in MACHINE_EVALUATORS and e.workers > WORKERS_PER_CORE * cores:
        raise ConfigError(f"evaluator.workers={e.workers}: more than {WORKERS_PER_CORE} per core on this machine "
                          f"({cores} cores, so at most {WORKERS_PER_CORE * cores}); each worker runs a sandbox of "
                          "its own: use fewer, or evaluator=dask|ray to spread them over a cluster")


def _check_machine(e: Any) -> None:
    for key, most in machine_limits().items():
        value = e[key]
        if value > most:
            what = {"memory_mb": "this machine's memory and swap",
                    "disk_mb": "this machine's memory and swap (/tmp is a tmpfs)",
                    "nofile": "the open-file limit this process may grant",
                    "nproc": "the process limit this process may grant"}[key]
            unit = " MB" if key.endswith("_mb") else ""
            raise ConfigError(f"evaluator.{key}={value}: more than {what} ({most}{unit}); the sandbox cannot enforce "
                              f"it: use at most {most}")


def _unknown_keys(node: Any, schema: type, prefix: str) -> None:
    """Keys that `+key=…` added to a schema'd section: Hydra accepts them, nothing would read them."""
    import difflib

    from omegaconf import DictConfig, ListConfig

    known = _sections(schema)
    for key in node:
        path = f"{prefix}{key}"
        if key not in known:
            near = difflib.get_close_matches(path, [prefix + k for k in known], n=1, cutoff=0.6) or \
                difflib.get_close_matches(path, _all_keys(Config), n=1, cutoff=0.75)
            hint = f"; did you mean {near[0]}?" if near else "; `evolve run --help` lists the settings"
            raise ConfigError(f"{path}: no such setting{hint} (a `+` adds keys only inside problem.options)")
        sub = known[key]
        value = node[key]
        if sub is not None and isinstance(value, DictConfig):
            _unknown_keys(value, sub, path + ".")
        elif sub is not None and isinstance(value, ListConfig):
            for i, item in enumerate(value):
                if isinstance(item, DictConfig):
                    _unknown_keys(item, sub, f"{path}[{i}].")


def _sections(schema: type) -> dict[str, type | None]:
    """Each field of a config dataclass, with the dataclass it (or each item of its list) holds, if any."""
    import typing

    out: dict[str, type | None] = {}
    for name, ann in typing.get_type_hints(schema).items():
        out[name] = next((t for t in (ann, *typing.get_args(ann))
                          if isinstance(t, type) and dataclasses.is_dataclass(t)), None)
    return out


def _all_keys(schema: type, prefix: str = "") -> list[str]:
    keys = []
    for name, sub in _sections(schema).items():
        keys.append(prefix + name)
        if sub is not None:
            keys.extend(_all_keys(sub, f"{prefix}{name}."))
    return keys


def _finite_or_none(value: Any) -> bool:
    return value is None or math.isfinite(value)


def validate(cfg: Any) -> None:
    """Checks Hydra's typing cannot express; raises ConfigError naming the key and the fix."""
    from evolve.mutators.registry import mutator_names

    s, e, llm = cfg.search, cfg.evaluator, cfg.llm

    def need(cond: bool, key: str, msg: str) -> None:
        if not cond:
            raise ConfigError(f"{key}: {msg}")

    root = OmegaConf.get_type(cfg)
    _unknown_keys(cfg, root if isinstance(root, type) and dataclasses.is_dataclass(root) else Config, "")
    need(cfg.seed >= 0, "seed", f"must be 0 or more, not {cfg.seed}")

    need(find_strategy(s.name) is not None, "search.name",
         f"unknown strategy {s.name!r}; use one of {', '.join(strategy_names())}, "
         f"or add evolve/search/{s.name}.py (docs/extending.md)")
    need(s.iterations >= 1, "search.iterations", "must be at least 1")
    need(s.max_seconds is None or 0 <= s.max_seconds < math.inf, "search.max_seconds",
         "must be a number of seconds, 0 for no time cap, or null (100 s offline, no cap with an LLM)")
    need(s.islands >= 1, "search.islands", "must be at least 1")
    need(s.island_size >= 2, "search.island_size", "must be at least 2")
    need(0.0 <= s.exploration <= 1.0, "search.exploration", "must lie in [0, 1]")
    need(0.0 <= s.restart <= 1.0, "search.restart", "must lie in [0, 1]")
    off = cfg.offline
    need(off.max_steps >= 1, "offline.max_steps", "must be at least 1")
    need(off.max_nodes is None or off.max_nodes >= 1, "offline.max_nodes", "must be at least 1 (or null)")
    need(0.0 <= off.crossover_rate <= 1.0, "offline.crossover_rate", "must lie in [0, 1]")
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
    need(s.holdout_history >= 0, "search.holdout_history", "must be 0 or more")
    need(s.cascade or s.cascade_threshold is None, "search.cascade_threshold",
         "gates the train split on the quick split's score, so it needs search.cascade=true")
    need(e.name in ("local", "loky", "dask", "ray", "inline"), "evaluator.name",
         f"unknown evaluator {e.name!r}; use local, loky, dask or ray")
    need(e.workers >= 0, "evaluator.workers", "must be 0 (all cores) or a positive number")
    need(e.memory_mb >= 128, "evaluator.memory_mb", "must be at least 128")
    need(e.max_retries >= 0, "evaluator.max_retries", "must be 0 or more")
    check_limits(e)
    _check_workers(e)
    kinds = mutator_names()
    need(llm.provider in kinds, "llm.provider", f"unknown provider {llm.provider!r}; use {', '.join(kinds)}")
    need(llm.client in ("aiohttp", "sdk"), "llm.client", f"unknown client {llm.client!r}; use aiohttp or sdk")
    need(llm.selection in ("weighted", "bandit"), "llm.selection", "use weighted or bandit")
    need(llm.max_concurrency >= 1, "llm.max_concurrency", "must be at least 1")
    need(0 < llm.timeout_s < math.inf, "llm.timeout_s", "must be a positive, finite number of seconds")
    need(0 <= llm.temperature < math.inf, "llm.temperature", "must be a finite number, 0 or more")
    need(llm.max_tokens >= 1, "llm.max_tokens", "must be at least 1")
    need(llm.num_ctx is None or llm.num_ctx > llm.max_tokens, "llm.num_ctx",
         f"must hold the prompt and the reply: more than llm.max_tokens={llm.max_tokens} (or null)")
    need(llm.max_retries >= 0, "llm.max_retries", "must be 0 or more")
    need(llm.fix_retries >= 0, "llm.fix_retries", "must be 0 or more")
    need(0.0 <= llm.fix_rate <= 1.0, "llm.fix_rate", "must lie in [0, 1]")
    need(llm.prompt_history >= 0, "llm.prompt_history", "must be 0 or more")
    need(llm.prompt_max_tokens >= 1000, "llm.prompt_max_tokens", "must be at least 1000")
    for key in ("max_cost_usd", "input_cost_per_mtok", "output_cost_per_mtok"):
        need(llm[key] is None or 0 <= llm[key] < math.inf, f"llm.{key}", "must be a finite number, 0 or more (or null)")
    need(all(0 <= p < math.inf for p in (llm.diff_prob, llm.full_prob, llm.crossover_prob))
         and llm.diff_prob + llm.full_prob + llm.crossover_prob > 0, "llm.diff_prob/full_prob/crossover_prob",
         "must be non-negative and not all zero")


def worker_count(cfg: Any) -> int:
    """evaluator.workers, with 0 meaning every core."""
    return int(cfg.evaluator.workers) or (os.cpu_count() or 1)


def plain(node: Any, resolve: bool = False) -> dict[str, Any]:
    """A mapping of the configuration as a plain dict: what the archive stores and problems and workers take."""
    value = OmegaConf.to_container(node, resolve=resolve)
    if not isinstance(value, dict):
        raise ConfigError(f"expected a mapping in the configuration, got {value!r}")
    return {str(k): v for k, v in value.items()}
