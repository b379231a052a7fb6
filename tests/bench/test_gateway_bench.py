"""Gateway overhead, measured the way gateway projects publish it.

The same chat request to a fast fake backend on this host, directly and through Modelyard, at
concurrency 1, 32 and 100: p50/p99 of both, the milliseconds the gateway adds, errors, and the
time to the first streamed token. Run under daphne (what `serve` uses) and under uvicorn.
Run with `make bench`; the figures go in the README.
"""

import asyncio
import statistics
import subprocess
import sys
import time

import httpx
import pytest

from tests.fakes.servers import ROOT, database_env, free_port, start_live_server

pytestmark = [pytest.mark.bench, pytest.mark.django_db(transaction=True)]

REQUESTS_PER_LEVEL = 300
LEVELS = (1, 32, 100)
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "ping"}], "max_tokens": 8}


async def measure(url: str, concurrency: int, total: int) -> tuple[list[float], int]:
    latencies, errors = [], 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        semaphore = asyncio.Semaphore(concurrency)

        async def one() -> None:
            nonlocal errors
            async with semaphore:
                started = time.perf_counter()
                try:
                    response = await client.post("/v1/chat/completions", json=BODY)
                    response.raise_for_status()
                except httpx.HTTPError:
                    errors += 1
                    return
                latencies.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(one() for _ in range(20)))  # warm-up: connections, caches
        latencies.clear()
        await asyncio.gather(*(one() for _ in range(total)))
    return latencies, errors


async def time_to_first_token(url: str, runs: int = 20) -> float:
    samples = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for _ in range(runs):
            started = time.perf_counter()
            async with client.stream("POST", "/v1/chat/completions", json={**BODY, "stream": True}) as response:
                async for line in response.aiter_lines():
                    if '"content": "' in line and '"content": ""' not in line:
                        samples.append((time.perf_counter() - started) * 1000)
                        break
    return statistics.median(samples)


def p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def report(server_name: str, direct_url: str, gateway_url: str) -> list[str]:
    lines = []
    for concurrency in LEVELS:
        direct, direct_errors = asyncio.run(measure(direct_url, concurrency, REQUESTS_PER_LEVEL))
        via, via_errors = asyncio.run(measure(gateway_url, concurrency, REQUESTS_PER_LEVEL))
        lines.append(
            f"{server_name:<8} c={concurrency:<4} direct p50 {p(direct, 50):6.1f} ms p99 {p(direct, 99):6.1f} ms | "
            f"gateway p50 {p(via, 50):6.1f} ms p99 {p(via, 99):6.1f} ms | "
            f"added p50 {p(via, 50) - p(direct, 50):+6.1f} ms p99 {p(via, 99) - p(direct, 99):+6.1f} ms | "
            f"errors {direct_errors}/{via_errors}"
        )
    ttft_direct, ttft_via = asyncio.run(time_to_first_token(direct_url)), asyncio.run(time_to_first_token(gateway_url))
    lines.append(f"{server_name:<8} time to first token: direct {ttft_direct:.1f} ms, gateway {ttft_via:.1f} ms")
    return lines


def start_uvicorn(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "project.asgi:application", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=database_env(),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health/liveness", timeout=2)
            return process
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("uvicorn did not start")


def start_fake_backend() -> tuple[subprocess.Popen, str]:
    """The fake in a process of its own: sharing the load generator's GIL would distort it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.backends_openai", "--name", "bench", "--models", "gpt-4o-mini"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    return process, process.stdout.readline().strip()


def test_gateway_overhead_under_daphne_and_uvicorn(tmp_path):
    fake, fake_url = start_fake_backend()
    daphne = start_live_server(tmp_path / "serve.log")
    uvicorn_port = free_port()
    uvicorn = start_uvicorn(uvicorn_port)
    try:
        created = httpx.post(f"{daphne.url}/backends", json={"name": "bench", "baseUrl": fake_url, "type": "openai"})
        assert created.status_code == 201
        lines = report("daphne", fake_url, daphne.url) + report("uvicorn", fake_url, f"http://127.0.0.1:{uvicorn_port}")
    finally:
        uvicorn.terminate()
        uvicorn.wait(10)
        daphne.stop()
        fake.terminate()
        fake.wait(10)
    print("\n" + "\n".join(lines))
