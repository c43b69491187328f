"""The garbage-collector switch of bulk parsing (tariffs.tabular.bulk) stays out of the
API process: only processes that run imports and nothing else opt in."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

from tariffs.tabular import bulk


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def test_a_parse_in_the_api_process_leaves_the_collector_on_for_concurrent_requests(tmp_path):
    # A fresh process that builds the API app and parses a file on a worker thread (what
    # eager mode does after answering a request) while the main thread serves requests.
    fees = tmp_path / "fees.csv"
    fees.write_text(
        "program_id,program_name,state,level_of_care,billing_code,frequency,gross_charge,effective_date\n"
        + "".join(f"p{i},P,TX,iop,H0015,per_service,750,2026-01-01\n" for i in range(2000)),
        encoding="utf-8",
    )
    result = run_python(
        f"""
        import gc, threading
        from costsvc.api.app import create_app
        from tariffs.csv_files import parse_fee_schedule
        from tariffs.tabular.bulk import bulk

        create_app(database_url="postgresql://unused@127.0.0.1:1/none")
        inside, release, seen = threading.Event(), threading.Event(), []

        def import_job():
            with bulk():
                parse_fee_schedule({str(fees)!r})
                inside.set()
                release.wait(10)

        t = threading.Thread(target=import_job)
        t.start()
        inside.wait(10)
        seen.append(gc.isenabled())  # what a request handled now would run with
        release.set()
        t.join()
        print(seen, gc.isenabled())
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[True] True"


def test_a_worker_process_suspends_the_collector_while_it_parses():
    result = run_python(
        """
        import gc
        from celery.signals import worker_process_init
        import jobs.celery_app  # connects the signal handler
        from tariffs.tabular.bulk import bulk

        with bulk():
            before = gc.isenabled()
        worker_process_init.send(sender=None)  # what Celery sends in each worker child
        with bulk():
            during = gc.isenabled()
        print(before, during, gc.isenabled())
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True False True"


def test_opted_in_bulk_is_reentrant_across_threads():
    was = bulk.gc_suspension_allowed()
    bulk.allow_gc_suspension()
    try:
        import gc

        entered, leave = threading.Event(), threading.Event()

        def other_parse():
            with bulk.bulk():
                entered.set()
                leave.wait(5)

        t = threading.Thread(target=other_parse)
        t.start()
        entered.wait(5)
        with bulk.bulk():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the other parse still holds it
        leave.set()
        t.join()
        assert gc.isenabled()
    finally:
        bulk.allow_gc_suspension(was)
