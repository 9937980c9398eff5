"""The foundation's acceptance: offline evolution clearly beats its EDD seed on SMTT, for several seeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_offline_evolution_beats_the_edd_seed(cli, tmp_path: Path, seed: int) -> None:
    proc = cli(["run", f"seed={seed}", "search.iterations=400", "search.max_seconds=240",
                f"hydra.run.dir={tmp_path / 'run'}"], timeout=600)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    edd_gap = summary["baselines"]["edd"]["train"]["gap_pct"]
    seed_gap = summary["seed"]["train"]["gap_pct"]
    best_gap = summary["best"]["train"]["gap_pct"]
    assert seed_gap == pytest.approx(edd_gap)  # the seed program is EDD
    assert best_gap < edd_gap
    if seed == 0:
        assert best_gap <= seed_gap / 2
    assert "gap_pct" in summary["best"]["holdout"]
