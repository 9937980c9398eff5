"""Generated graphs, and the leaderboard's profile files read from a user's folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evolve.errors import ProblemError
from problems.cloudcast import make, profiles


def test_generated_prices_follow_the_providers_structure() -> None:
    net = profiles.generate_network(np.random.default_rng(1), 2)
    i = net.index()
    assert 0.018 <= net.cost[i["aws:us-east-1"], i["aws:eu-west-1"]] <= 0.022
    assert 0.08 <= net.cost[i["aws:us-east-1"], i["gcp:us-east1"]] <= 0.1
    assert 0.1 <= net.cost[i["gcp:us-east1"], i["azure:eastus"]] <= 0.133
    near = net.throughput[i["aws:us-east-1"], i["aws:us-east-2"]]
    far = net.throughput[i["aws:us-east-1"], i["aws:ap-southeast-1"]]
    assert near > 3 * far


def test_the_holdout_reads_the_leaderboards_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    net = profiles.generate_network(rng, 2)
    ts = [profiles.generate_transfer(k[0], rng, net, 2, 100.0, 4, 3) for k in profiles.KINDS]
    profiles.write_dir(tmp_path, net, ts, 2)
    conf = tmp_path / "config" / "intra_aws.json"
    doc = json.loads(conf.read_text())
    doc["egress_limit"] = {"aws": 3}
    conf.write_text(json.dumps(doc))
    p = make({"profiles": str(tmp_path)})
    hold = p.instances("holdout")
    assert [i.meta["config"] for i in hold] == sorted(k[0] for k in profiles.KINDS)
    read = hold[0].private["net"]
    assert read.nodes == net.nodes
    assert np.allclose(read.cost, net.cost, equal_nan=True)
    assert np.allclose(read.throughput, net.throughput, equal_nan=True)
    aws = next(i for i in hold if i.meta["config"] == "intra_aws").private["transfer"]
    assert aws.egress["aws"] == 6.0 and aws.ingress["aws"] == 10.0


def test_bad_profile_folders_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ProblemError, match="no such folder"):
        make({"profiles": str(tmp_path / "none")}).instances("holdout")
    (tmp_path / "cost.csv").write_text("src,dest,cost\na,b,0.1\n")
    (tmp_path / "throughput.csv").write_text("src_region,dst_region,speed\na,b,1\n")
    with pytest.raises(ProblemError, match="missing column"):
        make({"profiles": str(tmp_path)}).instances("holdout")
    (tmp_path / "throughput.csv").write_text("src_region,dst_region,throughput_sent\naws:a,aws:b,1e9\n")
    (tmp_path / "c.json").write_text(json.dumps({"source_node": "aws:a", "dest_nodes": ["aws:zz"],
                                                 "data_vol": 1, "num_partitions": 1}))
    with pytest.raises(ProblemError, match=r"c\.json.*not in the profiles"):
        make({"profiles": str(tmp_path)}).instances("holdout")
    (tmp_path / "c.json").write_text(json.dumps({"source_node": "aws:a", "dest_nodes": ["aws:b"], "data_vol": 1,
                                                 "num_partitions": 1, "egress_limit": {"aws": 0}}))
    with pytest.raises(ProblemError, match=r"egress_limit\.aws=0 must be a positive number"):
        make({"profiles": str(tmp_path)}).instances("holdout")


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown cloudcast option"):
        make({"vms": 2})
    with pytest.raises(ValueError, match="must be positive"):
        make({"num_partitions": 0})
