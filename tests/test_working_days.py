"""The working-day calendar of England (DESIGN.md, "Statutory clocks").

A working day is Monday to Friday and not a bank holiday in England. "N working days after D" is the
Nth working day after D, D itself not counted; the deadline ends at the end of that day, Europe/London.

The bank holidays below are written out by hand from the published England and Wales list (gov.uk).
They are deliberately NOT taken from the `holidays` package: the point is to catch the calendar being
asked for the wrong country or subdivision (GB without ENG loses Easter Monday and the August
holiday; Scotland adds 2 January and St Andrew's Day; Northern Ireland adds 17 March and 12 July).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest

from models.working_days import (
    add_calendar_months,
    add_working_days,
    at_london_time,
    end_of_day,
    is_working_day,
)

UTC = timezone.utc


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# ---- every bank holiday in England, 2022-2027, on a weekday -------------------------------------
# (a holiday falling on a Saturday or Sunday is replaced by a substitute day, listed instead)

ENGLAND_BANK_HOLIDAYS: list[tuple[date, str]] = [
    # 2022
    (date(2022, 1, 3), "New Year's Day (substitute day)"),
    (date(2022, 4, 15), "Good Friday"),
    (date(2022, 4, 18), "Easter Monday"),
    (date(2022, 5, 2), "Early May bank holiday"),
    (date(2022, 6, 2), "Spring bank holiday (moved)"),
    (date(2022, 6, 3), "Platinum Jubilee bank holiday"),
    (date(2022, 8, 29), "Summer bank holiday"),
    (date(2022, 9, 19), "State Funeral of Queen Elizabeth II"),
    (date(2022, 12, 26), "Boxing Day"),
    (date(2022, 12, 27), "Christmas Day (substitute day)"),
    # 2023
    (date(2023, 1, 2), "New Year's Day (substitute day)"),
    (date(2023, 4, 7), "Good Friday"),
    (date(2023, 4, 10), "Easter Monday"),
    (date(2023, 5, 1), "Early May bank holiday"),
    (date(2023, 5, 8), "Coronation of King Charles III"),
    (date(2023, 5, 29), "Spring bank holiday"),
    (date(2023, 8, 28), "Summer bank holiday"),
    (date(2023, 12, 25), "Christmas Day"),
    (date(2023, 12, 26), "Boxing Day"),
    # 2024
    (date(2024, 1, 1), "New Year's Day"),
    (date(2024, 3, 29), "Good Friday"),
    (date(2024, 4, 1), "Easter Monday"),
    (date(2024, 5, 6), "Early May bank holiday"),
    (date(2024, 5, 27), "Spring bank holiday"),
    (date(2024, 8, 26), "Summer bank holiday"),
    (date(2024, 12, 25), "Christmas Day"),
    (date(2024, 12, 26), "Boxing Day"),
    # 2025
    (date(2025, 1, 1), "New Year's Day"),
    (date(2025, 4, 18), "Good Friday"),
    (date(2025, 4, 21), "Easter Monday"),
    (date(2025, 5, 5), "Early May bank holiday"),
    (date(2025, 5, 26), "Spring bank holiday"),
    (date(2025, 8, 25), "Summer bank holiday"),
    (date(2025, 12, 25), "Christmas Day"),
    (date(2025, 12, 26), "Boxing Day"),
    # 2026
    (date(2026, 1, 1), "New Year's Day"),
    (date(2026, 4, 3), "Good Friday"),
    (date(2026, 4, 6), "Easter Monday"),
    (date(2026, 5, 4), "Early May bank holiday"),
    (date(2026, 5, 25), "Spring bank holiday"),
    (date(2026, 8, 31), "Summer bank holiday"),
    (date(2026, 12, 25), "Christmas Day"),
    (date(2026, 12, 28), "Boxing Day (substitute day)"),
    # 2027
    (date(2027, 1, 1), "New Year's Day"),
    (date(2027, 3, 26), "Good Friday"),
    (date(2027, 3, 29), "Easter Monday"),
    (date(2027, 5, 3), "Early May bank holiday"),
    (date(2027, 5, 31), "Spring bank holiday"),
    (date(2027, 8, 30), "Summer bank holiday"),
    (date(2027, 12, 27), "Christmas Day (substitute day)"),
    (date(2027, 12, 28), "Boxing Day (substitute day)"),
]
HOLIDAY_DATES = frozenset(day for day, _ in ENGLAND_BANK_HOLIDAYS)
FIRST_DAY, LAST_DAY = date(2022, 1, 1), date(2027, 12, 31)

holiday_cases = pytest.mark.parametrize(
    "holiday",
    [pytest.param(day, id=f"{day}-{name}") for day, name in ENGLAND_BANK_HOLIDAYS],
)


# The list above is complete from 29 December 2021 (the last 2021 holiday was the 28th) to
# 2 January 2028 (3 January 2028 is a substitute day, not listed): the reference is only asked there.
KNOWN_FROM, KNOWN_UNTIL = date(2021, 12, 29), date(2028, 1, 2)


def reference_is_working_day(day: date) -> bool:
    """The definition, from the hand-written list above (independent of the `holidays` package)."""
    assert KNOWN_FROM <= day <= KNOWN_UNTIL, f"{day} is outside the hand-written calendar"
    return day.weekday() < 5 and day not in HOLIDAY_DATES


def reference_next_working_day(day: date, step: int) -> date:
    day += timedelta(days=step)
    while not reference_is_working_day(day):
        day += timedelta(days=step)
    return day


def days_between(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def test_the_hand_written_list_is_of_weekdays_only():
    """A sanity check of the test data itself: substitute days, not weekend dates, are listed."""
    assert len(HOLIDAY_DATES) == len(ENGLAND_BANK_HOLIDAYS) == 51
    assert all(day.weekday() < 5 for day in HOLIDAY_DATES)


# ---- DESIGN.md worked examples -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        pytest.param(date(2023, 4, 28), 15, date(2023, 5, 23), id="2023-04-28+15-across-May-Day-and-Coronation"),
        pytest.param(date(2022, 12, 23), 5, date(2023, 1, 4), id="2022-12-23+5-across-Christmas-and-New-Year"),
        pytest.param(date(2024, 1, 2), -7, date(2023, 12, 19), id="2024-01-02-7-back-across-Christmas"),
    ],
)
def test_design_worked_examples_working_days(start, days, expected):
    assert add_working_days(start, days) == expected


def test_design_worked_example_calendar_months():
    assert add_calendar_months(date(2023, 8, 31), 6) == date(2024, 2, 29)


# ---- the bank holidays ---------------------------------------------------------------------------


@holiday_cases
def test_bank_holiday_is_not_a_working_day(holiday):
    assert holiday.weekday() < 5, "listed holidays are weekdays (test data)"
    assert not is_working_day(holiday)


@holiday_cases
def test_one_working_day_from_the_day_before_a_bank_holiday_skips_it(holiday):
    before = reference_next_working_day(holiday, -1)
    after = reference_next_working_day(holiday, +1)
    assert add_working_days(before, 1) == after
    assert add_working_days(after, -1) == before


@holiday_cases
def test_counting_from_a_bank_holiday_does_not_count_it(holiday):
    assert add_working_days(holiday, 1) == reference_next_working_day(holiday, +1)
    assert add_working_days(holiday, -1) == reference_next_working_day(holiday, -1)


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # Spelled out for the substitute days and the one-off holidays.
        pytest.param(date(2021, 12, 31), 1, date(2022, 1, 4), id="2022-01-03-substitute-New-Year"),
        pytest.param(date(2022, 6, 1), 1, date(2022, 6, 6), id="2022-06-02-and-03-Jubilee"),
        pytest.param(date(2022, 9, 16), 1, date(2022, 9, 20), id="2022-09-19-State-Funeral"),
        pytest.param(date(2022, 12, 23), 1, date(2022, 12, 28), id="2022-12-26-and-27-substitute"),
        pytest.param(date(2022, 12, 30), 1, date(2023, 1, 3), id="2023-01-02-substitute-New-Year"),
        pytest.param(date(2023, 5, 5), 1, date(2023, 5, 9), id="2023-05-08-Coronation"),
        pytest.param(date(2023, 4, 6), 1, date(2023, 4, 11), id="2023-Easter"),
        pytest.param(date(2025, 8, 22), 1, date(2025, 8, 26), id="2025-08-25-Summer"),
        pytest.param(date(2026, 12, 24), 1, date(2026, 12, 29), id="2026-12-28-substitute-Boxing-Day"),
        pytest.param(date(2027, 12, 24), 1, date(2027, 12, 29), id="2027-12-27-and-28-substitutes"),
        pytest.param(date(2027, 12, 29), -1, date(2027, 12, 24), id="2027-back-over-the-substitutes"),
        pytest.param(date(2027, 3, 30), -1, date(2027, 3, 25), id="2027-back-over-Easter"),
    ],
)
def test_next_working_day_over_named_holidays(start, days, expected):
    assert add_working_days(start, days) == expected


@pytest.mark.parametrize(
    "day",
    [
        pytest.param(date(2022, 1, 4), id="2-January-is-Scotland-only(2022-01-04-Tue)"),
        pytest.param(date(2024, 1, 2), id="2-January-is-Scotland-only(2024-01-02)"),
        pytest.param(date(2025, 1, 2), id="2-January-is-Scotland-only(2025-01-02)"),
        pytest.param(date(2025, 8, 4), id="first-Monday-of-August-is-Scotland-only"),
        pytest.param(date(2025, 12, 1), id="St-Andrews-substitute-is-Scotland-only"),
        pytest.param(date(2023, 3, 17), id="St-Patricks-Day-is-Northern-Ireland-only"),
        pytest.param(date(2025, 7, 14), id="Battle-of-the-Boyne-substitute-is-NI-only"),
        pytest.param(date(2023, 7, 12), id="Battle-of-the-Boyne-is-NI-only"),
        pytest.param(date(2025, 12, 24), id="Christmas-Eve"),
        pytest.param(date(2025, 12, 31), id="New-Years-Eve"),
    ],
)
def test_holidays_of_other_nations_are_working_days_in_england(day):
    assert day.weekday() < 5
    assert is_working_day(day)


def test_every_day_2022_to_2027_matches_the_hand_written_calendar():
    """No holiday missing, none extra: the whole six years, day by day."""
    wrong = [
        day
        for day in days_between(FIRST_DAY, LAST_DAY)
        if is_working_day(day) != reference_is_working_day(day)
    ]
    assert wrong == []


@pytest.mark.parametrize("days", [1, 2, 5, 7, 10, 15, 20, -1, -2, -5, -7, -15])
def test_add_working_days_agrees_with_the_hand_written_calendar_all_year_round(days):
    """From every day of 2022-2027 (weekends and holidays included as starts)."""

    def reference(start: date) -> date:
        day = start
        for _ in range(abs(days)):
            day = reference_next_working_day(day, 1 if days > 0 else -1)
        return day

    # starts far enough inside 2022-2027 that the answer stays inside the hand-written calendar
    first, last = (FIRST_DAY, date(2027, 11, 30)) if days > 0 else (date(2022, 2, 1), LAST_DAY)
    wrong = [
        (start, add_working_days(start, days), reference(start))
        for start in days_between(first, last)
        if add_working_days(start, days) != reference(start)
    ]
    assert wrong == []


# ---- weekends, starts and offsets ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        pytest.param(date(2025, 7, 4), True, id="Friday"),
        pytest.param(date(2025, 7, 5), False, id="Saturday"),
        pytest.param(date(2025, 7, 6), False, id="Sunday"),
        pytest.param(date(2025, 7, 7), True, id="Monday"),
        pytest.param(date(2022, 12, 25), False, id="Christmas-on-a-Sunday"),
        pytest.param(date(2027, 12, 25), False, id="Christmas-on-a-Saturday"),
    ],
)
def test_is_working_day_weekends(day, working):
    assert is_working_day(day) is working


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        pytest.param(date(2025, 7, 5), 1, date(2025, 7, 7), id="Saturday+1-is-Monday"),
        pytest.param(date(2025, 7, 6), 1, date(2025, 7, 7), id="Sunday+1-is-Monday"),
        pytest.param(date(2025, 7, 5), 5, date(2025, 7, 11), id="Saturday+5-is-Friday"),
        pytest.param(date(2025, 7, 6), 2, date(2025, 7, 8), id="Sunday+2-is-Tuesday"),
        pytest.param(date(2025, 7, 5), -1, date(2025, 7, 4), id="Saturday-1-is-Friday"),
        pytest.param(date(2025, 7, 6), -1, date(2025, 7, 4), id="Sunday-1-is-Friday"),
        pytest.param(date(2025, 7, 4), 1, date(2025, 7, 7), id="Friday+1-is-Monday"),
        pytest.param(date(2025, 7, 7), -1, date(2025, 7, 4), id="Monday-1-is-Friday"),
        pytest.param(date(2025, 12, 25), 1, date(2025, 12, 29), id="Christmas-Day+1"),
        pytest.param(date(2025, 12, 25), -1, date(2025, 12, 24), id="Christmas-Day-1"),
        pytest.param(date(2025, 12, 26), 1, date(2025, 12, 29), id="Boxing-Day+1"),
        pytest.param(date(2025, 4, 21), -1, date(2025, 4, 17), id="Easter-Monday-1-skips-Good-Friday"),
        pytest.param(date(2025, 4, 18), 1, date(2025, 4, 22), id="Good-Friday+1-skips-Easter-Monday"),
        pytest.param(date(2022, 12, 25), 2, date(2022, 12, 29), id="Christmas-on-Sunday+2"),
        pytest.param(date(2022, 6, 4), -2, date(2022, 5, 31), id="Jubilee-Saturday-2"),
    ],
)
def test_start_on_a_weekend_or_holiday_is_not_counted(start, days, expected):
    assert add_working_days(start, days) == expected


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        pytest.param(date(2025, 7, 9), -1, date(2025, 7, 8), id="Wednesday-1"),
        pytest.param(date(2025, 7, 9), -3, date(2025, 7, 4), id="Wednesday-3-over-a-weekend"),
        pytest.param(date(2025, 7, 14), -5, date(2025, 7, 7), id="Monday-5-is-last-Monday"),
        pytest.param(date(2026, 7, 9), -7, date(2026, 6, 30), id="publication-copies-2026-07-09"),
        pytest.param(date(2027, 1, 5), -7, date(2026, 12, 22), id="publication-copies-over-Christmas"),
        pytest.param(date(2023, 5, 9), -2, date(2023, 5, 4), id="back-over-the-Coronation"),
        pytest.param(date(2023, 5, 23), -15, date(2023, 4, 28), id="design-example-reversed"),
    ],
)
def test_negative_offsets_count_backwards(start, days, expected):
    assert add_working_days(start, days) == expected


@pytest.mark.parametrize(
    "start",
    [
        pytest.param(date(2025, 7, 9), id="working-day"),
        pytest.param(date(2025, 7, 5), id="Saturday"),
        pytest.param(date(2025, 12, 25), id="Christmas-Day"),
    ],
)
def test_zero_offset_is_the_start_itself(start):
    assert add_working_days(start, 0) == start


@pytest.mark.parametrize(
    ("start", "days"),
    [(date(2025, 7, 9), 2), (date(2025, 12, 23), 5), (date(2023, 4, 28), 15), (date(2027, 12, 24), 3)],
)
def test_result_of_a_non_zero_offset_is_always_a_working_day(start, days):
    assert is_working_day(add_working_days(start, days))
    assert is_working_day(add_working_days(start, -days))


# ---- calendar months -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        pytest.param(date(2023, 8, 31), 6, date(2024, 2, 29), id="31-Aug+6-leap-February"),
        pytest.param(date(2024, 8, 31), 6, date(2025, 2, 28), id="31-Aug+6-ordinary-February"),
        pytest.param(date(2025, 1, 31), 1, date(2025, 2, 28), id="31-Jan+1"),
        pytest.param(date(2025, 3, 31), 6, date(2025, 9, 30), id="31-Mar+6-30-day-month"),
        pytest.param(date(2026, 1, 15), 6, date(2026, 7, 15), id="same-day-6-months-on"),
        pytest.param(date(2025, 12, 24), 6, date(2026, 6, 24), id="across-the-year-end"),
        pytest.param(date(2024, 2, 29), 12, date(2025, 2, 28), id="leap-day+1-year"),
        pytest.param(date(2026, 7, 9), 12, date(2027, 7, 9), id="public-for-a-year"),
        pytest.param(date(2025, 7, 5), 0, date(2025, 7, 5), id="zero-months"),
    ],
)
def test_add_calendar_months(start, months, expected):
    assert add_calendar_months(start, months) == expected


def test_calendar_months_ignore_weekends_and_holidays():
    """A calendar-month deadline may end on a weekend or a bank holiday: it is not moved."""
    assert add_calendar_months(date(2025, 6, 25), 6) == date(2025, 12, 25)  # Christmas Day
    assert add_calendar_months(date(2025, 1, 5), 6) == date(2025, 7, 5)  # a Saturday


# ---- end of day and London times ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        pytest.param(date(2025, 7, 1), utc(2025, 7, 1, 23), id="BST-summer"),
        pytest.param(date(2025, 12, 1), utc(2025, 12, 2, 0), id="GMT-winter"),
        pytest.param(date(2025, 12, 31), utc(2026, 1, 1, 0), id="GMT-year-end"),
        pytest.param(date(2024, 2, 29), utc(2024, 3, 1, 0), id="GMT-leap-day"),
        # spring forward: Sunday 30 March 2025, 01:00 GMT -> 02:00 BST
        pytest.param(date(2025, 3, 29), utc(2025, 3, 30, 0), id="Saturday-before-BST-starts"),
        pytest.param(date(2025, 3, 30), utc(2025, 3, 30, 23), id="day-BST-starts"),
        pytest.param(date(2025, 3, 31), utc(2025, 3, 31, 23), id="first-Monday-of-BST"),
        # fall back: Sunday 26 October 2025, 02:00 BST -> 01:00 GMT
        pytest.param(date(2025, 10, 25), utc(2025, 10, 25, 23), id="Saturday-before-BST-ends"),
        pytest.param(date(2025, 10, 26), utc(2025, 10, 27, 0), id="day-BST-ends"),
        pytest.param(date(2025, 10, 27), utc(2025, 10, 28, 0), id="first-Monday-of-GMT"),
    ],
)
def test_end_of_day_is_midnight_in_london(day, expected):
    result = end_of_day(day)
    assert result == expected
    assert result.utcoffset() == timedelta(0), "returned in UTC"


def test_length_of_the_days_the_clocks_change():
    assert end_of_day(date(2025, 3, 30)) - end_of_day(date(2025, 3, 29)) == timedelta(hours=23)
    assert end_of_day(date(2025, 10, 26)) - end_of_day(date(2025, 10, 25)) == timedelta(hours=25)
    assert end_of_day(date(2025, 7, 2)) - end_of_day(date(2025, 7, 1)) == timedelta(hours=24)


@pytest.mark.parametrize(
    ("day", "clock", "expected"),
    [
        pytest.param(date(2025, 7, 1), time(9, 0), utc(2025, 7, 1, 8), id="09:00-BST"),
        pytest.param(date(2025, 12, 1), time(9, 0), utc(2025, 12, 1, 9), id="09:00-GMT"),
        pytest.param(date(2025, 3, 29), time(9, 0), utc(2025, 3, 29, 9), id="Saturday-before-BST"),
        pytest.param(date(2025, 3, 30), time(9, 0), utc(2025, 3, 30, 8), id="day-BST-starts"),
        pytest.param(date(2025, 10, 26), time(9, 0), utc(2025, 10, 26, 9), id="day-BST-ends"),
        pytest.param(date(2025, 10, 25), time(8, 30), utc(2025, 10, 25, 7, 30), id="08:30-last-BST-day"),
        pytest.param(date(2025, 7, 1), time(0, 0), utc(2025, 6, 30, 23), id="midnight-BST-is-previous-UTC-day"),
    ],
)
def test_at_london_time(day, clock, expected):
    result = at_london_time(day, clock)
    assert result == expected
    assert result.utcoffset() == timedelta(0), "returned in UTC"


def test_the_uk_calendar_loaded_alone_gives_the_library_s_bank_holidays():
    import holidays

    from models.working_days import united_kingdom

    years = range(2000, 2061)
    alone = united_kingdom()(subdiv="ENG", years=years)
    assert sorted(alone) == sorted(holidays.country_holidays("GB", subdiv="ENG", years=years))
    assert date(2023, 5, 8) in alone  # a one-off (the Coronation): the library's own list, not a rule


def test_a_working_day_is_worked_out_without_loading_the_other_countries():
    # In a process of its own: the calendar loads the UK's module and none of the 249 others.
    import subprocess
    import sys

    probe = (
        "import sys; from datetime import date; from models.working_days import add_working_days; "
        "assert add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 29); "
        "print(sorted(m for m in sys.modules if m.startswith('holidays.countries')))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]", loaded
