"""Request traces: arrival processes and prompt/output lengths shaped like public chat and summarisation
traces.

Lengths are log-normal with the median and P90 of the two traces Sarathi-Serve (OSDI'24, Table 2) serves:
openchat_sharegpt4 (chat: prompt median 1730, P90 5696; output median 415, P90 834 tokens) and
arxiv_summarization (prompt median 7059, P90 12985; output median 208, P90 371), then filtered to the
model's 4096-token context as Vidur's `*_filtered` Llama-2 traces are (a request whose prompt and output do
not fit is redrawn). Arrivals are Poisson or bursty (gamma inter-arrival times with a coefficient of
variation of 3, as in Vidur's gamma interval generator; BurstGPT documents such bursts in Azure's traces).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from problems.llm_serving.model import ttft_slo_s

#: (prompt median, prompt P90, output median, output P90) in tokens
LENGTHS = {"chat": (1730, 5696, 415, 834), "summarize": (7059, 12985, 208, 371)}
ARRIVALS = ("poisson", "bursty")
BURST_CV = 3.0
Z90 = 1.2815515655446004


@dataclass(frozen=True)
class TraceSpec:
    """One trace: which lengths, which arrival process, the offered load and the number of requests."""

    lengths: str
    arrivals: str
    rate_rps: float
    n: int
    seed: int

    @property
    def name(self) -> str:
        return f"{self.lengths}-{self.arrivals}-{self.rate_rps:g}rps-n{self.n}-s{self.seed}"


def _lognormal(rng: np.random.Generator, median: float, p90: float, size: int) -> np.ndarray:
    sigma = math.log(p90 / median) / Z90
    return rng.lognormal(math.log(median), sigma, size)


def generate(spec: TraceSpec, cfg: dict[str, Any]) -> dict[str, Any]:
    """The trace of `spec`: arrival_s, prompt_len, output_len, ttft_slo_s (lists, arrival order)."""
    if spec.lengths not in LENGTHS or spec.arrivals not in ARRIVALS or spec.rate_rps <= 0 or spec.n < 1:
        raise ValueError(f"bad trace spec {spec}")
    rng = np.random.default_rng([spec.seed, spec.n, list(LENGTHS).index(spec.lengths), ARRIVALS.index(spec.arrivals)])
    pm, p90, om, o90 = LENGTHS[spec.lengths]
    ctx = int(cfg["context_len"])
    prompts: list[int] = []
    outputs: list[int] = []
    while len(prompts) < spec.n:
        p = np.maximum(1, np.rint(_lognormal(rng, pm, p90, 4 * spec.n))).astype(int)
        o = np.maximum(1, np.rint(_lognormal(rng, om, o90, 4 * spec.n))).astype(int)
        keep = p + o <= ctx
        prompts += p[keep].tolist()
        outputs += o[keep].tolist()
    prompts, outputs = prompts[:spec.n], outputs[:spec.n]
    if spec.arrivals == "poisson":
        gaps = rng.exponential(1.0 / spec.rate_rps, spec.n)
    else:
        shape = 1.0 / BURST_CV ** 2
        gaps = rng.gamma(shape, 1.0 / (spec.rate_rps * shape), spec.n)
    gaps[0] = 0.0
    arrival = np.round(np.cumsum(gaps), 6).tolist()
    return {"arrival_s": arrival, "prompt_len": prompts, "output_len": outputs,
            "ttft_slo_s": [round(ttft_slo_s(cfg, p), 6) for p in prompts]}
