"""The municipal business date.

処理日 and the "not in the future" rule are judged on the Japanese calendar day, whatever the server's time
zone, so they use Asia/Tokyo explicitly.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")


def today_jst() -> dt.date:
    """Today's date in Japan."""
    return dt.datetime.now(JST).date()
