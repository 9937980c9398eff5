"""Seed and baselines through the real sandbox with the driver; hostile schedulers that try to read the
trace's future (output lengths, later arrivals), tamper with their view or return bad decisions fail."""

from __future__ import annotations

import pytest

from evaluators.sandbox import Limits, Sandbox
from evolve.evaluation import evaluate
from problems.llm_serving import make

#: each reads the engine (whose `_out` holds every output length) by another route to the driver's frame
PEEKERS = {
    "getframe": '''
import sys
def schedule(view):
    out = sys._getframe(1).f_locals["engine"].out
    return {r.rid: (r.prefill_left or 1) for r in view.running + view.waiting[:1]}
''',
    "traceback": '''
def schedule(view):
    try:
        raise ValueError
    except ValueError as exc:
        frame = exc.__traceback__.tb_frame.f_back
    return {r.rid: (r.prefill_left or 1) for r in view.running + view.waiting[:1]}
''',
    "generator": '''
def schedule(view):
    def gen():
        yield 1
    g = gen()
    next(g)
    frame = g.gi_frame
    return {r.rid: (r.prefill_left or 1) for r in view.running + view.waiting[:1]}
''',
    "settrace": '''
import sys
SEEN = []
def schedule(view):
    sys.settrace(lambda frame, event, arg: SEEN.append(frame.f_back))
    return {r.rid: (r.prefill_left or 1) for r in view.running + view.waiting[:1]}
''',
    "signal": '''
import signal
SEEN = []
def schedule(view):
    signal.signal(signal.SIGPROF, lambda signum, frame: SEEN.append(frame.f_back))
    signal.setitimer(signal.ITIMER_PROF, 0.0001, 0.0001)
    return {r.rid: (r.prefill_left or 1) for r in view.running + view.waiting[:1]}
''',
    # rebuilds the signal module past the driver's hook: the candidate's thread is not the main one
    "builtin_signal": '''
import _imp
import importlib.machinery
SEEN = []
def schedule(view):
    sig = _imp.create_builtin(importlib.machinery.ModuleSpec("_signal", None, origin="built-in"))
    sig.signal(27, lambda signum, frame: SEEN.append(frame.f_back))   # SIGPROF
    sig.setitimer(2, 0.0001, 0.0001)
    return {r.rid: (r.prefill_left or 1) for r in view.running + view.waiting[:1]}
''',
    "at_load": '''
import sys
HARNESS = sys._getframe(1)   # the harness's frame holds every instance's inputs
def schedule(view):
    return {r.rid: (r.prefill_left or 1) for r in view.running + view.waiting[:1]}
''',
}

#: patches the builtins the engine would use; any value it sees is a leak, answered with an illegal decision
BUILTIN_SPY = '''
import builtins
SEEN = []
_orig = {name: getattr(builtins, name) for name in ("float", "int", "max", "min", "len", "range", "list")}

def _spy(name):
    real = _orig[name]
    def wrapper(*args, **kw):
        SEEN.append(args)
        return real(*args, **kw)
    return wrapper

def schedule(view):
    for name in _orig:
        setattr(builtins, name, _spy(name))
    if SEEN:
        return {10 ** 6: 1}
    return {r.rid: (r.prefill_left or 1) for r in view.running + view.waiting[:1]}
'''

#: looks for the driver's classes among all classes, to patch code the engine runs with itself as argument
SUBCLASS_PATCHER = '''
import types
FOUND = []

def _walk(cls, seen):
    for sub in type.__subclasses__(cls):
        if sub not in seen:
            seen.add(sub)
            yield sub
            yield from _walk(sub, seen)

def schedule(view):
    if not FOUND:
        for cls in _walk(object, set()):
            if getattr(cls, "__module__", "") == "evolve_driver":
                FOUND.append(cls.__name__)
                for name, value in list(vars(cls).items()):
                    if isinstance(value, (types.FunctionType, property, classmethod, staticmethod)):
                        FOUND.append(f"{cls.__name__}.{name}")
    if any("." in f for f in FOUND):   # code of the driver within reach: answer with a rule break that names it
        return {10 ** 6 + len(FOUND): 1}
    return {r.rid: (r.prefill_left or 1) for r in view.running + view.waiting[:1]}
'''

#: its own view says there is room for everything: the snapshot is not the engine
TAMPERER = '''
def schedule(view):
    view.free_blocks = 10 ** 9
    for r in view.waiting:
        r.prefill_left = 10 ** 6
    return {r.rid: r.prefill_left for r in view.waiting}
'''

FUTURE = '''
def schedule(view):
    known = [r.rid for r in view.waiting + view.running + view.swapped]
    return {max(known) + 1: 1}
'''

WRONG_TYPE = '''
def schedule(view):
    return [r.rid for r in view.waiting]
'''


@pytest.fixture(scope="module")
def problem():
    return make({"quick_n": 8, "train_n": 8, "holdout_n": 8})


@pytest.mark.slow
def test_seed_and_baselines_are_valid_and_sarathi_beats_vllm(problem) -> None:
    programs = {"seed": problem.initial_program, **problem.baselines()}
    with Sandbox() as sandbox:
        outcomes = {name: evaluate(problem, sandbox, code, ["train"], Limits()) for name, code in programs.items()}
    for name, outcome in outcomes.items():
        assert outcome.status == "ok", (name, outcome.error)
    assert outcomes["sarathi_chunked"].score > outcomes["vllm_fcfs"].score
    assert outcomes["seed"].score == outcomes["vllm_fcfs"].score


@pytest.mark.slow
def test_schedulers_that_reach_for_the_trace_future_or_break_rules_are_refused(problem) -> None:
    programs = {**{f"peek-{k}": v for k, v in PEEKERS.items()}, "spy": BUILTIN_SPY, "subclasses": SUBCLASS_PATCHER, "tamper": TAMPERER,
                "future": FUTURE, "wrong-type": WRONG_TYPE}
    with Sandbox() as sandbox:
        outcomes = {name: evaluate(problem, sandbox, code, ["quick"], Limits()) for name, code in programs.items()}
    for name, outcome in outcomes.items():
        assert name in ("spy", "subclasses") or outcome.status != "ok", (name, outcome.metrics)
    assert "main thread" in (outcomes["peek-builtin_signal"].error or ""), outcomes["peek-builtin_signal"].error
    for name in PEEKERS:
        if name not in ("at_load", "builtin_signal"):
            assert "frames is not allowed" in (outcomes[f"peek-{name}"].error or ""), outcomes[f"peek-{name}"].error
    assert outcomes["peek-at_load"].status == "crash"
    assert "not on the server" in (outcomes["future"].error or "")
    assert outcomes["spy"].status == "ok", outcomes["spy"].error  # the engine never called a patched builtin
    # no class of the driver carries code (the engine is a namespace and plain functions)
    assert outcomes["subclasses"].status == "ok", outcomes["subclasses"].error
