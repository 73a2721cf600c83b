"""How times are written in the archive: UTC, ISO 8601, microseconds, a trailing 'Z'.

Text in this form sorts in time order, which the timeline and date filters rely on. The offset a
source wrote a time with is kept beside it (in minutes), so "sent at 09:30 +08:00" can be shown
as sent.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from ..errors import UsageError
from ..i18n import _


def format_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("refusing a naive datetime: evidence times must carry a zone")
    # isoformat writes the same text as strftime("%Y-%m-%dT%H:%M:%S.%fZ") several times faster
    # (an import formats a time per item), and pads years before 1000 to four digits.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def offset_minutes(moment: datetime) -> int | None:
    delta = moment.utcoffset()
    return None if delta is None else int(delta.total_seconds() // 60)


def as_sent(utc_text: str, offset: int | None) -> datetime:
    """The stored time in the zone the source gave it in (UTC when none was given)."""
    moment = parse_utc(utc_text)
    if offset is None:
        return moment
    return moment.astimezone(timezone(timedelta(minutes=offset)))


def parse_user_date(text: str, *, end_of_day: bool = False) -> datetime:
    """A date or date-time typed by a user (``2024-01-31`` or ``2024-01-31T08:00+08:00``).

    A bare date means the start of that day (or its end with ``end_of_day``) in the user's
    local zone; a time without an offset is taken as local too.
    """
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            # A calendar day typed by a person means that day where they are.
            moment = datetime(day.year, day.month, day.day).astimezone()  # noqa: DTZ001
            return moment + timedelta(days=1) - timedelta(microseconds=1) if end_of_day else moment
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            _("cannot read the date {text}: use YYYY-MM-DD, e.g. 2024-01-31").format(
                text=repr(text)
            )
        ) from None
    return moment if moment.tzinfo else moment.astimezone()
