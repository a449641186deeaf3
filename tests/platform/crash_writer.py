"""Child process of the SIGKILL crash test (tests/platform/test_crash_durability.py).

Records 国内転入 (two persons each) through the real service as fast as it can, alternating between the given
towns, and acknowledges every event only after ``record_event`` returned, i.e. after the commit returned: one
line ``lg_code event_no atena_no,atena_no`` appended to the ack file with ``os.write`` + ``os.fsync``. It runs
until it is killed.

Run: ``python tests/platform/crash_writer.py URL ACK_FILE LG_CODE[,LG_CODE…]``. Before the first event it
prints one line ``ready key=value …`` with the durability settings its own connection sees.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import sys
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Engine, text

from jichitai.bootstrap import load
from jichitai.modules.registry.records import schemas
from jichitai.modules.registry.records.services.record import record_event
from jichitai.platform.clock import today_jst
from jichitai.platform.db import UnitOfWork, is_sqlite, make_engine
from jichitai.platform.tenancy import Tenant

load()  # a process that writes must load the modules first (its writes are journaled for the copy)

FAMILIES = (("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"))


def settings(engine: Engine) -> str:
    """The durability settings of a connection made by the product's engine, as ``key=value`` pairs."""
    with engine.connect() as conn:
        if is_sqlite(engine):
            pairs = {
                "journal_mode": conn.exec_driver_sql("PRAGMA journal_mode").scalar(),
                "synchronous": conn.exec_driver_sql("PRAGMA synchronous").scalar(),
            }
        else:
            pairs = {
                "synchronous_commit": conn.execute(text("SHOW synchronous_commit")).scalar(),
                "fsync": conn.execute(text("SHOW fsync")).scalar(),
            }
        conn.rollback()
    return " ".join(f"{key}={value}" for key, value in pairs.items())


def move_in(i: int) -> dict[str, Any]:
    """A valid 国内転入 of a couple at an address of its own."""
    family, family_kana = FAMILIES[i % len(FAMILIES)]
    return {
        "type": "domestic_move_in",
        "event_date": (today_jst() - dt.timedelta(days=1)).isoformat(),
        "previous_address": "宮城県仙台市青葉区本町三丁目8番1号",
        "address": {"area": "本町一丁目", "number": f"{os.getpid() % 1000 + 1}番{i + 1}号"},
        "persons": [
            {
                "family_name": family,
                "given_name": given,
                "family_kana": family_kana,
                "given_kana": given_kana,
                "kana_confirmed": True,
                "birth_date": birth,
                "sex": sex,
                "relationship": relationship,
            }
            for given, given_kana, sex, birth, relationship in (
                ("太郎", "タロウ", "male", "1970-04-01", "世帯主"),
                ("花子", "ハナコ", "female", "1972-05-02", "妻"),
            )
        ],
    }


def main() -> None:
    url, ack_path, codes = sys.argv[1], sys.argv[2], sys.argv[3]
    tenants = [Tenant(code) for code in codes.split(",")]
    engine = make_engine(url, pool_size=1)
    adapter: TypeAdapter[schemas.EventBody] = TypeAdapter(schemas.EventBody)
    fd = os.open(ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    sys.stdout.write(f"ready {settings(engine)}\n")  # the parent starts its kill timer on this line
    sys.stdout.flush()
    for i in itertools.count():
        tenant = tenants[i % len(tenants)]
        body = adapter.validate_python(move_in(i))
        with UnitOfWork(engine) as uow:
            recorded = record_event(uow, tenant, body, actor="crash-test")
        # record_event returned after its commit: this is the success answer, so acknowledge it durably.
        atenas = ",".join(person.atena_no for person in recorded.persons)
        os.write(fd, f"{tenant.lg_code} {recorded.event.event_no} {atenas}\n".encode())
        os.fsync(fd)


if __name__ == "__main__":
    main()
