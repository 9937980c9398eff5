"""Reference values of SMTT instances and the tables that cache them in the package.

A reference is an exact optimum whenever the solver finishes within its state budget; otherwise it is
a valid lower bound (kind "lower_bound"), or, where a caller asks for it, the best schedule an iterated
local search finds (kind "best_known"). The kind travels with every instance so reports say what a gap
is measured against.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from problems.smtt import exact, search, tardiness

#: subproblems the exact solver may memoise before giving up (n = 100 needs < 20 000, n = 200 < 600 000)
DEFAULT_MAX_STATES = 600_000


def optimum_or_bound(p: np.ndarray, d: np.ndarray, max_states: int | None = DEFAULT_MAX_STATES
                     ) -> tuple[int, str]:
    """(optimal ΣT, "optimum"), or (a lower bound, "lower_bound") when the solver runs out of budget."""
    try:
        return exact.solve(p, d, max_states=max_states).value, "optimum"
    except exact.SearchLimit:
        return exact.lower_bound(p, d), "lower_bound"


def best_known(p: np.ndarray, d: np.ndarray, kicks: int = 50, seed: int = 0) -> int:
    """ΣT of the best schedule iterated local search finds from EDD, MDD and SPT."""
    starts = [tardiness.edd(p, d), tardiness.mdd(p, d), tardiness.spt(p, d)]
    order = search.iterated_local_search(p, d, starts=starts, kicks=kicks, seed=seed)
    return tardiness.total_tardiness(order, p, d)


def load_table(path: Path) -> dict[str, dict[str, Any]]:
    """A cached reference table {instance key: {"value", "kind", ...}} (empty when the file is missing)."""
    if not path.is_file():
        return {}
    table: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return table


def save_table(path: Path, table: dict[str, dict[str, Any]]) -> None:
    """Write a reference table, one entry per line, keys sorted (stable diffs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in sorted(table.items())]
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
