"""Use cases of the register: recording a 異動 is one transaction, or nothing.

``record_event`` validates the body against the era table and the current state, writes the immutable event,
one new snapshot per changed person (the previous snapshot stays, only the ``is_current`` marker moves) and
the event→person rows, then commits. Any refusal raises before the commit, so nothing is written.
"""

from __future__ import annotations

from jichitai.modules.registry.services.population import generate_population
from jichitai.modules.registry.services.record import HANDLERS, record_event

__all__ = ["HANDLERS", "generate_population", "record_event"]
