"""Zones and moves in the shared simulator, the leaderboard's scenarios and averaging, real files, cheaters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluators.sandbox import Limits, Sandbox
from evolve.errors import ProblemError
from evolve.evaluation import evaluate
from problems.cant_be_late import traces
from problems.cant_be_late.driver import replay, run_episode
from problems.cant_be_late_multi import make, regions

HOUR = 3600.0


def test_moving_to_a_zone_with_spot_runs_there_and_pays_the_overhead() -> None:
    trace = np.array([[1] * 8, [0] * 8], dtype=np.uint8)  # zone 0 never has spot, zone 1 always

    def policy(obs, memory):  # type: ignore[no-untyped-def]
        if obs.work_done_seconds >= obs.task_duration_seconds - 1e-9:
            return "none"
        return ("spot", 1) if obs.region == 0 else "spot"

    decisions, error = run_episode(policy, trace, HOUR, 2 * HOUR, 6 * HOUR, 0.5 * HOUR)
    assert error is None and decisions[0] == "4"  # region 1, spot: code 1 * 3 + 1
    ep = replay(decisions, trace, HOUR, 2 * HOUR, 6 * HOUR, 0.5 * HOUR)
    assert ep.region == 1 and ep.finish_tick == 3  # 0.5 h, 1 h, 0.5 h of work


def test_a_move_under_the_strong_guarantee_is_cancelled() -> None:
    trace = np.ones((2, 10), dtype=np.uint8)
    decisions, error = run_episode(lambda o, m: ("none", 1 - o.region), trace, HOUR, 2 * HOUR, 3 * HOUR, 0.0)
    ep = replay(decisions, trace, HOUR, 2 * HOUR, 3 * HOUR, 0.0)
    assert error is None and ep.finish_tick * HOUR <= 3 * HOUR and ep.ticks_by_type[2] == 2


def test_a_bad_zone_is_reported() -> None:
    trace = np.zeros((2, 8), dtype=np.uint8)
    for bad in (("spot", 2), ("spot", -1), ("spot", True), ("spot", "1"), ("fly", 0)):
        decisions, error = run_episode(lambda o, m, bad=bad: bad, trace, HOUR, 2 * HOUR, 4 * HOUR, 0.0)
        assert decisions == "" and error is not None


def test_splits_follow_the_leaderboards_scenarios() -> None:
    p = make({})
    assert [i.meta["scenario"] for i in p.instances("quick")] == ["2_zones_same_region"]
    hold = p.instances("holdout")
    assert len(hold) == sum(s[2] for s in regions.SCENARIOS) == 34
    assert hold[-1].args[0].shape[0] == 9


def test_the_score_averages_scenario_means_as_the_leaderboard_does() -> None:
    p = make({})
    insts = [i for i in p.instances("holdout") if i.meta["scenario"] in ("2_zones_same_region", "all_9_regions")]
    metrics = [{"cost": 100.0 if i.meta["scenario"] == "all_9_regions" else 60.0, "episodes": 1.0, "late": 0.0,
                "od_anchor": 146.88, "spot_anchor": 46.7088, "spot_hours": 1.0, "on_demand_hours": 1.0}
               for i in insts]
    agg = p.aggregate(insts, metrics)
    assert agg["avg_cost"] == pytest.approx(80.0)  # (60 + 100) / 2 although 8 of 10 episodes cost 60


def test_baselines_rank_as_expected() -> None:
    p = make({})
    insts = p.instances("train")
    scores = {}
    for name, src in {"seed": p.initial_program, **p.baselines()}.items():
        ns: dict[str, object] = {}
        exec(src, ns)
        scores[name] = p.aggregate(insts, [p.score(i, run_episode(ns["decide"], *i.args)[0]) for i in insts])["score"]
    assert scores["on_demand"] == 0.0 and scores["seed"] == scores["single_zone"]
    assert scores["seed"] < scores["round_robin_probe"] < scores["uniform_progress_probe"]


def test_the_holdout_reads_aligned_trace_files(tmp_path: Path) -> None:
    for zone in regions.ZONE_NAMES:
        (tmp_path / zone).mkdir()
        for i in range(8):
            traces.write(tmp_path / zone / f"{i}.json",
                         traces.generate("us-west-2a_v100_1", 400, 600.0, np.random.default_rng([i, len(zone)])),
                         600.0)
    hold = make({"traces": str(tmp_path)}).instances("holdout")
    assert len(hold) == 34 and hold[0].args[0].shape == (2, 400)
    (tmp_path / "us-east-1c_v100_1" / "3.json").unlink()
    with pytest.raises(ProblemError, match=r"missing us-east-1c_v100_1/3\.json"):
        make({"traces": str(tmp_path)}).instances("holdout")


PEEKS_OTHER_ZONES = '''
import sys


def decide(obs, memory):
    frame = sys._getframe(1)
    while "ep" not in frame.f_locals:
        frame = frame.f_back
    ep = frame.f_locals["ep"]
    if obs.work_done_seconds >= obs.task_duration_seconds - 1e-9:
        return "none"
    future = [int(ep.trace[z, obs.tick:obs.tick + 12].sum()) for z in range(obs.num_regions)]
    best = min(range(obs.num_regions), key=lambda z: future[z])
    return ("spot" if not ep.trace[best, obs.tick] else "none", best)
'''


@pytest.mark.slow
def test_seed_and_a_peeker_in_the_real_sandbox() -> None:
    p = make({"train_traces": 1})
    with Sandbox() as sandbox:
        seed = evaluate(p, sandbox, p.initial_program, ["quick", "train"], Limits())
        peek = evaluate(p, sandbox, PEEKS_OTHER_ZONES, ["quick", "train"], Limits())
    assert seed.status == "ok"
    # the trace is played in the parent: the candidate's process holds no episode to find
    assert peek.status == "crash" and "f_locals" in (peek.error or ""), peek
