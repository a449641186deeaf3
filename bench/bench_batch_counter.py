"""Counter latency while a whole-town batch runs: p50/p99 alone, beside a chunked batch, beside a naive one.

Steps: a fresh database with municipality 034614 and ``--residents`` synthetic residents. The counter is one
thread doing what a 照会 at the window does: read a random resident's current record and append the audited
read to the town's chain, one transaction each, back to back. It runs ``--ops`` operations alone (the
baseline of this run), then for the whole run of a batch beside it: first a batch that reads every resident
and audits each read through :func:`jichitai.platform.batches.run_in_chunks` (chunks of ``--chunk``, audit
appends deferred to the chunk's end), then the same batch written naively as one transaction appending as it
goes. Figures are printed as ratios to the counter alone, so they compare across machines.

Run: ``.venv/bin/python bench/bench_batch_counter.py [--database sqlite] [--residents 5000] [--ops 400]``
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine, select

from _common import create_town, emit, fresh_database, machine, open_engine, p50_p99_ms, ratio, town_tenant
from jichitai.devdata.registry.bulk import load_population
from jichitai.modules.registry.permissions import Action
from jichitai.modules.registry.records import queries
from jichitai.modules.registry.records.models import PersonRecord
from jichitai.platform.audit import Actor, append_entries
from jichitai.platform.batches import run_in_chunks
from jichitai.platform.db import UnitOfWork, read_session
from jichitai.platform.tenancy import Tenant

DB_NAME = "jichitai_bench_batch_counter"
CLERK = Actor("bench-clerk", role="registry_clerk", purpose="resident_registry")
BATCH = Actor("bench-batch", role="registry_clerk", purpose="resident_registry")


def look_up(engine: Engine, tenant: Tenant, atena_no: str, actor: Actor) -> None:
    """One counter 照会: the current record, then the audited read, committed."""
    with UnitOfWork(engine) as uow:
        queries.current_record(uow.session, tenant, atena_no)
        append_entries(uow.session, tenant, [actor.entry(Action.RESIDENT_READ, subject=atena_no)])
        uow.commit()


def scan(uow: UnitOfWork, tenant: Tenant, atena_no: str) -> None:
    """The batch's work per resident: read the record and audit the read (an eligibility scan would)."""
    queries.current_record(uow.session, tenant, atena_no)
    append_entries(uow.session, tenant, [BATCH.entry(Action.RESIDENT_READ, subject=atena_no)])


def naive(engine: Engine, tenant: Tenant, atena_nos: list[str]) -> None:
    """The same batch as one transaction that appends as it goes (what run_in_chunks exists to avoid)."""
    with UnitOfWork(engine) as uow:
        for atena_no in atena_nos:
            scan(uow, tenant, atena_no)
        uow.commit()


def chunked(engine: Engine, tenant: Tenant, atena_nos: list[str], chunk: int) -> None:
    report = run_in_chunks(
        engine,
        tenant,
        atena_nos,
        scan,
        name="bench-scan",
        action=Action.RESIDENT_READ,
        actor=BATCH,
        key=str,
        chunk_size=chunk,
    )
    assert report.complete, report.error


def counter(
    engine: Engine,
    tenant: Tenant,
    atena_nos: list[str],
    ops: int,
    seed: int,
    until: threading.Event | None = None,
) -> list[float]:
    """``ops`` counter operations back to back, or (with ``until``) as many as fit until it is set."""
    rng = random.Random(seed)
    took: list[float] = []
    while (len(took) < ops) if until is None else not until.is_set():
        started = time.perf_counter()
        look_up(engine, tenant, rng.choice(atena_nos), CLERK)
        took.append(time.perf_counter() - started)
    return took


def batch_process(url: str, mode: str, chunk: int) -> None:
    """The batch in a process of its own, as a batch worker beside the server would run it."""
    engine = open_engine(url)
    tenant = town_tenant(engine)
    atena_nos = residents(engine, tenant)
    if mode == "chunked":
        chunked(engine, tenant, atena_nos, chunk)
    else:
        naive(engine, tenant, atena_nos)
    engine.dispose()


def residents(engine: Engine, tenant: Tenant) -> list[str]:
    """宛名番号 of the town's current records."""
    with read_session(engine) as session:
        return list(
            session.scalars(
                select(PersonRecord.atena_no).where(
                    PersonRecord.lg_code == tenant.lg_code, PersonRecord.is_current.is_(True)
                )
            )
        )


def beside(
    batch: Callable[[], None], measure: Callable[[threading.Event], list[float]]
) -> tuple[list[float], float]:
    """Run the batch in a thread (started first) while the counter works until the batch ends.

    The counter is one clerk: an operation that waits for the batch delays every later one, so the figures
    are taken over the batch's whole run (a p99 over a fixed count would hide one 30-second wait).
    """
    seconds: list[float] = []
    finished = threading.Event()

    def run() -> None:  # waits for the batch's process, so the GIL is not shared with the counter
        started = time.perf_counter()
        try:
            batch()
        finally:
            seconds.append(time.perf_counter() - started)
            finished.set()

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(1.5)  # the batch's process has started and is at work when the counter begins
    took = measure(finished)
    thread.join()
    return took, seconds[0]


def in_process(url: str, mode: str, chunk: int) -> None:
    """Run :func:`batch_process` in a spawned process and wait for it."""
    process = multiprocessing.get_context("spawn").Process(target=batch_process, args=(url, mode, chunk))
    process.start()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"the {mode} batch failed (exit {process.exitcode})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--residents", type=int, default=5000)
    parser.add_argument("--ops", type=int, default=400, help="counter operations per phase")
    parser.add_argument("--chunk", type=int, default=200)
    args = parser.parse_args()

    url = fresh_database(args.database, DB_NAME)
    engine = open_engine(url)
    tenant = create_town(engine)
    load_population(engine, tenant, args.residents, seed=3, actor="bench")
    atena_nos = residents(engine, tenant)
    counter(engine, tenant, atena_nos, 50, seed=0)  # warm the pool and the caches

    alone = counter(engine, tenant, atena_nos, args.ops, seed=1)
    with_chunks, chunked_s = beside(
        lambda: in_process(url, "chunked", args.chunk),
        lambda done: counter(engine, tenant, atena_nos, 0, 2, until=done),
    )
    with_naive, naive_s = beside(
        lambda: in_process(url, "naive", args.chunk),
        lambda done: counter(engine, tenant, atena_nos, 0, 3, until=done),
    )
    a50, a99 = p50_p99_ms(alone)
    c50, c99 = p50_p99_ms(with_chunks)
    n50, n99 = p50_p99_ms(with_naive)
    emit(
        {
            "bench": "batch_counter",
            "database": args.database,
            "residents": len(atena_nos),
            "ops": args.ops,
            "chunk": args.chunk,
            "counter_alone_p50_ms": a50,
            "counter_alone_p99_ms": a99,
            "counter_alone_max_ms": max(alone) * 1000,
            "with_chunked_batch_ops": len(with_chunks),
            "with_chunked_batch_max_ms": max(with_chunks) * 1000,
            "with_naive_batch_ops": len(with_naive),
            "with_naive_batch_max_ms": max(with_naive) * 1000,
            "with_chunked_batch_p50_ms": c50,
            "with_chunked_batch_p99_ms": c99,
            "with_naive_batch_p50_ms": n50,
            "with_naive_batch_p99_ms": n99,
            "chunked_batch_seconds": chunked_s,
            "naive_batch_seconds": naive_s,
            "ratio_p99_chunked_over_alone": ratio(c99, a99),
            "ratio_p99_naive_over_alone": ratio(n99, a99),
            "ratio_max_chunked_over_alone_p99": ratio(max(with_chunks) * 1000, a99),
            "ratio_max_naive_over_alone_p99": ratio(max(with_naive) * 1000, a99),
            **machine(),
        }
    )
    engine.dispose()


if __name__ == "__main__":
    main()
