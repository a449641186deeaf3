"""費用負担 (cost sharing): each month's installation cost split among the towns by the agreed formula.

This module's public facade for other modules: nothing (it reads the platform's usage figures, and no
module needs to call it).
"""

from __future__ import annotations

__all__: list[str] = []
