"""Use cases of the register: recording a 異動 is one transaction, or nothing.

``record_event`` validates the body against the era table and the current state, writes the immutable event,
one new snapshot per changed person (the previous snapshot stays, only the ``is_current`` marker moves) and
the event→person rows, then commits. Any refusal raises before the commit, so nothing is written.
"""

from __future__ import annotations

from jichitai.modules.registry.services.certificate_documents import (
    certificate_pdf,
    fees_on,
    issuance_summary,
    print_certificate,
    verify_certificate,
)
from jichitai.modules.registry.services.certificates import get_certificate_issue, request_certificate
from jichitai.modules.registry.services.population import generate_population
from jichitai.modules.registry.services.record import HANDLERS, record_event
from jichitai.modules.registry.services.support import (
    active_measure_for,
    confirm_support_measure,
    end_support_measure,
    extend_support_measure,
    get_support_measure,
    list_support_measures,
    start_support_measure,
)

__all__ = [
    "HANDLERS",
    "active_measure_for",
    "certificate_pdf",
    "confirm_support_measure",
    "end_support_measure",
    "extend_support_measure",
    "fees_on",
    "generate_population",
    "get_certificate_issue",
    "get_support_measure",
    "issuance_summary",
    "list_support_measures",
    "print_certificate",
    "record_event",
    "request_certificate",
    "start_support_measure",
    "verify_certificate",
]
