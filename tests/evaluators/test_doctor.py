"""`evolve doctor`: the report names every mechanism and says whether the probes confirmed it."""

from __future__ import annotations

import json

import pytest

from evaluators import doctor
from evaluators.sandbox import DEFAULT_PRELOAD


@pytest.mark.slow
def test_doctor_prints_a_json_report_of_verified_mechanisms(capsys: pytest.CaptureFixture[str]) -> None:
    assert doctor.main(["--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["probe_status"] == "ok"
    assert rep["preload"] == list(DEFAULT_PRELOAD)
    assert {"network namespace", "mount namespace (empty root)", "PID namespace", "unprivileged uid",
            "rlimits", "audit-hook pre-filter", "syscall filter (seccomp)",
            "memory budget per candidate (cgroup)"} <= set(rep["mechanisms"])
    assert all(set(row) == {"ok", "detail"} for row in rep["mechanisms"].values())
    assert rep["mechanisms"]["audit-hook pre-filter"]["ok"] is True
    assert rep["isolation"]["network"] in ("netns", "audit-hook")


def test_doctor_rejects_unknown_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert doctor.main(["--frobnicate"]) == 2
    assert "unknown argument" in capsys.readouterr().err
