"""Benchmark of the HTTP service: requests/s and p50/p99 latency of ``POST /v1/recommendations`` (ad-hoc text,
~300 institutions) beside ``GET /healthz`` of the same server, at 16 and 64 connections.

Set-up: a simulator city (300 institutions, 1,000 enterprises with their outcomes) imported into a SQLite
store in a temporary folder, one admin key, and ``smematch serve`` started in a subprocess on 127.0.0.1 (JSON
logs at ``warning``: the access log off, as a loaded production server would run it). Load comes from another
subprocess: a small closed-loop generator on asyncio streams (HTTP/1.1 keep-alive, one coroutine per
connection; lighter than httpx, so the client steals as little as possible of the 2 cores it shares with the
server). Each run warms up for 1 s and then measures for ``--seconds``; the texts cycle through real
simulator problem texts with their sector, region and amount.

    .venv/bin/python benchmarks/bench_api.py [--seconds 8] [--workers 1] [--connections 16 64]

Prints one table (requests/s, p50, p99, errors, the server's CPU time per request (its processes' user+system
time over the run: a figure other load on the machine inflates less than wall-clock latency), the cores that
CPU amounts to, and the mean number of problems per engine call) and the recommendation/trivial throughput
ratios. Then, after the server has stopped, the engine alone in this process (``Matcher.recommend`` in calls
as large as each run's mean micro-batch, on the server's data and model) and the ceiling it puts on the ratio:
a recommendation costs the server at least a trivial request's CPU plus the engine's, and both endpoints are
limited by the same CPU.
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# ------------------------------------------------------------------------------------------- the load generator


def _request(method: str, path: str, key: str, body: bytes | None) -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"X-API-Key: {key}", "Connection: keep-alive"]
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + (body or b"")


async def _connection(port: int, requests: list[bytes], offset: int, stop_at: float, warm_until: float,
                      latencies: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = offset
    try:
        while True:
            started = time.perf_counter()
            if started >= stop_at:
                return
            writer.write(requests[i % len(requests)])
            i += 1
            status_line = await reader.readline()
            length = 0
            chunked = False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
            if chunked:
                while True:
                    size = int((await reader.readline()).strip(), 16)
                    await reader.readexactly(size + 2)
                    if size == 0:
                        break
            else:
                await reader.readexactly(length)
            ended = time.perf_counter()
            if started >= warm_until:
                if not status_line.startswith(b"HTTP/1.1 2"):
                    errors.append(1)
                latencies.append(ended - started)
    finally:
        writer.close()


async def _load(port: int, requests: list[bytes], connections: int, seconds: float, warmup: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[int] = []
    now = time.perf_counter()
    warm_until, stop_at = now + warmup, now + warmup + seconds
    await asyncio.gather(*(
        _connection(port, requests, c * 7, stop_at, warm_until, latencies, errors) for c in range(connections)
    ))
    latencies.sort()
    n = len(latencies)

    def quantile(q: float) -> float:
        return latencies[min(n - 1, int(q * n))] * 1000 if n else float("nan")

    return {"requests": n, "seconds": seconds, "rps": n / seconds, "p50_ms": quantile(0.50),
            "p99_ms": quantile(0.99), "errors": len(errors)}


def load_main(args: argparse.Namespace) -> None:
    requests = [bytes.fromhex(r) for r in json.loads(Path(args.requests).read_text())]
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # the plain asyncio loop is fine, only slower
        pass
    result = asyncio.run(_load(args.port, requests, args.connections[0], args.seconds, args.warmup))
    print(json.dumps(result))


# ------------------------------------------------------------------------------------------- set-up and runs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(folder: Path) -> tuple[dict[str, str], str, list[dict[str, Any]]]:
    """A store with a simulated city, an admin key, and ad-hoc request bodies from its problems."""
    from matching.tables.files import read_tables
    from service.api.keys import create_key
    from service.store import create_schema, import_tables, make_engine
    from training.simulator.generate import simulate, write

    data_dir = folder / "data"
    write(simulate(n_enterprises=1000, n_institutions=300, seed=7), data_dir)
    tables = read_tables(data_dir)
    url = f"sqlite:///{folder / 'bench.db'}"
    engine = make_engine(url)
    create_schema(engine)
    import_tables(engine, tables)
    key, _ = create_key(engine, "caseworker", "bench")
    engine.dispose()
    problems = tables.problems.merge(tables.enterprises[["enterprise_id", "sector", "region"]], on="enterprise_id")
    bodies = []
    for row in problems.head(400).itertuples():
        body: dict[str, Any] = {"text": row.text, "sector": row.sector, "region": row.region, "k": 5}
        if row.amount == row.amount:  # not NaN
            body["amount"] = float(row.amount)
        bodies.append(body)
    env = {**os.environ, "SMEMATCH_DATABASE_URL": url, "SMEMATCH_MODELS_DIR": str(folder / "models"),
           "SMEMATCH_SPOOL_DIR": str(folder / "spool"), "SMEMATCH_LOG_LEVEL": "warning",
           "SMEMATCH_DOCS_ENABLED": "false"}
    return env, key, bodies


def _wait_ready(port: int, server: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode} before it was ready")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server was not ready in time")


def _server_cpu(pid: int) -> float:
    """CPU seconds used so far by the server process and its workers."""
    import psutil

    process = psutil.Process(pid)
    total = 0.0
    for one in [process, *process.children(recursive=True)]:
        try:
            times = one.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def _batches(port: int) -> tuple[float, float]:
    """(engine calls, problems scored) so far, from the server's own metrics."""
    import httpx

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5.0).text
    values = dict(line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("smematch_recommendation_batch"))
    return (float(values.get("smematch_recommendation_batch_size_count", 0)),
            float(values.get("smematch_recommendation_batch_size_sum", 0)))


def _run_load(port: int, requests_file: Path, connections: int, seconds: float, pid: int) -> dict[str, Any]:
    cpu_before = _server_cpu(pid)
    calls_before, problems_before = _batches(port)
    out = subprocess.run(
        [sys.executable, __file__, "--load", "--port", str(port), "--requests", str(requests_file),
         "--connections", str(connections), "--seconds", str(seconds), "--warmup", "1"],
        capture_output=True, text=True, timeout=seconds + 60,
    )
    if out.returncode != 0:
        raise SystemExit(f"the load generator failed:\n{out.stderr}")
    result = json.loads(out.stdout)
    # Server CPU per request over warm-up and run (both loaded): a figure that other load on the machine
    # does not inflate the way it inflates wall-clock latency.
    result["cpu_ms"] = (_server_cpu(pid) - cpu_before) * 1000 / max(1, result["requests"] * (seconds + 1) / seconds)
    calls, problems = _batches(port)
    result["batch"] = (problems - problems_before) / (calls - calls_before) if calls > calls_before else float("nan")
    return result


def _engine_cost(env: dict[str, str], bodies: list[dict[str, Any]], sizes: set[int],
                 calls: int = 60) -> dict[int, float]:
    """Per call size, the median process CPU (ms) per problem of the engine alone, in this process, on the
    server's data and model: ``Matcher.recommend`` on the benchmark's bodies in calls of that many problems
    (the server's mean micro-batch in a run), rows as the route makes them. A floor under what a
    recommendation costs the server."""
    from pydantic import TypeAdapter

    from matching.tables.context import fit_matcher
    from service.api.recommending import problems_for
    from service.api.schemas import RecommendationIn
    from service.api.state import initial_ranker
    from service.store import load_tables, make_engine

    engine = make_engine(env["SMEMATCH_DATABASE_URL"])
    try:
        tables = load_tables(engine)
        # The route's own request model and rows (ad-hoc text: one row each, no database read).
        adapter = TypeAdapter(RecommendationIn)
        rows = [row for body in bodies for row in problems_for(engine, adapter.validate_python(body))[0]]
    finally:
        engine.dispose()
    ranker, _ = initial_ranker(Path(env["SMEMATCH_MODELS_DIR"]))
    matcher = fit_matcher(tables, ranker)
    costs = {}
    for size in sorted(sizes):
        per_problem = []
        for call in range(calls + 5):
            start = (call * size) % (len(rows) - size)
            began = time.process_time()
            matcher.recommend(rows[start:start + size], k=5)
            if call >= 5:  # the first calls warm caches up
                per_problem.append((time.process_time() - began) * 1000 / size)
        per_problem.sort()
        costs[size] = per_problem[len(per_problem) // 2]
    return costs


def _call_size(result: dict[str, Any], connections: int) -> int:
    """The run's mean engine call, rounded; with several workers (no mean to read) at most 16 problems."""
    batch = result["batch"]
    return max(1, round(batch)) if batch == batch else min(16, connections)


def _batch_column(result: dict[str, Any], workers: int) -> str:
    # With several workers each has its own metrics, and /metrics answers from whichever: no mean to report.
    return "n/a" if workers > 1 or result["batch"] != result["batch"] else f"{result['batch']:.1f}"


def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="smematch-bench-api-") as tmp:
        folder = Path(tmp)
        print("preparing a city of 300 institutions and 1,000 enterprises ...", flush=True)
        env, key, bodies = _prepare(folder)
        if args.models:  # serve a trained bundle (``<models>/current``) instead of the cold-start baseline
            env["SMEMATCH_MODELS_DIR"] = str(Path(args.models).resolve())
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-c", "from service.cli import main; main()", "serve", "--port", str(port),
             "--workers", str(args.workers)],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            _wait_ready(port, server)
            load_before = f"{os.getloadavg()[0]:.2f}"
            scenarios = {
                "GET /healthz": [_request("GET", "/healthz", key, None)],
                "POST /v1/recommendations": [
                    _request("POST", "/v1/recommendations", key, json.dumps(b, ensure_ascii=False).encode())
                    for b in bodies
                ],
            }
            files = {}
            for name, requests in scenarios.items():
                files[name] = folder / f"{name.split()[1].strip('/').replace('/', '_')}.json"
                files[name].write_text(json.dumps([r.hex() for r in requests]))
            rows = []
            for connections in args.connections:
                for name in scenarios:
                    result = _run_load(port, files[name], connections, args.seconds, server.pid)
                    rows.append((name, connections, result))
                    print(f"  {name:<26} {connections:>3} connections: {result['rps']:8.0f} req/s", flush=True)
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
        # After the server has stopped, so neither slows the other.
        engine_ms = _engine_cost(env, bodies, {_call_size(r, c) for name, c, r in rows if name.startswith("POST")})
    print()
    print(f"smematch HTTP service, {os.cpu_count()} cores, {args.workers} worker(s), "
          f"{args.seconds:g} s per run after 1 s warm-up, load from a separate process on 127.0.0.1")
    print(f"load average before the runs: {load_before}, after: {os.getloadavg()[0]:.2f}")
    print(f"{'endpoint':<26} {'conns':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
          f"{'CPU ms/req':>11} {'cores':>6} {'batch':>6}")
    for name, connections, r in rows:
        # cores: the server's CPU over the run per second, what limits both endpoints alike when near 1 a worker
        print(f"{name:<26} {connections:>5} {r['rps']:>8.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
              f"{r['errors']:>7} {r['cpu_ms']:>11.2f} {r['rps'] * r['cpu_ms'] / 1000:>6.2f} "
              f"{_batch_column(r, args.workers):>6}")
    print()
    for size, cost in sorted(engine_ms.items()):
        print(f"engine alone (Matcher.recommend in calls of {size} on the same data and model, no HTTP, no log): "
              f"{cost:.3f} ms CPU per problem")
    for connections in args.connections:
        by_name = {name: r for name, c, r in rows if c == connections}
        ratio = by_name["POST /v1/recommendations"]["rps"] / by_name["GET /healthz"]["rps"]
        p99 = by_name["POST /v1/recommendations"]["p99_ms"]
        print(f"{connections} connections: recommendations at {ratio:.0%} of the trivial endpoint's throughput "
              f"(target >= 40%); recommendation p99 {p99:.1f} ms"
              + (" (target < 25 ms)" if connections == 16 else ""))
        # The floor: a recommendation costs the server at least what /healthz costs it (reading a request,
        # answering it) plus the engine's work for its problem. With both endpoints limited by the same CPU,
        # the throughput ratio cannot exceed the ratio of those costs.
        trivial = by_name["GET /healthz"]["cpu_ms"]
        engine = engine_ms[_call_size(by_name["POST /v1/recommendations"], connections)]
        print(f"{connections} connections: ceiling if reading, validating, logging and answering a recommendation "
              f"cost no more than /healthz: {trivial:.3f} / ({trivial:.3f} + {engine:.3f}) = "
              f"{trivial / (trivial + engine):.0%}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--requests", help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=float, default=1.0, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per run")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--models", help="a models folder whose current/ bundle the server loads (default: none,"
                        " the baseline ranker)")
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64])
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    if arguments.load:
        load_main(arguments)
    else:
        main(arguments)
