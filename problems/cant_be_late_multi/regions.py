"""Multi-region spot traces: the leaderboard's nine regions and six scenarios, a generator, and its files.

The leaderboard evaluates a 48 h job with a 52 h deadline and a 0.2 h restart overhead on six scenarios,
each a set of V100 zones with a number of aligned traces (`<dir>/<region>/<i>.json`, the single-region
trace format, one file per region for trace i). The package ships none of them; `load` reads them from a
folder the user gives.

Generated traces: each zone has its own up/down renewal process (the single-region generator with the
zone's parameters), and zones of the same AWS region also share a regional process: spot is available
in a zone only when both its own process and its region's are up, so zones of one region tend to lose
spot together, as capacity crunches do. The parameters are ours, not fitted to the real traces.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evolve.errors import ProblemError
from problems.cant_be_late import traces


@dataclass(frozen=True)
class Zone:
    name: str
    availability: float
    mean_up_hours: float


ZONES = (
    Zone("us-east-1a_v100_1", 0.70, 5.0), Zone("us-east-1c_v100_1", 0.60, 4.0),
    Zone("us-east-1d_v100_1", 0.80, 8.0), Zone("us-east-1f_v100_1", 0.50, 3.0),
    Zone("us-east-2a_v100_1", 0.75, 6.0), Zone("us-east-2b_v100_1", 0.65, 4.0),
    Zone("us-west-2a_v100_1", 0.55, 3.0), Zone("us-west-2b_v100_1", 0.85, 10.0),
    Zone("us-west-2c_v100_1", 0.45, 2.0),
)
ZONE_NAMES = tuple(z.name for z in ZONES)
#: availability and mean up period (h) of the process shared by the zones of one AWS region
REGIONAL = (0.9, 24.0)

#: the leaderboard's scenarios: name, zones, number of aligned traces (stage 2); stage 1 is the first
#: scenario's trace 0
SCENARIOS = (
    ("2_zones_same_region", ("us-east-1a_v100_1", "us-east-1c_v100_1"), 8),
    ("2_regions_east_west", ("us-east-2a_v100_1", "us-west-2a_v100_1"), 8),
    ("3_regions_diverse", ("us-east-1a_v100_1", "us-east-2b_v100_1", "us-west-2c_v100_1"), 6),
    ("3_zones_same_region", ("us-east-1a_v100_1", "us-east-1c_v100_1", "us-east-1d_v100_1"), 6),
    ("5_regions_high_diversity", ("us-east-1a_v100_1", "us-east-1f_v100_1", "us-west-2a_v100_1",
                                  "us-west-2b_v100_1", "us-east-2b_v100_1"), 4),
    ("all_9_regions", ("us-east-2a_v100_1", "us-west-2c_v100_1", "us-east-1d_v100_1", "us-east-2b_v100_1",
                       "us-west-2a_v100_1", "us-east-1f_v100_1", "us-east-1a_v100_1", "us-west-2b_v100_1",
                       "us-east-1c_v100_1"), 2),
)


def _renewal(availability: float, mean_up_hours: float, ticks: int, gap: float,
             rng: np.random.Generator) -> np.ndarray:
    """A 0/1 trace (1 = down) of an alternating process with lognormal periods, at a random phase."""
    up_mean = mean_up_hours * 3600.0 / gap
    down_mean = up_mean * (1.0 - availability) / availability
    state, parts, total, first = (0 if rng.random() < availability else 1), [], 0, True
    while total < ticks:
        mean = up_mean if state == 0 else down_mean
        length = float(rng.lognormal(np.log(mean) - traces.SIGMA ** 2 / 2.0, traces.SIGMA))
        if first:
            length *= rng.random()
            first = False
        n = max(1, round(length))
        parts.append(np.full(n, state, dtype=np.uint8))
        total += n
        state = 1 - state
    return np.concatenate(parts)[:ticks]


def generate(zones: tuple[str, ...], ticks: int, gap: float, rng: np.random.Generator) -> np.ndarray:
    """Aligned traces, one row per zone (1 = spot unavailable)."""
    regional: dict[str, np.ndarray] = {}
    rows = []
    for name in zones:
        zone = next((z for z in ZONES if z.name == name), None)
        if zone is None:
            raise ValueError(f"unknown zone {name!r}; known: {list(ZONE_NAMES)}")
        region = name.split("_")[0][:-1]  # us-east-1a -> us-east-1
        if region not in regional:
            regional[region] = _renewal(*REGIONAL, ticks, gap, rng)
        own = _renewal(zone.availability / REGIONAL[0], zone.mean_up_hours, ticks, gap, rng) \
            if zone.availability < REGIONAL[0] else np.zeros(ticks, dtype=np.uint8)
        rows.append(np.maximum(own, regional[region]))
    return np.stack(rows).astype(np.uint8)


def load(root: Path, zones: tuple[str, ...], index: int) -> tuple[float, np.ndarray]:
    """Trace `index` of every zone from `<root>/<zone>/<index>.json`, aligned (cut to the shortest)."""
    rows, gaps = [], set()
    for zone in zones:
        path = root / zone / f"{index}.json"
        if not path.is_file():
            raise ProblemError(f"traces={root}: missing {path.relative_to(root)}; the leaderboard's layout is "
                               "<dir>/<zone>/<i>.json (e.g. data/converted_multi_region_aligned)")
        gap, data = traces.read(path)
        rows.append(data)
        gaps.add(gap)
    if len(gaps) != 1:
        raise ProblemError(f"traces={root}: trace {index} has different gap_seconds across zones {sorted(gaps)}")
    n = min(r.size for r in rows)
    return gaps.pop(), np.stack([r[:n] for r in rows])
