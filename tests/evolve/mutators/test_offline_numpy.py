"""The offline mutator on array-valued programs: children respect numpy semantics and bind every local.

Each test mutates a program many times with a fixed RNG, runs every child in-process on real inputs, and
counts the children that raise. A child of a valid program may still be worse, or invalid (a NaN), but it
must not crash on `max()`/`abs()`/`if` around an array or on a local read before it is assigned.
"""

from __future__ import annotations

import random
import signal
import warnings
from collections import Counter
from typing import Any

import numpy as np
import pytest

from evolve.mutators.offline import OfflineMutator
from problems.binpack import make
from problems.binpack.driver import drive

LOCALS_SEED = '''import numpy as np


# EVOLVE-BLOCK-START
def priority(item: float, bins: np.ndarray) -> np.ndarray:
    """A best-fit variant with named intermediate values."""
    remaining = bins - item
    tight = remaining < 10
    score = -remaining.astype(float)
    score = score - 5.0 * tight
    return score
# EVOLVE-BLOCK-END
'''

UNANNOTATED_SEED = '''import numpy as np


# EVOLVE-BLOCK-START
def priority(item, bins):
    gaps = bins - item
    return -gaps * np.ones(len(bins))
# EVOLVE-BLOCK-END
'''

SCALAR_SEED = '''import math


# EVOLVE-BLOCK-START
def priority(p, d, t):
    slack = d - t - p
    late = max(slack, 0)
    if late > 3:
        bonus = late * 0.5
    else:
        bonus = 1.0
    total = bonus + p
    for k in range(2):
        total = total + k
    return total
# EVOLVE-BLOCK-END
'''


def _crash_kinds(code: str, calls: list[tuple[Any, ...]], packing: bool) -> str | None:
    """The exception type a child raises on `calls` (None when it runs)."""
    namespace: dict[str, Any] = {"__name__": "candidate"}
    try:
        exec(compile(code, "candidate.py", "exec"), namespace)
        fn = namespace["priority"]
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            for args in calls:
                if packing:
                    drive(fn, *args)
                else:
                    fn(*args)
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc)[:60]}"
    return None


def _lineages(seed: str, n: int, depth: int, rng: random.Random) -> list[str]:
    """`n` children, each the last of a chain of `depth` mutations from `seed` (programs grow as in a run)."""
    mutator, out = OfflineMutator(), []
    for _ in range(n):
        code = seed
        for _ in range(depth):
            child = mutator.mutate(code, [seed], rng)
            if child.code is None:
                break
            code = child.code
        out.append(code)
    return out


@pytest.mark.parametrize(("seed", "depth"), [(make().initial_program, 4), (LOCALS_SEED, 4), (UNANNOTATED_SEED, 1)],
                         ids=["binpack-seed", "locals", "unannotated"])
def test_children_of_array_programs_do_not_crash(seed: str, depth: int) -> None:
    """Annotated arrays stay known down a lineage; an unannotated one is known from its use (`len(bins)`)
    only while that use survives, so its test looks at one generation."""
    instance = make({"quick_n": 40}).instances("quick")[0]
    children = _lineages(seed, 150, depth, random.Random(0))
    crashes = Counter(k for k in (_crash_kinds(c, [instance.args], packing=True) for c in children) if k)
    assert sum(crashes.values()) <= 2, crashes.most_common(5)  # a scalar division by zero is possible


def test_children_of_scalar_programs_never_read_an_unbound_local() -> None:
    calls = [(p, d, t) for p in (1, 7, 30) for d in (0, 5, 90) for t in (0, 4, 50)]
    children = _lineages(SCALAR_SEED, 200, 4, random.Random(1))
    crashes = Counter(k for k in (_crash_kinds(c, calls, packing=False) for c in children) if k)
    unbound = {k: v for k, v in crashes.items() if "Unbound" in k or "NameError" in k}
    assert not unbound, unbound


def test_scalar_programs_keep_the_builtin_max_and_min() -> None:
    """np.maximum on two Python numbers costs ~1 µs against ~0.1 µs: scalar rules stay on the builtins."""
    children = _lineages(SCALAR_SEED, 100, 3, random.Random(2))
    assert not any("np.maximum" in c or "np.minimum" in c or "np.abs" in c for c in children)
    assert any("max(" in c.replace("max(slack, 0)", "") or "min(" in c for c in children)


def test_array_programs_get_numpy_elementwise_functions() -> None:
    children = _lineages(LOCALS_SEED, 100, 3, random.Random(3))
    assert any("np.maximum" in c or "np.minimum" in c or "np.abs" in c for c in children)


def test_containers_and_strings_are_not_used_as_numbers() -> None:
    """txn's seed keeps dicts, lists, tuples and strings in locals: arithmetic on them only crashes."""
    from evolve.plugins import load_problem

    def stop(signum: int, frame: object) -> None:
        raise TimeoutError("the child ran for more than 2 s")

    signal.signal(signal.SIGALRM, stop)
    problem = load_problem("txn")
    instance = problem.instances("quick")[0]
    code0, rng, mutator = problem.initial_program, random.Random(4), OfflineMutator()
    crashed = 0
    for _ in range(60):
        code = code0
        for _ in range(rng.randint(1, 3)):
            code = mutator.mutate(code, [code0], rng).code or code
        namespace: dict[str, Any] = {"__name__": "candidate"}
        signal.setitimer(signal.ITIMER_REAL, 2.0)  # a child that loops forever counts as crashed
        try:
            exec(compile(code, "candidate.py", "exec"), namespace)
            problem.score(instance, namespace["schedule"](*instance.args))
        except Exception:
            crashed += 1
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    assert crashed <= 24, f"{crashed} of 60 children crashed or were invalid"  # ~49 before numbers-only sites


def test_later_steps_of_a_child_remember_the_parents_arrays() -> None:
    """A step that drops `len(bins)` (what showed `bins` to be an array) must not let the next step put
    max()/min()/abs() or an `if` around it."""
    instance = make({"quick_n": 40}).instances("quick")[0]
    mutator, rng = OfflineMutator(max_steps=4, step_prob=1.0), random.Random(0)
    children = [mutator.mutate(UNANNOTATED_SEED, [], rng).code for _ in range(200)]
    crashes = Counter(k for k in (_crash_kinds(c, [instance.args], packing=True) for c in children if c) if k)
    truth = {k: v for k, v in crashes.items() if "truth value" in k}
    assert not truth, truth
