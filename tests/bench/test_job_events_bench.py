"""How fast progress reaches a client: the SSE stream against polling the job every 0.5 s.

Run with `make bench`. Prints the latency from `jobs.progress()` on a worker to the client,
measured in one run for both ways of following a job, and their ratio.
"""

import json
import statistics
import threading
import time

import httpx
import pytest

from apps.core import jobs

pytestmark = [pytest.mark.bench, pytest.mark.django_db(transaction=True)]

# Steps further apart than PROGRESS_MIN_INTERVAL_S, so none is coalesced.
STEPS, PAUSE_S, POLL_S = 24, 0.25, 0.5


def sse_latencies(url: str) -> list[float]:
    latencies = []
    with httpx.stream("GET", url, timeout=120) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                sent_at = json.loads(line[6:])["progress"].get("sent_at")
                if sent_at:
                    latencies.append(time.time() - sent_at)
    return latencies


def polling_latencies(url: str, done: threading.Event) -> list[float]:
    latencies, last_sent = [], None
    while not done.is_set():
        sent_at = httpx.get(url).json()["progress"].get("sent_at")
        if sent_at and sent_at != last_sent:
            latencies.append(time.time() - sent_at)
            last_sent = sent_at
        time.sleep(POLL_S)
    return latencies


def test_sse_delivers_progress_faster_than_polling(modelyard_server):
    job = jobs.job_enqueue(
        kind="bench", func="tests.fakes.jobs.timed_steps", params={"steps": STEPS, "pause_s": PAUSE_S}
    )
    done, polled = threading.Event(), []
    poller = threading.Thread(
        target=lambda: polled.extend(polling_latencies(f"{modelyard_server.url}/api/v1/jobs/{job.id}", done))
    )
    poller.start()
    streamed = sse_latencies(f"{modelyard_server.url}/api/v1/jobs/{job.id}/events")
    done.set()
    poller.join()

    sse_median, poll_median = statistics.median(streamed), statistics.median(polled)
    print(
        f"\njob progress latency over {STEPS} steps: SSE median {sse_median * 1000:.1f} ms "
        f"(p95 {statistics.quantiles(streamed, n=20)[-1] * 1000:.1f} ms, {len(streamed)} events); "
        f"polling every {POLL_S}s median {poll_median * 1000:.1f} ms ({len(polled)} of {STEPS} steps seen); "
        f"polling / SSE = {poll_median / sse_median:.1f}x"
    )
    assert len(streamed) >= STEPS * 0.9
