"""Region graphs and broadcast configurations: a seeded generator, and the leaderboard's files.

The leaderboard's profiles are two CSV files and one JSON file per configuration (no licence, so the
package ships none; `load_dir` reads them from a folder the user gives):
- `cost.csv` with columns `src,dest,cost` (egress $/GB), `throughput.csv` with columns
  `src_region,dst_region,throughput_sent` (bits/s of one VM); region names are `provider:region`;
- a configuration: `{"source_node": …, "dest_nodes": […], "data_vol": GB, "num_partitions": k}` with
  optional `ingress_limit` / `egress_limit` (Gbps per VM, per provider).
A link's throughput is `num_vms × throughput_sent / 1e9` Gbps, as the leaderboard builds its graph.

The generator places the three providers' real region names at their approximate coordinates. Egress
prices follow the providers' list-price structure: a flat inter-region price inside AWS and Azure
($0.02/GB), a continent-dependent one inside GCP ($0.01–0.08/GB), and internet egress across providers
($0.09 AWS, $0.12 GCP, $0.0875 Azure), each jittered by ±10 %. Throughput falls with distance (a few Gbps
per VM across oceans, up to ~12 Gbps nearby) and is lower across providers. These are our modelling
choices, not a fit of the leaderboard's profiles.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from evolve.errors import ProblemError
from problems.cloudcast.simulator import DEFAULT_EGRESS, DEFAULT_INGRESS, Network, Transfer

#: (name, latitude, longitude, continent)
REGIONS = (
    ("aws:us-east-1", 38.9, -77.4, "na"), ("aws:us-east-2", 40.0, -83.0, "na"),
    ("aws:us-west-1", 37.4, -122.0, "na"), ("aws:us-west-2", 45.8, -119.7, "na"),
    ("aws:ca-central-1", 45.5, -73.6, "na"), ("aws:eu-west-1", 53.3, -6.3, "eu"),
    ("aws:eu-central-1", 50.1, 8.7, "eu"), ("aws:eu-north-1", 59.3, 18.1, "eu"),
    ("aws:ap-northeast-1", 35.7, 139.7, "as"), ("aws:ap-southeast-1", 1.3, 103.8, "as"),
    ("aws:ap-south-1", 19.1, 72.9, "as"), ("aws:sa-east-1", -23.5, -46.6, "sa"),
    ("gcp:us-central1", 41.3, -95.9, "na"), ("gcp:us-east1", 33.2, -80.0, "na"),
    ("gcp:us-west1", 45.6, -121.2, "na"), ("gcp:europe-west1", 50.4, 3.8, "eu"),
    ("gcp:europe-west4", 53.4, 6.8, "eu"), ("gcp:asia-east1", 24.1, 120.5, "as"),
    ("gcp:asia-northeast1", 35.7, 139.7, "as"), ("gcp:asia-southeast1", 1.3, 103.8, "as"),
    ("gcp:southamerica-east1", -23.5, -46.6, "sa"), ("gcp:australia-southeast1", -33.9, 151.2, "oc"),
    ("azure:eastus", 37.4, -79.8, "na"), ("azure:westus2", 47.2, -119.9, "na"),
    ("azure:centralus", 41.6, -93.6, "na"), ("azure:northeurope", 53.3, -6.3, "eu"),
    ("azure:westeurope", 52.4, 4.9, "eu"), ("azure:uksouth", 51.5, -0.1, "eu"),
    ("azure:japaneast", 35.7, 139.7, "as"), ("azure:southeastasia", 1.3, 103.8, "as"),
    ("azure:australiaeast", -33.9, 151.2, "oc"), ("azure:brazilsouth", -23.5, -46.6, "sa"),
)
INTERNET_EGRESS = {"aws": 0.09, "gcp": 0.12, "azure": 0.0875}
#: the leaderboard's five configurations: which providers the source and the destinations come from
KINDS = (("intra_aws", ("aws",), ("aws",)), ("intra_azure", ("azure",), ("azure",)),
         ("intra_gcp", ("gcp",), ("gcp",)), ("inter_agz", ("aws",), ("aws", "gcp", "azure")),
         ("inter_gaz2", ("gcp",), ("gcp", "aws", "azure")))


def _km(a: tuple[str, float, float, str], b: tuple[str, float, float, str]) -> float:
    la1, lo1, la2, lo2 = map(math.radians, (a[1], a[2], b[1], b[2]))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 12742.0 * math.asin(math.sqrt(h))


def _gcp_price(a: str, b: str) -> float:
    if a == b:
        return 0.01 if a == "na" else 0.02
    if {a, b} <= {"na", "eu"}:
        return 0.05
    return 0.08


def generate_network(rng: np.random.Generator, num_vms: int) -> Network:
    """Every region linked to every other, priced and profiled as the module docstring says."""
    n = len(REGIONS)
    cost = np.full((n, n), np.nan)
    tput = np.full((n, n), np.nan)
    for i, a in enumerate(REGIONS):
        pa = a[0].split(":")[0]
        for j, b in enumerate(REGIONS):
            if i == j:
                continue
            pb = b[0].split(":")[0]
            if pa != pb:
                price = INTERNET_EGRESS[pa]
            elif pa == "gcp":
                price = _gcp_price(a[3], b[3])
            else:
                price = 0.02
            cost[i, j] = round(price * rng.uniform(0.9, 1.1), 4)
            km = _km(a, b)
            per_vm = 0.6 + 11.0 * math.exp(-km / 2500.0)
            if pa != pb:
                per_vm *= 0.6
            tput[i, j] = num_vms * per_vm * rng.uniform(0.7, 1.3)
    return Network(tuple(r[0] for r in REGIONS), cost, tput)


def generate_transfer(kind: str, rng: np.random.Generator, net: Network, num_vms: int, data_vol: float,
                      num_partitions: int, num_dsts: int) -> Transfer:
    """A broadcast of the named kind: a source from its providers, destinations from theirs."""
    spec = next((k for k in KINDS if k[0] == kind), None)
    if spec is None:
        raise ValueError(f"unknown configuration kind {kind!r}; known: {[k[0] for k in KINDS]}")
    _, src_prov, dst_prov = spec
    srcs = [x for x in net.nodes if x.split(":")[0] in src_prov]
    src = srcs[int(rng.integers(len(srcs)))]
    pool = [x for x in net.nodes if x.split(":")[0] in dst_prov and x != src]
    picks = rng.choice(len(pool), size=min(num_dsts, len(pool)), replace=False)
    return Transfer(kind, src, tuple(pool[int(i)] for i in picks), data_vol, num_partitions, num_vms)


def read_network(folder: Path, num_vms: int) -> Network:
    """The leaderboard's `cost.csv` and `throughput.csv` under `folder` as a Network."""
    tput_rows = _rows(folder / "throughput.csv", ("src_region", "dst_region", "throughput_sent"))
    cost_rows = _rows(folder / "cost.csv", ("src", "dest", "cost"))
    names: dict[str, None] = {}
    for r in tput_rows:
        if r["src_region"] != r["dst_region"]:
            names.setdefault(r["src_region"])
            names.setdefault(r["dst_region"])
    nodes = tuple(names)
    index = {x: i for i, x in enumerate(nodes)}
    n = len(nodes)
    cost, tput = np.full((n, n), np.nan), np.full((n, n), np.nan)
    for r in tput_rows:
        if r["src_region"] != r["dst_region"]:
            tput[index[r["src_region"]], index[r["dst_region"]]] = num_vms * _number(r, "throughput_sent",
                                                                                      folder) / 1e9
    for r in cost_rows:
        if r["src"] in index and r["dest"] in index and r["src"] != r["dest"]:
            cost[index[r["src"]], index[r["dest"]]] = _number(r, "cost", folder)
    return Network(nodes, cost, tput)


def read_transfer(path: Path, net: Network, num_vms: int) -> Transfer:
    """One leaderboard configuration file, checked against the network's regions."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        src, dsts = str(doc["source_node"]), tuple(str(d) for d in doc["dest_nodes"])
        vol, parts = float(doc["data_vol"]), int(doc["num_partitions"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ProblemError(f"{path}: not a broadcast configuration ({exc!r:.80}); expected JSON with source_node, "
                           "dest_nodes, data_vol, num_partitions") from None
    unknown = [x for x in (src, *dsts) if x not in net.nodes]
    if unknown or vol <= 0 or parts < 1 or not dsts:
        raise ProblemError(f"{path}: regions {unknown[:3]} are not in the profiles, or data_vol/num_partitions "
                           "are not positive")
    ingress, egress = dict(DEFAULT_INGRESS), dict(DEFAULT_EGRESS)
    for key, limits in (("ingress_limit", ingress), ("egress_limit", egress)):
        for provider, value in (doc.get(key) or {}).items():
            try:
                per_vm = float(value)
            except (TypeError, ValueError):
                per_vm = math.nan
            if not (math.isfinite(per_vm) and per_vm > 0):
                raise ProblemError(f"{path}: {key}.{provider}={value!r} must be a positive number of Gbps per VM")
            limits[str(provider)] = num_vms * per_vm  # a configured limit is per VM
    return Transfer(path.stem, src, dsts, vol, parts, num_vms, ingress, egress)


def load_dir(folder: Path, num_vms: int) -> tuple[Network, list[Transfer]]:
    """The profiles (`cost.csv`, `throughput.csv`, in the folder or its `profiles/`) and every `*.json`
    configuration under the folder, sorted by name."""
    if not folder.is_dir():
        raise ProblemError(f"profiles={folder}: no such folder; give the folder holding cost.csv, throughput.csv "
                           "and the configuration JSON files")
    prof = folder / "profiles" if (folder / "profiles" / "cost.csv").is_file() else folder
    net = read_network(prof, num_vms)
    configs = sorted(folder.rglob("*.json"), key=lambda p: p.name)
    if not configs:
        raise ProblemError(f"profiles={folder}: no configuration *.json file found")
    return net, [read_transfer(p, net, num_vms) for p in configs]


def _rows(path: Path, columns: Iterable[str]) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise ProblemError(f"{path}: cannot read ({exc.strerror}); the leaderboard's profiles are cost.csv and "
                           "throughput.csv") from None
    missing = [c for c in columns if not rows or c not in rows[0]]
    if missing:
        raise ProblemError(f"{path}: missing column(s) {missing} (or no rows)")
    return rows


def _number(row: dict[str, str], key: str, where: Path) -> float:
    try:
        value = float(row[key])
    except (TypeError, ValueError):
        raise ProblemError(f"{where}: {key}={row[key]!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ProblemError(f"{where}: {key}={row[key]!r} must be a finite non-negative number")
    return value


def write_dir(folder: Path, net: Network, transfers: Iterable[Transfer], num_vms: int) -> None:
    """Write a network and configurations in the leaderboard's format (exports and tests)."""
    (folder / "profiles").mkdir(parents=True, exist_ok=True)
    (folder / "config").mkdir(exist_ok=True)
    with (folder / "profiles" / "throughput.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["src_region", "dst_region", "throughput_sent"])
        for i, a in enumerate(net.nodes):
            for j, b in enumerate(net.nodes):
                if i != j and math.isfinite(net.throughput[i, j]):
                    w.writerow([a, b, repr(float(net.throughput[i, j]) / num_vms * 1e9)])
    with (folder / "profiles" / "cost.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["src", "dest", "cost"])
        for i, a in enumerate(net.nodes):
            for j, b in enumerate(net.nodes):
                if i != j and math.isfinite(net.cost[i, j]):
                    w.writerow([a, b, repr(float(net.cost[i, j]))])
    for t in transfers:
        (folder / "config" / f"{t.name}.json").write_text(json.dumps(
            {"source_node": t.src, "dest_nodes": list(t.dsts), "data_vol": t.data_vol,
             "num_partitions": t.num_partitions}), encoding="utf-8")
