"""Dates to timezone-aware UTC.  A value that does not parse is never guessed."""

from __future__ import annotations

import calendar
import re
import time
from datetime import date, datetime, timedelta, timezone
from typing import Any, Optional

from dateutil import parser as dateutil_parser

# Dates before this or more than two days in the future are treated as wrong.
EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def to_utc(value: Any, *, now: Optional[datetime] = None) -> Optional[datetime]:
    """Parse ``value`` (datetime, date, struct_time, epoch seconds, or text) to UTC.

    Naive times are taken as UTC; a bare date becomes midnight UTC.  Returns
    ``None`` for anything unparseable or implausible (before 1900, or more
    than two days after ``now``).
    """
    parsed: Optional[datetime]
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, time.struct_time):
        parsed = datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            seconds = value / 1000 if value > 1e11 else value  # epoch milliseconds
            parsed = datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str):
        parsed = parse_date_text(value)
    else:
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    parsed = parsed.astimezone(timezone.utc)
    latest = (now or datetime.now(timezone.utc)) + timedelta(days=2)
    if parsed < EARLIEST or parsed > latest:
        return None
    return parsed


def parse_date_text(text: str) -> Optional[datetime]:
    text = text.strip()
    if not text or len(text) > 80:
        return None
    if _ISO_DATE.match(text):
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    try:
        return dateutil_parser.parse(text, dayfirst=False, yearfirst=True)
    except (ValueError, OverflowError, TypeError):
        return None


def iso(value: Optional[datetime]) -> Optional[str]:
    return value.isoformat() if value else None
