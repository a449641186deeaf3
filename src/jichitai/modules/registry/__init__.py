"""住民記録 (resident registry), the hub module.

This module's public facade for other modules: they may call what is listed in ``__all__`` and nothing
else (reading another module's tables is forbidden; tests/test_boundaries.py enforces it).
"""

from __future__ import annotations

from jichitai.modules.registry.queries import count_residents

__all__ = ["count_residents"]
