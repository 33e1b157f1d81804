"""The working-day calendar of England (DESIGN.md, "Statutory clocks").

A working day is Monday to Friday and not a bank holiday in England. Bank holidays come from the
`holidays` package (GB, subdivision ENG: without it Easter Monday and the August holiday are
missing). Only activities call this module: a new `holidays` release may add a one-off bank holiday,
and a deadline recomputed on replay would break every open case.
"""

from __future__ import annotations

import importlib.util
from datetime import date, datetime, time, timedelta
from functools import cache, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
from dateutil.relativedelta import relativedelta

from models.dates import LONDON


@cache
def united_kingdom() -> type[holidays.HolidayBase]:
    """The `holidays` package's calendar of the UK, loaded by itself. Anything imported from the package
    `holidays.countries` (`holidays.country_holidays("GB")` included) first runs its `__init__`, which
    imports all 250 countries: 8 MB in every worker for one calendar. The UK's module imports only the
    library's shared parts, so it is loaded from its own file (not registered as the package's module);
    tests/test_working_days.py checks it gives the bank holidays `holidays.country_holidays("GB",
    subdiv="ENG")` gives, so a release that moves or splits it fails there."""
    path = Path(holidays.__file__).parent / "countries" / "united_kingdom.py"
    spec = importlib.util.spec_from_file_location("holidays.countries.united_kingdom", path)
    assert spec is not None and spec.loader is not None, f"holidays {holidays.__version__}: no {path}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    calendar: type[holidays.HolidayBase] = module.UnitedKingdom
    return calendar


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(united_kingdom()(subdiv="ENG", years=year).keys())


def is_bank_holiday(day: date) -> bool:
    return day in _bank_holidays(day.year)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and not is_bank_holiday(day)


def add_working_days(start: date, days: int) -> date:
    """The `days`-th working day after `start` (before it when negative); `start` is not counted.

    2023-04-28 + 15 -> 2023-05-23; 2024-01-02 - 7 -> 2023-12-19. Zero gives `start` itself.
    """
    step = 1 if days >= 0 else -1
    remaining = abs(days)
    day = start
    while remaining:
        day += timedelta(days=step)
        if is_working_day(day):
            remaining -= 1
    return day


def add_calendar_months(start: date, months: int) -> date:
    """The same day `months` calendar months on, or the month's last day: 2023-08-31 + 6 -> 2024-02-29."""
    return start + relativedelta(months=months)


def end_of_day(day: date) -> datetime:
    """The instant a deadline on `day` ends: midnight after it, Europe/London, as UTC."""
    return start_of_day(day + timedelta(days=1))


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=LONDON).astimezone(ZoneInfo("UTC"))


def at_london_time(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=LONDON).astimezone(ZoneInfo("UTC"))


def working_days_between(start: date, end: date) -> int:
    """How many working days after `start`, up to and including `end` (0 when `end` is not after it)."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += is_working_day(day)
    return count
