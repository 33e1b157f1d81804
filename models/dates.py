"""Date fields of forms and decisions.

`HappenedOn` is the date something really happened: it cannot be in the future. "Today" comes from
the pydantic validation context (`{"today": date}`) given by the command line and by the workflow's
update validator (from `workflow.now()`), never from the clock inside a model: models are
deserialised on replay, months later.
`PlannedOn` is a date something is planned for (a meeting, a due date): it may be in the future.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BeforeValidator, ValidationError, ValidationInfo


LONDON = ZoneInfo("Europe/London")


def london_today(now: datetime) -> date:
    """The date in England at the instant `now` (workflow code passes `workflow.now()`)."""
    return now.astimezone(LONDON).date()


def _iso_text_only(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


def _not_in_future(value: date, info: ValidationInfo) -> date:
    today = (info.context or {}).get("today")
    if today is not None and value > today:
        raise ValueError(f"cannot be in the future (today is {today.isoformat()})")
    return value


EARLIEST, LATEST = date(1900, 1, 1), date(2099, 12, 31)


def _in_range(value: date) -> date:
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"must be between {EARLIEST.isoformat()} and {LATEST.isoformat()}")
    return value


PlannedOn = Annotated[date, BeforeValidator(_iso_text_only), AfterValidator(_in_range)]
HappenedOn = Annotated[date, BeforeValidator(_iso_text_only), AfterValidator(_in_range), AfterValidator(_not_in_future)]


def field_name(part: int | str) -> str:
    """A place in the input as a refusal names it: a field-like name, or a placeholder for a key that
    is not one (a sender's key can be anything, personal data included)."""
    if isinstance(part, int) or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,39}", part):
        return str(part)
    return "(unexpected field)"


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each bad field and why, without echoing the input (it may be personal data)."""
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(field_name(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":  # pydantic's "Extra inputs are not permitted"
            message = f"is not a field of {model_in_words(error.title)}"
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


def model_in_words(title: str) -> str:
    """What a refusal calls the model that was given a field it does not have: 'the serious incident
    form', a decision by its name ('dsp_decision')."""
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", title).lower()
    if title.endswith("Form"):
        return f"the {words}"
    from models.decisions import DECISIONS  # models.decisions imports this module

    return next((str(name) for name, model in DECISIONS.items() if model.__name__ == title), words.replace(" ", "_"))
