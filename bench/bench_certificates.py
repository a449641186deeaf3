"""Certificates per second: a single-page 世帯連記式 住民票の写し of a household of four, issued and printed.

In-process, through the product's real path: ``request_certificate`` (DV check, 交付履歴 row with the
content snapshot, fee and verification code, audit entries, commit) then ``print_certificate`` (the
first print: Jinja2 template, glyph check of every printed text, QR code, WeasyPrint with IPAmj明朝, the
``printed_at`` stamp and audit entries, commit). The database is a fresh PostgreSQL database
``jichitai_bench_certificates`` or SQLite file ``var/bench/certificates.db`` (removed at the end), with
municipality 034614 and one household of four (世帯主, 妻, two children; 世帯主・続柄 and 本籍 printed).

Baseline, in the same run and interleaved with it (one of each per round): a bare A4 page carrying the same
text as the certificate (its HTML with the tags stripped), in the same font, rendered by the same WeasyPrint
through ``documents.html_to_pdf``. ``ratio_certificates_to_bare_pages`` is certificates per second over bare
pages per second: what the certificate's layout, the database work, the glyph check and the QR code cost
beside the PDF library's own floor. The render-only time (template + glyph check + QR + PDF, no database) is
reported too, in wall time and in the rendering thread's CPU time (which other load on the machine moves
less).

Then the memory part (``--threads``, default 8): the certificate rendered 4 times in each of 8 threads at
once, as a server's request threads would; the process's RSS and peak RSS after it (``/proc/self/status``),
the renderers (font copies) the process made, and the PDFs per second of the threaded run.

Run: ``.venv/bin/python bench/bench_certificates.py [--database sqlite] [--rounds 200] [--threads 8]``
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _common import VAR, create_town, drop_pg_database, emit, fresh_database, machine, open_engine, percentile
from jichitai.modules.registry.certificates.documents import print_certificate
from jichitai.modules.registry.certificates.pdf import PrintInfo, render_html, render_pdf
from jichitai.modules.registry.certificates.rules import CertificateOut
from jichitai.modules.registry.certificates.services import request_certificate
from jichitai.modules.registry.records import schemas
from jichitai.modules.registry.records.services.record import record_event
from jichitai.modules.registry.support.schemas import CertificateIn
from jichitai.platform import documents
from jichitai.platform.audit import Actor
from jichitai.platform.db import UnitOfWork
from jichitai.platform.tenancy import Tenant

PG_NAME = "jichitai_bench_certificates"
SQLITE_NAME = "certificates"
CLERK = Actor("bench-clerk", role="registry_clerk", purpose="certificate")


def household(engine: Any, tenant: Tenant) -> tuple[str, str]:
    """A household of four moved in; returns the 世帯主's 宛名番号 and the 世帯番号."""
    honseki = {"honseki": "岩手県上閉伊郡大槌町本町一丁目2番地", "honseki_head": "山田　太郎"}
    people = [
        ("太郎", "タロウ", "1980-05-05", "male", "世帯主", honseki),
        ("花子", "ハナコ", "1983-03-03", "female", "妻", honseki),
        ("一郎", "イチロウ", "2012-06-01", "male", "子", honseki),
        ("桜", "サクラ", "2015-09-09", "female", "子", honseki),
    ]
    body = schemas.MoveIn.model_validate(
        {
            "type": "domestic_move_in",
            "event_date": "2026-04-01",
            "previous_address": "宮城県仙台市青葉区本町三丁目8番1号",
            "address": {"area": "本町一丁目", "number": "2番3号", "postal_code": "0281115"},
            "persons": [
                {
                    "family_name": "山田",
                    "given_name": given,
                    "family_kana": "ヤマダ",
                    "given_kana": kana,
                    "kana_confirmed": True,
                    "birth_date": birth,
                    "sex": sex,
                    "relationship": rel,
                    **extra,
                }
                for given, kana, birth, sex, rel, extra in people
            ],
        }
    )
    with UnitOfWork(engine) as uow:
        event = record_event(uow, tenant, body, actor="bench")
    head = event.persons[0].atena_no
    with UnitOfWork(engine, write=False) as uow:
        from jichitai.modules.registry.records import queries

        household_no = queries.current_record(uow.session, tenant, head).household_no
    return head, household_no


def request(head: str, household_no: str) -> CertificateIn:
    return CertificateIn.model_validate(
        {
            "type": "resident_record",
            "style": "household",
            "household_no": household_no,
            "items": {"household": True, "honseki": True},
            "requester": {"category": "self", "name": "山田　太郎", "atena_no": head},
        }
    )


def issue_and_print(engine: Any, tenant: Tenant, body: CertificateIn) -> bytes:
    with UnitOfWork(engine) as uow:
        issued = request_certificate(
            uow, tenant, body, actor=CLERK, principal_may_override=False, reveal_my_number=True
        )
    with UnitOfWork(engine) as uow:
        printed = print_certificate(
            uow, tenant, issued.issue_no, actor=CLERK, reveal_my_number=True, base_url="https://bench.invalid"
        )
    return printed.pdf


def page_count(pdf: bytes) -> int | None:
    """Pages of a PDF by poppler's ``pdfinfo`` (WeasyPrint compresses its objects), None without poppler."""
    if shutil.which("pdfinfo") is None:
        return None
    out = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    match = re.search(r"^Pages:\s+(\d+)", out, re.MULTILINE)
    return int(match.group(1)) if match else None


def bare_page(content: CertificateOut, info: PrintInfo) -> str:
    """An A4 page with the certificate's text, no table, no QR, same font."""
    text = html.unescape(
        re.sub(r"<[^>]+>", " ", re.sub(r"(?s)<(style|title)>.*?</\1>", "", render_html(content, info)))
    )
    words = " ".join(text.split())
    return (
        f"<html><head><style>{documents.font_face_css()}"
        '@page { size: A4 portrait; margin: 14mm } html { font-family: "MJ"; font-size: 8.5pt }'
        f"</style></head><body><p>{html.escape(words)}</p></body></html>"
    )


def status_mib() -> dict[str, int]:
    """VmRSS, VmHWM (peak), RssAnon and RssFile of this process, in MiB."""
    wanted = {"VmRSS", "VmHWM", "RssAnon", "RssFile"}
    out: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in wanted:
                out[key] = int(value.split()[0]) // 1024
    return out


def threaded(content: CertificateOut, info: PrintInfo, threads: int) -> dict[str, Any]:
    """The certificate rendered 4 times in each of ``threads`` threads at once; memory and rate after it."""
    if threads < 1:
        return {}
    made = documents.renderers_made() if hasattr(documents, "renderers_made") else None
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda _: render_pdf(content, info), range(4 * threads)))
    seconds = time.perf_counter() - began
    memory = status_mib()
    return {
        "threads": threads,
        "threaded_pdfs_per_second": 4 * threads / seconds,
        "rss_mib_after_threads": memory.get("VmRSS"),
        "rss_anon_mib_after_threads": memory.get("RssAnon"),
        "rss_file_mib_after_threads": memory.get("RssFile"),
        "peak_rss_mib": memory.get("VmHWM"),
        "renderers_made": None if made is None else documents.renderers_made() - made,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--threads", type=int, default=8, help="threads of the memory part (0: skip it)")
    args = parser.parse_args()
    if documents.find_mj_font() is None:
        raise SystemExit("IPAmj明朝 is not installed: apt-get install fonts-ipamj-mincho")

    load_before = machine()
    url = fresh_database(args.database, PG_NAME if args.database == "postgresql" else SQLITE_NAME)
    engine = open_engine(url, pool_size=2)
    cert_times: list[float] = []
    bare_times: list[float] = []
    render_times: list[float] = []
    render_cpu: list[float] = []
    memory: dict[str, Any] = {}
    try:
        tenant = create_town(engine)
        head, household_no = household(engine, tenant)
        body = request(head, household_no)
        first = issue_and_print(engine, tenant, body)  # warm-up: font, templates, caches
        pages = page_count(first)
        with UnitOfWork(engine, write=False) as uow:
            from jichitai.modules.registry.certificates.models import CertificateIssue

            row = uow.session.get(CertificateIssue, (tenant.lg_code, 1))
            assert row is not None
            content = CertificateOut.model_validate(row.content)
            info = PrintInfo(issue_no=1, verify_url=f"https://bench.invalid/verify/{row.verify_code}")
        bare = bare_page(content, info)
        documents.html_to_pdf(bare)
        for n in range(args.rounds):
            began = time.perf_counter()
            issue_and_print(engine, tenant, body)
            cert_times.append(time.perf_counter() - began)
            began = time.perf_counter()
            documents.html_to_pdf(bare)
            bare_times.append(time.perf_counter() - began)
            began, cpu = time.perf_counter(), time.thread_time()
            render_pdf(content, info)
            render_times.append(time.perf_counter() - began)
            render_cpu.append(time.thread_time() - cpu)
            if n % 20 == 19:
                print(f"\r{n + 1} rounds", end="", file=sys.stderr)
        print(file=sys.stderr)
        rss_before_threads = status_mib().get("VmRSS")
        memory = {"rss_mib_before_threads": rss_before_threads, **threaded(content, info, args.threads)}
    finally:
        engine.dispose()
        if args.database == "postgresql":
            drop_pg_database(PG_NAME)
        else:
            for suffix in ("", "-wal", "-shm"):
                (VAR / f"{SQLITE_NAME}.db{suffix}").unlink(missing_ok=True)
    cert_total, bare_total = sum(cert_times), sum(bare_times)
    result: dict[str, Any] = {
        "benchmark": "certificates",
        "database": args.database,
        "rounds": args.rounds,
        "pages_per_certificate": pages,
        "certificate_bytes": len(first),
        "certificates_per_second": args.rounds / cert_total,
        "certificate_p50_ms": percentile(cert_times, 50) * 1000,
        "certificate_p99_ms": percentile(cert_times, 99) * 1000,
        "render_only_p50_ms": percentile(render_times, 50) * 1000,
        "render_only_cpu_p50_ms": percentile(render_cpu, 50) * 1000,
        "bare_pages_per_second": args.rounds / bare_total,
        "bare_page_p50_ms": percentile(bare_times, 50) * 1000,
        "ratio_certificates_to_bare_pages": (args.rounds / cert_total) / (args.rounds / bare_total),
    }
    result.update(memory)
    result.update(load_before)
    emit(result)


if __name__ == "__main__":
    main()
