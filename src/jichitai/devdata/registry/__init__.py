"""A deterministic synthetic population for the resident registry (test towns, demos and benchmarks).

Pure generation, no database: :func:`generate` yields batches of plain row dicts, one list per table, with
the same columns, codes and search keys the services would write, so that certificates, searches, statistics
and exchanges can be exercised on a realistic town of any size. Everything follows from ``(lg_code, seed)``
through one :class:`random.Random`; the clock is never read (``today`` is an argument), so the same call
always yields the same rows.

A household is planned first (members, ages, names, address, and what will happen to it), then its history
is *played* in date order as the services would record it: an entry event (転入, 国外転入 or 職権記載),
births in town, sometimes a 転居 (every present member gets a new 履歴番号 with 異動前住所), and some 除票:
転出 of the whole household or of an adult child, or a death. A departing 世帯主 leaves either nobody or
exactly one member, who becomes 世帯主 in the same event (j490), so every household stays valid for the
real services afterwards.

Modules, by concept: :mod:`.batch` (what a run yields), :mod:`.tables` (static tables prepared once),
:mod:`.town` (町丁目 and addresses), :mod:`.households` (household shapes and plans), :mod:`.draws` (the
random stream: identifiers, places, names), :mod:`.planning` (dates and later changes) and
:mod:`.generator` (playing the history into rows).
"""

from jichitai.devdata.registry.batch import BATCH_PERSONS, Batch, Capacity, capacity
from jichitai.devdata.registry.generator import generate

__all__ = ["BATCH_PERSONS", "Batch", "Capacity", "capacity", "generate"]
