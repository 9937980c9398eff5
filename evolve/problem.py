"""The problem plugin contract: what a problem gives the framework, and nothing more.

A problem never imports the loop, the LLM layer or the archive; it only imports this module.
Its `score` runs in the trusted parent on outputs that crossed the sandbox boundary.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluators.session import InvalidDecision, Session, StepLimits

SPLITS = ("quick", "train", "holdout")
#: the splits a program's results are shown on: `quick` is the cascade's cheap filter, not a result
RESULT_SPLITS = ("train", "holdout")


class InvalidOutput(InvalidDecision):
    """Raised by `Problem.score` when a candidate's output breaks the problem's rules (and by an interactive
    problem's `Session.step` for a decision that does)."""


@dataclass(frozen=True)
class Instance:
    """One problem instance: the inputs handed to the candidate and what the parent keeps to itself.

    `args` are the positional arguments of the entry function (numpy arrays are passed read-only);
    `meta` records how the instance was made (generator parameters, seed); `reference` is the objective
    value of the best available reference (its kind says whether it is an optimum, a best-known value,
    a lower bound or a hindsight oracle). `private` is data the scorer needs that the candidate must not
    see (e.g. the next load window in EPLB); it never crosses the boundary.
    """

    id: str
    args: tuple[Any, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)
    reference: float | None = None
    reference_kind: str | None = None
    private: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Harness:
    """How the sandbox child calls the entry function for this problem.

    `repeats` > 1 times the call (median) after `warmup` untimed calls, for problems that score speed;
    so does `warmup` > 0 with one repeat (the one call timed is then the first on the instance's inputs).
    `driver` is the file name (inside the problem package) of a trusted child-side module with a function
    `drive(entry, *args)` that calls the candidate and returns the output; the parent must be able to
    check the driver's output without trusting it (e.g. by replaying the decisions).
    `timeout_s` is the wall-clock budget for one instance, `split_timeout_s` for a whole split.
    """

    repeats: int = 1
    warmup: int = 0

    @property
    def timed(self) -> bool:
        """Whether call times are scored (reported, checked against the parent's clock, aggregated)."""
        return self.repeats > 1 or self.warmup > 0
    driver: str | None = None
    timeout_s: float = 2.0
    split_timeout_s: float = 20.0


class Problem(abc.ABC):
    """Base class of every problem plugin. Subclasses set `name`, `entry` and `package_dir`."""

    name: str = ""
    entry: str = ""
    #: folder holding initial.py, description.md (and baselines/, driver files)
    package_dir: Path = Path()
    harness: Harness = Harness()
    #: metrics shown (per split) in the final table, besides the score
    summary_metrics: tuple[str, ...] = ("score",)
    #: allowed top-level imports for candidates (told to the LLM; enforced as a pre-filter only)
    allowed_imports: tuple[str, ...] = ("math", "numpy", "itertools", "functools", "heapq", "collections",
                                        "random", "bisect")
    #: the seed program's file name inside package_dir
    seed_file: str = "initial.py"
    #: whether the problem has a hold-out split; without one, runs and reports say so instead of scoring it
    has_holdout: bool = True
    #: modules the sandbox child imports besides evaluators.sandbox.DEFAULT_PRELOAD (it has no other imports)
    sandbox_modules: tuple[str, ...] = ()

    #: why this problem's hold-out split cannot come from a run's secret (e.g. a published benchmark whose
    #: optima are known: a reference to compare with the literature, not a secret); None for a plugin that
    #: draws its hold-out instances from `holdout_seed` (docs/plugins.md, "A hold-out the candidate cannot know")
    public_holdout: str | None = None

    #: set for a problem whose instances are episodes played in the parent (`session`): the bounds of one
    #: step (call timeout, steps per episode, reply size); None: the entry function is called once per
    #: instance on `Instance.args`
    interactive: StepLimits | None = None

    # --- the hold-out's secret ----------------------------------------------------------------------
    def set_holdout_secret(self, secret: str | None) -> None:
        """Draw the hold-out instances from the run's `secret` from now on (a run makes one and keeps it in
        its archive row; it is never in a prompt and never crosses the sandbox boundary). Hold-out
        instances already built are forgotten: splits cached per name in a dict attribute, and the
        framework's own jobs."""
        self.__dict__["_holdout_secret"] = secret
        for value in list(self.__dict__.values()):
            if isinstance(value, dict):
                for key in [k for k, v in value.items() if (k == "holdout" and _built_instances(v))
                            or (isinstance(k, tuple) and k[:1] == ("holdout",))]:
                    del value[key]

    def holdout_seed(self, public: int) -> int:
        """The seed of the hold-out split: the plugin's public `public` seed mixed with the run's secret
        (a 32-bit integer), or `public` itself when no secret is set (tests, `evolve eval`)."""
        secret = self.__dict__.get("_holdout_secret")
        if not secret:
            return public
        digest = hashlib.sha256(f"evolve-holdout:{secret}:{public}".encode()).digest()
        return int.from_bytes(digest[:4], "big")

    # --- what the LLM and the seed population see -------------------------------------------------
    @property
    def initial_program(self) -> str:
        """The seed program's source (with EVOLVE-BLOCK markers)."""
        return (self.package_dir / self.seed_file).read_text(encoding="utf-8")

    @property
    def description(self) -> str:
        """The task statement shown to the LLM."""
        return (self.package_dir / "description.md").read_text(encoding="utf-8")

    # --- data ---------------------------------------------------------------------------------------
    @abc.abstractmethod
    def instances(self, split: str) -> Sequence[Instance]:
        """The instances of `split` (one of SPLITS), deterministic for a given problem configuration."""

    # --- trusted scoring ----------------------------------------------------------------------------
    @abc.abstractmethod
    def score(self, instance: Instance, output: Any) -> dict[str, float]:
        """Validate `output` exhaustively (raise InvalidOutput) and return per-instance metrics."""

    @abc.abstractmethod
    def aggregate(self, instances: Sequence[Instance], metrics: Sequence[Mapping[str, float]],
                  timings: Sequence[float] | None = None) -> dict[str, float]:
        """Combine per-instance metrics of one split into split metrics with a scalar `score`
        (higher is better). `timings` are per-instance call times in ms when the harness repeats calls."""

    # --- references ---------------------------------------------------------------------------------
    def baselines(self) -> dict[str, str]:
        """Named reference programs (source code) scored the same way as candidates."""
        folder = self.package_dir / "baselines"
        if not folder.is_dir():
            return {}
        return {p.stem: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.py"))
                if not p.name.startswith("_")}

    def driver_source(self) -> str | None:
        """Source of the child-side driver module, if the harness names one."""
        if self.harness.driver is None:
            return None
        return (self.package_dir / self.harness.driver).read_text(encoding="utf-8")

    # --- what the sandbox runs -----------------------------------------------------------------------
    @property
    def sandbox_entry(self) -> str:
        """The function the sandbox child calls with each instance's args (default: `entry`)."""
        return self.entry

    def sandbox_program(self, code: str, split: str) -> str:
        """The program the sandbox child runs for candidate `code` on `split` (default: the code itself).

        An adapter whose trusted child-side code must run around the candidate (an OpenEvolve evaluator
        that imports the candidate from a file) wraps it here, and names its own function `sandbox_entry`.
        Every split of one cascade must get the same program.
        """
        return code

    def evaluator_notes(self, instances: Sequence[Instance], outputs: Sequence[Any], stdout: str = "",
                        stderr: str = "") -> str:
        """Text about a scored split that the next prompt shows with the program (default: none), from its
        outputs and the captured stdout/stderr of the sandbox child.

        It comes from the candidate's side of the boundary, so it is shown, never scored."""
        return ""

    def session(self, instance: Instance) -> Session:
        """For an `interactive` problem: a fresh parent-side session that plays `instance` with the candidate
        (evaluators/session.py). It holds the trusted simulator; the candidate's process gets only each
        observation (the driver's `drive(entry, *observation)` calls the entry function) and answers a
        decision, which `step` validates (raise InvalidOutput) and applies. `Session.result()` is the
        instance's output handed to `score`. `Instance.args` are then the session's inputs, never sent."""
        raise NotImplementedError(f"{type(self).__name__} sets `interactive` but defines no `session`")

    def check_output(self, instance: Instance, output: Any) -> None:
        """Optional extra check of the driver's raw output before `score` (default: none)."""

    def reference_score(self, split: str) -> float | None:
        """The score the reference (optimum, best known, bound or oracle) reaches on `split`, if known;
        reports draw it as the limit line."""
        return None

    def feedback(self, instances: Sequence[Instance], metrics: Sequence[Mapping[str, float]]) -> str | None:
        """Optional: a few lines for the LLM on where a valid program loses (e.g. the gap per instance class),
        from the per-instance metrics of one split. Shown in the next mutation prompts of this program."""
        return None

    def describe_metrics(self) -> dict[str, str]:
        """Metric name -> one-line meaning, for reports (override to document problem metrics)."""
        return {"score": "higher is better"}


def options_from_mapping(cls: Any, options: Mapping[str, Any],
                         convert: Callable[[str, str, Any], Any] | None = None) -> Any:
    """A plugin's options dataclass `cls` from the mapping Hydra hands over: an unknown key, or a value
    `convert(key, field type, value)` refuses, is a ValueError naming `cls.problem_name` and the key.
    The default conversion follows the field's declared type: str, float, else int."""
    types = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    unknown = set(options) - set(types)
    if unknown:
        raise ValueError(f"unknown {cls.problem_name} option(s) {sorted(unknown)}; known: {sorted(types)}")
    kw: dict[str, Any] = {}
    for key, value in options.items():
        try:
            kw[key] = convert(key, types[key], value) if convert else \
                {"str": str, "float": float}.get(types[key], int)(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{cls.problem_name} option {key}={value!r}: {exc}") from None
    return cls(**kw)


def _built_instances(value: Any) -> bool:
    """Whether `value` is a split's built instances (a list or tuple of Instance), which a new secret voids;
    other things a plugin keys by split name (programs, settings) are kept."""
    return isinstance(value, (list, tuple)) and all(isinstance(v, Instance) for v in value)


def finite(value: float, default: float = 0.0) -> float:
    """`value` if it is a finite float, else `default` (metrics must stay JSON-serialisable)."""
    v = float(value)
    return v if math.isfinite(v) else default
