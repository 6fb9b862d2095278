"""Benchmark of catalogue refits under a burst of edits: 100 institution edits in 10 s, how many refits they
cause, and the recommendation latency meanwhile, beside a baseline of the same server with no edits.

Set-up: a simulator city (300 institutions, 1,000 enterprises with their outcomes) in a SQLite store in a
temporary folder, a caseworker and a curator key, and ``smematch serve`` (1 worker, default refit settings:
``SMEMATCH_REFIT_QUIET_SECONDS``, ``SMEMATCH_REFIT_MAX_DELAY_SECONDS``) in a subprocess on 127.0.0.1.
Recommendations (ad-hoc texts of the city's problems) come from ``--clients`` closed-loop clients on keep-alive
connections. Two runs of ``--seconds`` each: the baseline (recommendations only), then the burst (the same
recommendations while a curator ``PUT``\\ s 100 institution edits spread evenly over the run). Refits are read
from the server's ``smematch_catalogue_refits_total`` before and after each run (after the burst, once the
last refit has had time to run).

    .venv/bin/python benchmarks/bench_refits.py [--seconds 10] [--edits 100] [--clients 2]

Prints one table: run, recommendations, p50 and p99 (ms), errors, edits, edit p99 (ms), refits.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import machine, print_table  # noqa: E402
from bench_api import _free_port, _prepare, _wait_ready  # noqa: E402


def _refits(base: str) -> int:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    line = next(line for line in text.splitlines() if line.startswith("smematch_catalogue_refits_total "))
    return int(float(line.split()[1]))


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def _recommend(base: str, key: str, bodies: list[dict[str, Any]], offset: int, stop_at: float,
               latencies: list[float], errors: list[int]) -> None:
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30) as client:
        i = offset
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            response = client.post("/v1/recommendations", json=bodies[i % len(bodies)])
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                errors.append(response.status_code)
            i += 1


def _edit(base: str, key: str, edits: int, seconds: float, latencies: list[float], errors: list[int]) -> None:
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30) as client:
        listed = client.get("/v1/institutions", params={"limit": 100}).json()["items"]
        records = [{k: v for k, v in item.items() if k not in ("institution_id", "score")} for item in listed]
        ids = [item["institution_id"] for item in listed]
        started = time.monotonic()
        for n in range(edits):
            due = started + n * seconds / edits
            time.sleep(max(0.0, due - time.monotonic()))
            record = {**records[n % len(records)], "capacity": 10 + n}
            began = time.perf_counter()
            response = client.put(f"/v1/institutions/{ids[n % len(ids)]}", json=record)
            latencies.append(time.perf_counter() - began)
            if response.status_code != 200:
                errors.append(response.status_code)


def _run(base: str, keys: dict[str, str], bodies: list[dict[str, Any]], args: argparse.Namespace, *,
         edits: int) -> dict[str, Any]:
    before = _refits(base)
    latencies: list[float] = []
    errors: list[int] = []
    edit_latencies: list[float] = []
    edit_errors: list[int] = []
    stop_at = time.monotonic() + args.seconds
    threads = [threading.Thread(target=_recommend, args=(base, keys["caseworker"], bodies, 37 * c, stop_at,
                                                         latencies, errors)) for c in range(args.clients)]
    if edits:
        threads.append(threading.Thread(target=_edit, args=(base, keys["curator"], edits, args.seconds,
                                                            edit_latencies, edit_errors)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if edits:
        time.sleep(args.settle)  # the last edits' refit runs after the quiet period
    return {
        "run": "burst of edits" if edits else "baseline (no edits)",
        "recommendations": len(latencies), "p50_ms": _quantile(latencies, 0.50), "p99_ms": _quantile(latencies, 0.99),
        "errors": len(errors) + len(edit_errors), "edits": len(edit_latencies),
        "edit_p99_ms": _quantile(edit_latencies, 0.99) if edits else None, "refits": _refits(base) - before,
    }


def main(args: argparse.Namespace) -> None:
    from service.api.keys import create_key
    from service.store import make_engine

    with tempfile.TemporaryDirectory(prefix="bench-refits-") as temp:
        folder = Path(temp)
        env, caseworker, bodies = _prepare(folder)
        engine = make_engine(env["SMEMATCH_DATABASE_URL"])
        curator, _ = create_key(engine, "curator", "bench curator")
        engine.dispose()
        keys = {"caseworker": caseworker, "curator": curator}
        port = _free_port()
        server = subprocess.Popen([sys.executable, "-c", "from service.cli import main; main()", "serve", "--port",
                                   str(port)], cwd=ROOT,
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_ready(port, server)
            base = f"http://127.0.0.1:{port}"
            for body in bodies[:20]:  # warm-up
                httpx.post(f"{base}/v1/recommendations", json=body, headers={"X-API-Key": caseworker}, timeout=30)
            rows = [_run(base, keys, bodies, args, edits=0), _run(base, keys, bodies, args, edits=args.edits)]
        finally:
            server.terminate()
            server.wait(timeout=30)
    print_table(f"refits under {args.edits} institution edits in {args.seconds:g} s ({args.clients} recommendation "
                f"clients; {machine()}; {os.environ.get('SMEMATCH_REFIT_QUIET_SECONDS', 'default')} quiet s)",
                rows, ["run", "recommendations", "p50_ms", "p99_ms", "errors", "edits", "edit_p99_ms", "refits"])


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--edits", type=int, default=100)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--settle", type=float, default=8.0, help="seconds to wait for the last refit")
    return parser.parse_args()


if __name__ == "__main__":
    main(parse())
