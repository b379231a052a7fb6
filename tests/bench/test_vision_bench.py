"""OCR throughput (issue 19): pages per second through `POST /v1/vision/ocr` against the OCR engine
called directly on the same pages, in one run (`make bench`).

The pages: a scanned-style PDF of PAGES A5 pages (page images of known text, no text layer),
rendered at the server's MODELYARD_VISION_PDF_DPI. The API side is `manage.py serve` with one
worker (the request waits for its job: upload, staging, queueing, rendering, OCR, answer); the
direct side renders the same PDF with `pages_render` and calls the same engine in this process,
with the same thread count (MODELYARD_TORCH_THREADS=1). Both are warmed first (the engine's models
loaded), then run ROUNDS times each, alternated while the server is up, so that both see the same
background load; the medians are compared. The aim is a ratio of at least 0.9.
"""

import statistics
import time

import httpx
import pytest
from django.conf import settings

from apps.inference.ocr import ocr_engine_get
from apps.inference.ocr.pages import pages_render
from tests.fakes.servers import start_live_server
from tests.fakes.vision_documents import GLACIER_LINES, INVOICE_LINES, MEADOW_LINES, render_lines, scanned_pdf

pytestmark = [pytest.mark.bench, pytest.mark.ml, pytest.mark.django_db]

PAGES = 6
ROUNDS = 3


@pytest.mark.timeout(1200)
def test_ocr_pages_per_second_through_the_api_against_the_engine_directly(tmp_path, django_db_blocker):
    texts = [INVOICE_LINES, GLACIER_LINES, MEADOW_LINES]
    pdf = scanned_pdf([render_lines(texts[page % 3], size=40) for page in range(PAGES)])
    with django_db_blocker.unblock():
        server = start_live_server(
            tmp_path / "serve.log",
            MODELYARD_HOME=str(tmp_path / "home"),
            MODELYARD_WORKERS="1",
            MODELYARD_VISION_MAX_PAGES=str(PAGES),
            MODELYARD_SECRET_KEY=settings.SECRET_KEY,
        )
    engine = ocr_engine_get(name="paddleocr")
    dpi, limit = settings.MODELYARD_VISION_PDF_DPI, settings.MODELYARD_VISION_MAX_PIXELS

    def directly() -> float:
        started = time.perf_counter()
        for image in pages_render(data=pdf, label="bench.pdf", dpi=dpi, max_pixels=limit):
            engine.read(image=image, languages=["en"])
        return time.perf_counter() - started

    api_times, direct_times = [], []
    try:
        with httpx.Client(base_url=server.url, timeout=600) as http:

            def through_api() -> float:
                started = time.perf_counter()
                response = http.post("/v1/vision/ocr", files={"file": ("bench.pdf", pdf, "application/pdf")})
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, response.text
                assert response.json()["usage"]["images_processed"] == PAGES
                return elapsed

            through_api()  # warm: the worker loads the engine
            directly()  # warm: this process loads it
            # Alternated, with the server up (idle) during the direct rounds: both sides see the
            # same background load on the machine.
            for _ in range(ROUNDS):
                api_times.append(through_api())
                direct_times.append(directly())
    finally:
        server.stop()

    from apps.core.models import Job

    with django_db_blocker.unblock():
        runs = Job.objects.filter(kind="vision.ocr", state=Job.State.SUCCESS).order_by("-created_at")[:ROUNDS]
        job_times = [(job.finished_at - job.started_at).total_seconds() for job in runs]
    api_rate = PAGES / statistics.median(api_times)
    direct_rate = PAGES / statistics.median(direct_times)
    ratio = api_rate / direct_rate
    print(
        f"\nOCR, {PAGES} A5 pages at {dpi} dpi, {ROUNDS} rounds: /v1/vision/ocr {api_rate:.2f} pages/s, "
        f"engine directly {direct_rate:.2f} pages/s, ratio {ratio:.2f} (aim >= 0.9); the worker's job itself "
        f"{PAGES / statistics.median(job_times):.2f} pages/s"
    )
    assert api_rate > 0 and direct_rate > 0
