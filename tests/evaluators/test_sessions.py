"""Interactive episodes: the parent plays each episode, the candidate's process answers observations."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
from sandbox_helpers import FAST

from evaluators.sandbox import Job, Sandbox
from evaluators.session import Interactive, InvalidDecision, StepLimits


class Countdown:
    """A toy episode: `steps` observations (t, secret future withheld); the decision is an int added up."""

    def __init__(self, steps: int, future: list[int]) -> None:
        self.steps, self.future, self.t, self.total, self.seen = steps, future, 0, 0, []

    def begin(self) -> tuple[Any, ...]:
        return (self.t, self.steps)

    def step(self, decision: Any) -> tuple[Any, ...] | None:
        if isinstance(decision, bool) or not isinstance(decision, int):
            raise InvalidDecision(f"return an int, not {type(decision).__name__}")
        self.seen.append(decision)
        self.total += decision * self.future[self.t]
        self.t += 1
        return None if self.t >= self.steps else (self.t, self.steps)

    def result(self) -> Any:
        return {"total": self.total, "decisions": self.seen}


def job(code: str, n: int = 2, steps: int = 5, **limits: Any) -> tuple[Job, list[Countdown]]:
    opened: list[Countdown] = []

    def open_(i: int) -> Countdown:
        opened.append(Countdown(steps if steps > 0 else 1 << 30, [10 + i] * max(steps, 1000)))
        return opened[-1]

    spec = Interactive(open_, StepLimits(**{"step_wall_s": 0.5, **limits}))
    return Job(textwrap.dedent(code), "f", tuple(() for _ in range(n)), limits=FAST, interactive=spec), opened


def test_the_parent_plays_each_episode_and_makes_its_result(sandbox: Sandbox) -> None:
    j, opened = job("""
        def f(t, steps):
            return t + 1
    """)
    res = sandbox.run(j)
    assert res.status == "ok", res.error
    assert [r.output for r in res.runs] == [{"total": 150, "decisions": [1, 2, 3, 4, 5]},
                                            {"total": 165, "decisions": [1, 2, 3, 4, 5]}]
    assert len(opened) == 2


def test_module_state_lives_across_steps_and_episodes(sandbox: Sandbox) -> None:
    j, _ = job("""
        CALLS = []
        def f(t, steps):
            CALLS.append(t)
            return len(CALLS)
    """, n=2, steps=3)
    res = sandbox.run(j)
    assert [r.output["decisions"] for r in res.runs] == [[1, 2, 3], [4, 5, 6]]


def test_a_decision_the_session_refuses_is_invalid_with_its_step(sandbox: Sandbox) -> None:
    j, _ = job("""
        def f(t, steps):
            return "spot" if t == 2 else 0
    """)
    res = sandbox.run(j)
    assert res.status == "invalid"
    assert "step 2: return an int, not str" in (res.error or "")


def test_a_policy_that_hangs_on_one_step_times_out_naming_the_step(sandbox: Sandbox) -> None:
    j, _ = job("""
        import time
        def f(t, steps):
            if t == 3:
                time.sleep(30)
            return 0
    """)
    res = sandbox.run(j)
    assert res.status == "timeout"
    assert "step 3: exceeded the 0.5 s wall-clock limit per step" in (res.error or "")
    assert res.wall_s < 3.0


def test_a_crash_on_one_step_is_a_crash_naming_the_step(sandbox: Sandbox) -> None:
    j, _ = job("""
        def f(t, steps):
            return 1 // (t - 1)
    """)
    res = sandbox.run(j)
    assert res.status == "crash"
    assert "step 1:" in (res.error or "") and "ZeroDivisionError" in (res.error or "")


def test_a_huge_reply_is_refused_by_the_child(sandbox: Sandbox) -> None:
    j, opened = job("""
        def f(t, steps):
            return "x" * 100_000
    """, reply_bytes=4096)
    res = sandbox.run(j)
    assert res.status == "invalid"
    assert "at most 4096 bytes per decision" in (res.error or "")
    assert opened[0].seen == []


def test_a_huge_forged_reply_is_refused_by_the_parent(sandbox: Sandbox) -> None:
    j, opened = job("""
        import json, os, struct
        def f(t, steps):
            head = json.dumps({"v": {"event": "step", "i": 0, "output": "y" * 200_000}, "b": []}).encode()
            os.write(3, struct.pack(">II", len(head), 0) + head)
            return 0
    """, reply_bytes=4096)
    res = sandbox.run(j)
    assert res.status == "invalid"
    assert "exceeds the limit of 4096 bytes per decision" in (res.error or "") or "without waiting" in (res.error or "")
    assert opened[0].seen == []


def test_a_forged_result_cannot_end_an_episode(sandbox: Sandbox) -> None:
    j, _ = job("""
        import json, os, struct
        def frame(value):
            head = json.dumps({"v": value, "b": []}).encode()
            return struct.pack(">II", len(head), 0) + head
        def f(t, steps):
            os.write(3, frame({"event": "result", "i": 0, "status": "ok", "output": {"total": 10**9}}))
            os.write(3, frame({"event": "done"}))
            return 0
    """)
    res = sandbox.run(j)
    assert res.status == "invalid"
    assert "protocol error" in (res.error or "")


def test_an_episode_that_never_ends_stops_at_the_step_limit(sandbox: Sandbox) -> None:
    j, opened = job("""
        def f(t, steps):
            return 0
    """, steps=0, max_steps=50)
    res = sandbox.run(j)
    assert res.status == "invalid"
    assert "limit of 50 steps" in (res.error or "")
    assert len(opened[0].seen) == 50


def test_the_sandbox_refuses_timed_interactive_jobs(sandbox: Sandbox) -> None:
    j, _ = job("def f(t, steps):\n    return 0\n")
    with pytest.raises(ValueError, match="not timed"):
        sandbox.run(Job(j.code, j.entry, j.inputs, repeats=3, limits=FAST, interactive=j.interactive))


def test_step_limits_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="step_wall_s"):
        StepLimits(step_wall_s=float("inf"))
    with pytest.raises(ValueError, match="max_steps"):
        StepLimits(max_steps=0)
