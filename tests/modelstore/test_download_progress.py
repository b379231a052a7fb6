"""The typed progress payload of a `modelstore.download` job."""

from apps.modelstore.downloads import Progress, download_progress


def test_the_payload_a_download_reports_reads_back_as_the_same_typed_progress():
    reported = Progress(
        bytes_done=10, bytes_total=40, files_done=1, files_total=4, speed_bps=5.4, eta_s=5.54, fetched_bytes=10
    ).as_dict()
    saved = {"current": 10, "total": 40, "percent": 25.0, **reported}  # as a job's payload carries it

    assert download_progress(saved) == reported
    assert reported["speed_bps"] == 5 and reported["eta_s"] == 5.5


def test_a_download_that_has_not_reported_yet_has_empty_progress_not_a_key_error():
    assert download_progress({}) == {
        "bytes": 0,
        "total_bytes": 0,
        "files_done": 0,
        "files_total": 0,
        "speed_bps": 0,
        "eta_s": None,
        "fetched_bytes": 0,
        "active": [],
        "message": "",
    }
