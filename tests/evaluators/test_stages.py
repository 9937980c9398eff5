"""Several stages (a cascade: quick, then train) run in one sandboxed process, gated by the caller."""

from __future__ import annotations

import time

import pytest
from sandbox_helpers import zygote_pid

from evaluators.sandbox import GRACE_S, MAX_STAGES, Job, Limits, Sandbox, SandboxResult

#: counts calls in a module global: a stage that sees the previous stage's count ran in the same process
COUNTER = "calls = 0\ndef f(x):\n    global calls\n    calls += 1\n    return [x, calls]\n"


def _job(code: str, inputs: tuple[tuple[object, ...], ...], key: str, **limits: float) -> Job:
    return Job(code=code, entry="f", inputs=inputs, key=key, limits=Limits(**limits))  # type: ignore[arg-type]


def test_every_stage_runs_in_one_process_in_order(sandbox: Sandbox) -> None:
    quick, train = _job(COUNTER, ((1,), (2,)), "s-q"), _job(COUNTER, ((3,),), "s-t")
    results = sandbox.run_stages([quick, train])
    assert [r.status for r in results] == ["ok", "ok"]
    assert [r.output for r in results[0].runs] == [[1, 1], [2, 2]]
    assert [r.output for r in results[1].runs] == [[3, 3]]  # the third call of the same process
    assert results[1].isolation == results[0].isolation and results[0].isolation
    assert results[-1].cpu_s is not None and results[-1].exit == "exited with code 0"


def test_the_gate_sees_each_stage_and_can_stop_the_rest(sandbox: Sandbox) -> None:
    seen: list[tuple[int, list[object]]] = []

    def gate(stage: int, res: SandboxResult) -> bool:
        seen.append((stage, [r.output for r in res.runs]))
        return False

    results = sandbox.run_stages([_job(COUNTER, ((1,),), "g-q"), _job(COUNTER, ((2,),), "g-t")], gate)
    assert seen == [(0, [[1, 1]])]
    assert len(results) == 1 and results[0].status == "ok"
    assert results[0].cpu_s is not None  # the stopped process's usage goes with its last stage


def test_a_failing_stage_ends_the_run_without_asking_the_gate(sandbox: Sandbox) -> None:
    code = "def f(x):\n    print('in', x)\n    if x == 2:\n        raise ValueError('two')\n    return x\n"
    asked: list[int] = []
    results = sandbox.run_stages([_job(code, ((1,), (2,)), "f-q"), _job(code, ((3,),), "f-t")],
                                 lambda stage, res: asked.append(stage) is None)
    assert asked == [] and len(results) == 1
    assert results[0].status == "crash" and "ValueError: two" in (results[0].error or "")
    assert results[0].stdout == "in 1\nin 2\n"


def test_each_stage_has_its_own_wall_clock_limit(sandbox: Sandbox) -> None:
    code = "import time\ndef f(x):\n    if x == 2:\n        time.sleep(60)\n    return x\n"
    results = sandbox.run_stages([_job(code, ((1,),), "w-q", instance_wall_s=1.0),
                                  _job(code, ((2,),), "w-t", instance_wall_s=1.0)])
    assert [r.status for r in results] == ["ok", "timeout"]
    assert results[1].wall_s < 10 and "instance 0" in (results[1].error or "")


def test_an_error_in_the_gate_is_the_callers_and_the_sandbox_stays_usable(sandbox: Sandbox) -> None:
    def gate(stage: int, res: SandboxResult) -> bool:
        raise KeyError("scorer bug")

    with pytest.raises(KeyError, match="scorer bug"):
        sandbox.run_stages([_job(COUNTER, ((1,),), "e-q"), _job(COUNTER, ((2,),), "e-t")], gate)
    assert sandbox.run(_job(COUNTER, ((5,),), "e-x")).runs[0].output == [5, 1]


def test_stages_must_share_the_program(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="same program"):
        sandbox.run_stages([_job(COUNTER, ((1,),), "p-q"), _job("def f(x):\n    return x\n", ((2,),), "p-t")])
    with pytest.raises(ValueError, match="stages"):
        sandbox.run_stages([_job(COUNTER, ((1,),), f"n-{i}") for i in range(MAX_STAGES + 1)])


def test_the_cpu_limit_covers_every_stage_together(sandbox: Sandbox) -> None:
    code = "import resource\ndef f(x):\n    return resource.getrlimit(resource.RLIMIT_CPU)[0]\n"
    results = sandbox.run_stages([_job(code, ((1,),), "c-q", cpu_s=3), _job(code, ((2,),), "c-t", cpu_s=4)])
    assert [r.status for r in results] == ["ok", "ok"] and results[0].runs[0].output == 7


def test_untimed_instances_still_get_a_sane_parent_clock_in_every_stage(sandbox: Sandbox) -> None:
    code = "import time\ndef f(x):\n    time.sleep(0.02)\n    return x\n"
    results = sandbox.run_stages([_job(code, ((1,), (2,)), "u-q"), _job(code, ((3,),), "u-t")])
    assert [r.status for r in results] == ["ok", "ok"]
    for res in results:  # no begin marks: each instance is clocked from the previous message
        assert len(res.parent_ms) == len(res.runs)
        assert all(15.0 <= ms < 5000.0 for ms in res.parent_ms), res.parent_ms


def test_start_brings_the_zygote_up_before_any_job() -> None:
    with Sandbox() as sb:
        sb.start()
        pid = zygote_pid(sb)
        assert pid is not None  # running before any job
        sb.start()  # already running: the same zygote
        assert zygote_pid(sb) == pid
        assert sb.run(_job(COUNTER, ((1,),), "z-1")).status == "ok" and zygote_pid(sb) == pid


def test_without_waiting_for_the_exit_the_results_and_output_are_complete() -> None:
    code = "def f(x):\n    print('line ' * 2000)\n    print('end', x)\n    return x\n"
    with Sandbox() as sb:
        results = sb.run_stages([_job(code, ((1,),), "x-q"), _job(code, ((2,),), "x-t")], wait_exit=False)
        assert [r.status for r in results] == ["ok", "ok"]
        assert results[-1].stdout.endswith("line \nend 2\n")  # the last bytes it wrote, before "done"
        assert results[-1].exit == "not awaited" and results[-1].cpu_s is None
        waited = sb.run_stages([_job(code, ((3,),), "x-q")])  # collects the exit first, then runs
        assert waited[0].status == "ok" and waited[0].exit == "exited with code 0"
        assert not list(sb.tmp_root.glob("job-*"))  # both working folders are gone


def test_a_failed_run_is_always_classified_by_its_exit() -> None:
    code = "import os\ndef f(x):\n    if x == 2:\n        os.abort()\n    return x\n"
    with Sandbox() as sb:
        res = sb.run(_job(code, ((1,), (2,)), "a-q"), wait_exit=False)
        assert res.status == "crash" and res.exit.startswith("killed by SIG"), res.exit


def test_a_child_that_lingers_after_its_results_is_killed_before_the_next_job() -> None:
    # os._exit patched: after "done" the harness's own exit sleeps instead
    code = "import os, time\nos._exit = lambda code: time.sleep(120)\ndef f(x):\n    return x\n"
    with Sandbox() as sb:
        sb.start()  # the zygote's start (numpy's import) is not part of what is timed
        t0 = time.monotonic()
        res = sb.run(_job(code, ((1,),), "l-q"), wait_exit=False)
        assert res.status == "ok" and time.monotonic() - t0 < GRACE_S
        nxt = sb.run(_job(COUNTER, ((5,),), "l-t"))
        assert nxt.status == "ok" and nxt.runs[0].output == [5, 1]
        assert time.monotonic() - t0 < GRACE_S + 10
        assert not list(sb.tmp_root.glob("job-*"))


def test_candidates_in_their_own_root_get_no_working_folder_on_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    import evaluators.sandbox as sandbox_mod

    made: list[str] = []
    mkdtemp = sandbox_mod.tempfile.mkdtemp

    def counting(*args: object, **kw: object) -> str:
        made.append(str(kw.get("prefix")))
        return mkdtemp(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(sandbox_mod.tempfile, "mkdtemp", counting)
    with Sandbox() as sb:
        first = sb.run(_job(COUNTER, ((1,),), "w-1"))
        if not first.isolation.get("filesystem", "").startswith("minimal-root"):
            pytest.skip("no empty root for candidates on this machine: they work in a host folder")
        for i in range(3):
            res = sb.run(_job("import os\ndef f(x):\n    return [x, os.getcwd()]\n", ((i,),), f"w-{i + 2}"))
            assert res.status == "ok" and res.runs[0].output == [i, "/tmp"]
        assert made.count("job-") == 1  # the first job's, before the sandbox knew
        assert not list(sb.tmp_root.glob("job-*"))


def test_a_candidate_whose_root_cannot_be_built_is_run_again_with_a_host_folder() -> None:
    from evaluators.sandbox import Isolation

    with Sandbox(isolation=Isolation(filesystem=False)) as sb:  # its children never build a root
        # fault injection: the sandbox believes the last candidate had its own root, yet this one cannot
        # build one (a mount refused mid-run); no public path makes a root work and then fail on one machine
        sb._rooted = True
        res = sb.run(_job(COUNTER, ((7,),), "h-1"))
        assert res.status == "ok" and res.runs[0].output == [7, 1]  # ran once, in a host folder
        assert res.isolation["filesystem"].startswith("host")
        again = sb.run(_job(COUNTER, ((8,),), "h-2"))  # and the next one gets a host folder from the start
        assert again.status == "ok" and again.isolation["filesystem"].startswith("host")
        assert not list(sb.tmp_root.glob("job-*"))
