"""CPU cost per LLM call: litellm, the openai SDK and the aiohttp client, same local server, same requests.

    python bench/llm_clients.py [--calls 300] [--concurrency 8]

Both clients talk to one scripted OpenAI-compatible server on 127.0.0.1 (run in a separate process, so
only the client's own work is charged). Prints CPU milliseconds per call (process time of this process,
which runs nothing but the client) and wall time, and the ratios to the cheapest. The cheapest path for
the OpenAI protocol serves `llm=openai` and `llm=openai_compatible` (`llm.client`); litellm stays for
every other provider.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from evolve.llm.clients import CallSettings, make_client
from evolve.llm.models import ModelSpec

REPLY = "```python\ndef priority(p, d, t):\n    return max(d, t + p)\n```\n"
MESSAGES = [{"role": "system", "content": "You improve scheduling heuristics." * 20},
            {"role": "user", "content": "Improve this program:\n" + "def priority(p, d, t):\n    return d\n" * 40}]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _drive(spec: ModelSpec, calls: int, concurrency: int, client_kind: str) -> tuple[float, float]:
    client = make_client(spec, CallSettings(max_retries=0, timeout_s=30, client=client_kind))
    await client.complete(MESSAGES)  # warm-up: imports, connection pool
    sem = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with sem:
            await client.complete(MESSAGES)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(calls)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    await client.aclose()
    return cpu, wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args(argv)
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "script.json"
        script.write_text(json.dumps([]))
        server = subprocess.Popen([sys.executable, "-m", "evolve.testing.llm_server", "--script", str(script),
                                   "--port", str(port), "--default", REPLY, "--model", "bench"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            base = f"http://127.0.0.1:{port}/v1"
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            results = {}
            for name, spec, kind in (("aiohttp", ModelSpec("bench", "bench", "openai", base), "aiohttp"),
                                     ("openai SDK", ModelSpec("bench", "bench", "openai", base), "sdk"),
                                     ("litellm", ModelSpec("bench", "openai/bench", "litellm", base, None), "sdk")):
                os.environ["OPENAI_API_KEY"] = "not-needed"
                cpu, wall = asyncio.run(_drive(spec, args.calls, args.concurrency, kind))
                results[name] = (cpu, wall)
        finally:
            server.terminate()
            server.wait()
    print(f"{args.calls} calls, concurrency {args.concurrency}, one local server\n")
    print(f"{'client':<12} {'cpu ms/call':>12} {'wall ms/call':>13}")
    for name, (cpu, wall) in results.items():
        print(f"{name:<12} {1000 * cpu / args.calls:>12.2f} {1000 * wall / args.calls:>13.2f}")
    fast = results["aiohttp"][0]
    print("\nCPU per call against the aiohttp client: " + ", ".join(
        f"{name} x{cpu / fast:.2f}" for name, (cpu, _) in results.items() if name != "aiohttp"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
