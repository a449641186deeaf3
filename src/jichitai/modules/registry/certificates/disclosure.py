"""Whose address a certificate reveals: its subjects, and everyone who lives where they live.

A 住民票の写し prints its subjects' address, and that address is also the address of every member of
their 世帯 and of everyone else registered at the same 住所. A 相手方 who asks for the certificate of a
person living with the protected person (her child, her new partner, a lodger in another 世帯) learns where
she lives, so the 支援措置 is checked for all of them, not only for the persons named
(support.rules.judge_nearby).

The places a certificate reveals (:class:`Places`):

- the 世帯 of each subject: its current residents; for a 除票 (a removed subject) every member, 除票 included,
  since the 除票の写し and the 転出証明書 print where the household went;
- the 住所 of each subject, compared on 町字 + 番地 (:func:`place_key`) without the 方書: the 方書 (building,
  room) narrows the place down but does not hide the building, so a resident of another room of the same
  番地 is revealed too. Only current residents live there; a 除票 person at that 住所 has left it.

For a certificate already issued (a print or 再交付), the places are those printed in its stored content and
those where its subjects are registered today; either may reveal a person protected since the issuance.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from jichitai.modules.registry.certificates.rules import CertificateOut
from jichitai.modules.registry.records.models import STATUS_LABELS, PersonRecord, ResidentStatus, current_only
from jichitai.modules.registry.records.queries import _TOP
from jichitai.modules.registry.records.snapshots import text_key
from jichitai.platform.tenancy import Tenant

RESIDENT_LABEL = STATUS_LABELS[ResidentStatus.RESIDENT]
"""How a current resident's 住民状態 is printed (the stored content holds the label)."""


def place_key(area: str, number: str) -> str:
    """The 住所 without the 方書 as compared here: 町字 + 番地, NFKC, no spaces (as ``address_key``)."""
    return text_key(f"{area}{number}")


@dataclass(frozen=True)
class Places:
    """The 世帯 and 住所 a certificate reveals."""

    households: frozenset[str] = frozenset()
    """世帯番号 whose current residents are revealed."""
    removed_households: frozenset[str] = frozenset()
    """世帯番号 whose every member (除票 included) is revealed."""
    addresses: frozenset[str] = frozenset()
    """:func:`place_key` of each 住所 revealed."""

    def __or__(self, other: Places) -> Places:
        return Places(
            self.households | other.households,
            self.removed_households | other.removed_households,
            self.addresses | other.addresses,
        )


def places_of(records: Iterable[PersonRecord]) -> Places:
    """The places the current records of a certificate's subjects reveal."""
    rows = list(records)
    return Places(
        frozenset(r.household_no for r in rows if r.status is ResidentStatus.RESIDENT),
        frozenset(r.household_no for r in rows if r.status is not ResidentStatus.RESIDENT),
        frozenset(place_key(r.address_area, r.address_number) for r in rows),
    )


def _printed_place(address: str, town: str) -> str:
    """The :func:`place_key` of an address as printed (``{town}{町字}{番地}[　{方書}]``)."""
    local = address[len(town) :] if address.startswith(town) else address
    return text_key(local.split("　", 1)[0])


def places_in(content: CertificateOut) -> Places:
    """The places printed on an issued certificate (its stored content)."""
    printed = [(page.household_no, person) for page in content.pages for person in page.persons]
    return Places(
        frozenset(h for h, person in printed if person.status == RESIDENT_LABEL),
        frozenset(h for h, person in printed if person.status != RESIDENT_LABEL),
        frozenset(_printed_place(person.address, content.town) for _h, person in printed),
    )


def people_at(session: Session, tenant: Tenant, places: Places) -> set[str]:
    """The 宛名番号 of everyone the places reveal (see the module docstring)."""
    rec = PersonRecord
    found: set[str] = set()
    households = sorted(places.households | places.removed_households)
    if households:
        rows = session.execute(
            select(rec.atena_no, rec.household_no, rec.status).where(
                rec.lg_code == tenant.lg_code, current_only(), rec.household_no.in_(households)
            )
        )
        found |= {
            atena_no
            for atena_no, household_no, status in rows
            if status is ResidentStatus.RESIDENT or household_no in places.removed_households
        }
    keys = sorted(k for k in places.addresses if k)  # an empty key would be a prefix of every address
    if keys:
        # A key range per 住所 on the indexed address_key (町字 + 番地 + 方書), each a prefix: the 方書 is
        # left out, then the exact 町字 + 番地 is compared below ("1番1" is also a prefix of "1番10号").
        ranges = [and_(rec.address_key >= key, rec.address_key < key + _TOP) for key in keys]
        rows = session.execute(
            select(rec.atena_no, rec.address_area, rec.address_number).where(
                rec.lg_code == tenant.lg_code,
                current_only(),
                rec.status == ResidentStatus.RESIDENT,
                or_(*ranges),
            )
        )
        found |= {atena_no for atena_no, area, number in rows if place_key(area, number) in places.addresses}
    return found


def nearby(session: Session, tenant: Tenant, subjects: Sequence[str], places: Places) -> list[str]:
    """Everyone the places reveal who is not a subject, by 宛名番号."""
    return sorted(people_at(session, tenant, places) - set(subjects))
