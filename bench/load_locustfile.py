"""Locust users for ``bench/bench_load.py``: clerks of many towns at the counter, or the trivial baseline.

Run by ``bench_load.py`` as a subprocess (locust monkey-patches the standard library with gevent, which must
not happen inside the benchmark itself), one locust process per phase, headless. Everything comes from the
environment:

- ``LOAD_PLAN``: JSON written by the benchmark: ``clerks`` (``lg_code``, ``login_name``, ``token``; ordered so
  that the first N spread over the towns) and ``towns`` (``kana`` search terms, ``atena`` numbers to view,
  ``households`` a clerk may record 異動 for and issue certificates of);
- ``LOAD_PHASE``: a number unique to the phase (so a relocation goes to an address no household has had);
- ``LOAD_MODE``: ``mix`` (60 % kana search, 25 % person view, 10 % 異動, 5 % certificate + its PDF) or ``me``
  (``GET /api/v1/auth/me`` only: the baseline);
- ``LOAD_USERS``: the phase's number of users (each user's share of its town's households depends on it);
- ``LOAD_THINK``: mean think time in seconds between two tasks (0: none, saturation);
  ``LOAD_THINK_DIST``: ``exponential`` (default) or ``uniform`` (over 0.5–1.5 × the mean);
- ``LOAD_SAMPLES``: CSV written at the end, one row per request: start (epoch s), name, ms, ok;
- ``LOAD_MARKS``: JSON written at the end: when spawning completed and when the test stopped (epoch s);
- ``LOAD_ERRORS``: the first errors (status and body), one per line.

User ``u`` (in spawn order) acts as clerk ``u mod len(clerks)`` of town ``u mod towns``, and owns every
``users_in_town``-th household of the town from its rank there, so no two users record 異動 for the same
household (a refusal such as ``same_address`` would be a benchmark bug, not load).
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import os
import random
import time
from typing import Any
from zoneinfo import ZoneInfo

import gevent
from locust import events, task
from locust.contrib.fasthttp import FastHttpUser

with open(os.environ["LOAD_PLAN"], encoding="utf-8") as _plan:
    PLAN: dict[str, Any] = json.load(_plan)
MODE = os.environ.get("LOAD_MODE", "mix")
USERS = int(os.environ.get("LOAD_USERS", "1"))
THINK = float(os.environ.get("LOAD_THINK", "20"))
THINK_DIST = os.environ.get("LOAD_THINK_DIST", "exponential")
CLERKS: list[dict[str, str]] = PLAN["clerks"]
TOWNS: dict[str, dict[str, Any]] = {t["lg_code"]: t for t in PLAN["towns"]}
TOWN_ORDER: list[str] = [t["lg_code"] for t in PLAN["towns"]]
PHASE = int(os.environ.get("LOAD_PHASE", "1"))
TARGETS = ("栄町二丁目", "末広町")
"""Relocations go to one of these 町丁目, at a 番地 no household of the run has had (phase, user, move)."""
GIVEN = (
    ("太郎", "タロウ", "male"),
    ("花子", "ハナコ", "female"),
    ("蓮", "レン", "male"),
    ("結衣", "ユイ", "female"),
)
JST = ZoneInfo("Asia/Tokyo")
MAX_ERRORS = 50

_seats = itertools.count()
_samples: list[tuple[float, str, float, int]] = []
_errors: list[str] = []
_marks: dict[str, float] = {}


def think() -> float:
    """Seconds to wait between two tasks."""
    if THINK <= 0:
        return 0.0
    if THINK_DIST == "uniform":
        return random.uniform(0.5 * THINK, 1.5 * THINK)
    return random.expovariate(1 / THINK)


@events.request.add_listener
def _on_request(name: str, response_time: float, exception: Exception | None, **kwargs: Any) -> None:
    started = kwargs.get("start_time") or (time.time() - response_time / 1000)
    _samples.append((started, name, response_time, 0 if exception else 1))


@events.spawning_complete.add_listener
def _on_spawned(**_kwargs: Any) -> None:
    _marks.setdefault("spawned_at", time.time())


@events.test_stop.add_listener
def _on_stop(**_kwargs: Any) -> None:
    _marks.setdefault("stopped_at", time.time())


@events.quitting.add_listener
def _on_quit(**_kwargs: Any) -> None:
    _marks.setdefault("stopped_at", time.time())
    with open(os.environ["LOAD_SAMPLES"], "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(("start", "name", "ms", "ok"))
        writer.writerows(_samples)
    with open(os.environ["LOAD_MARKS"], "w", encoding="utf-8") as out:
        json.dump(_marks, out)
    with open(os.environ["LOAD_ERRORS"], "w", encoding="utf-8") as out:
        out.writelines(f"{line}\n" for line in _errors)


def today() -> str:
    return dt.datetime.now(JST).date().isoformat()


class Clerk(FastHttpUser):
    """One clerk at the counter of one town (or, in ``me`` mode, a client of the trivial endpoint)."""

    def wait_time(self) -> float:
        return think()

    def on_start(self) -> None:
        seat = next(_seats)
        clerk = CLERKS[seat % len(CLERKS)]
        self.lg_code = clerk["lg_code"]
        self.base = f"/api/v1/municipalities/{self.lg_code}/registry"
        self.auth = {"Authorization": f"Bearer {clerk['token']}"}
        town = TOWNS[self.lg_code]
        self.kana: list[str] = town["kana"]
        self.atena: list[str] = town["atena"]
        # Seats of one town are t, t + T, t + 2T, … (T towns): rank u // T among the town's users.
        towns = len(TOWN_ORDER)
        position = TOWN_ORDER.index(self.lg_code)
        in_town = max(1, (USERS - position + towns - 1) // towns)
        self.households: list[dict[str, Any]] = town["households"][(seat // towns) % in_town :: in_town]
        self.rng = random.Random(seat)
        self.seat = seat
        self.moves = 0
        if THINK > 0:  # arrive at a random point of a think time, so the phase starts in its steady state
            gevent.sleep(think())

    def call(self, method: str, path: str, name: str, expect: int, **kwargs: Any) -> Any:
        """One request; anything but ``expect`` is a failure, kept (first ones) with its body."""
        with self.client.request(
            method, path, name=name, headers=self.auth, catch_response=True, **kwargs
        ) as response:
            if response.status_code != expect:
                text = (response.text or "")[:300]
                response.failure(f"{response.status_code} {text}")
                if len(_errors) < MAX_ERRORS:
                    _errors.append(f"{name} {method} {path}: {response.status_code} {text}")
                return None
            response.success()
            return response

    @task
    def work(self) -> None:
        if MODE == "me":
            self.call("GET", "/api/v1/auth/me", "me", 200)
            return
        roll = self.rng.random()
        if roll < 0.60:
            self.search()
        elif roll < 0.85:
            self.person()
        elif roll < 0.95:
            self.event()
        else:
            self.certificate()

    def search(self) -> None:
        self.call("GET", f"{self.base}/residents", "search", 200, params={"kana": self.rng.choice(self.kana)})

    def person(self) -> None:
        self.call("GET", f"{self.base}/residents/{self.rng.choice(self.atena)}", "person", 200)

    def event(self) -> None:
        if not self.households:
            self.search()
            return
        household = self.rng.choice(self.households)
        if self.rng.random() < 0.5:
            # Never the household's current address, whatever earlier phases or runs moved it to.
            self.moves += 1
            body: dict[str, Any] = {
                "type": "relocation",
                "event_date": today(),
                "household_no": household["household_no"],
                "address": {
                    "area": self.rng.choice(TARGETS),
                    "number": f"{self.moves}番{PHASE * 1_000_000 + self.seat + 1}号",
                },
            }
            self.call("POST", f"{self.base}/events", "event", 201, json=body)
            return
        given, given_kana, sex = self.rng.choice(GIVEN)
        body = {
            "type": "birth",
            "event_date": today(),
            "household_no": household["household_no"],
            "child": {
                "family_name": household["family_name"],
                "given_name": given,
                "family_kana": household["family_kana"],
                "given_kana": given_kana,
                "kana_confirmed": True,
                "birth_date": today(),
                "sex": sex,
                "relationship": "子",
            },
        }
        self.call("POST", f"{self.base}/events", "event", 201, json=body)

    def certificate(self) -> None:
        if not self.households:
            self.person()
            return
        household = self.rng.choice(self.households)
        body = {
            "type": "resident_record",
            "style": "household",
            "household_no": household["household_no"],
            "requester": {"category": "self", "name": household["head_name"], "atena_no": household["head"]},
        }
        issued = self.call("POST", f"{self.base}/certificates", "certificate", 201, json=body)
        if issued is None:
            return
        issue_no = issued.json()["issue_no"]
        self.call("GET", f"{self.base}/certificates/{issue_no}/pdf", "certificate_pdf", 200)
