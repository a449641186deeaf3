"""Keep the garbage collector off the long-lived start-up heap.

A server process imports ~100k long-lived objects (modules, SQLAlchemy and pydantic machinery). Every full
collection walks all of them, which measured ~40-50 ms: one request in fifty paid that pause, and it set the
search p99 (bench/bench_search.py). Freezing the heap after start-up moves those objects out of the
collector's generations, so collections scan only what requests allocate.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Collect once, then exempt every object alive now from future collections (call once at start-up)."""
    gc.collect()
    gc.freeze()
