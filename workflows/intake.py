"""Decision intake: each journey declares the decisions it takes in one table (`Takes` rows), and
everything else – which decisions a stage takes, the step each one answers, whether it may repeat,
its checks, what it changes – is read from there.

A row's callables receive the part that declared it (the workflow itself, or a part such as
`RapidReview` or `AgencyContributions`) and, for `check` and `then`, the parsed decision.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.case import FINAL_STAGES, Clock, Stage
    from models.decisions import Decision, DecisionModel, DecisionName, DecisionRefused, parse_decision
    from models.identity import Person, PersonRole
    from models.messages import Message

if TYPE_CHECKING:
    from workflows.case import Case

Step = tuple[str, date]  # an earlier step of the case and its date: a decision cannot be dated before it
OPEN_STAGES = frozenset(Stage) - FINAL_STAGES

P = TypeVar("P")
D = TypeVar("D", bound=DecisionModel)


def _always(part: Any) -> bool:
    return True


def _no_check(part: Any, decision: Any) -> None:
    return None


# The earlier step a decision answers: the part's attribute keeping the earlier decision (its step and
# the date it happened), or a function of the part; None (or not recorded yet) is the case's opening.
After = str | Callable[[Any], Step | None] | None


def answered(part: Any, after: After) -> Step | None:
    if after is None:
        return None
    if callable(after):
        return after(part)
    earlier: DecisionModel | None = getattr(part, after)
    if earlier is None or earlier.happened_on is None:
        return None
    return earlier.step, earlier.happened_on


@dataclass(frozen=True)
class Takes(Generic[P, D]):
    """One decision as a journey takes it: when, after what, on what checks, and what it changes."""

    model: type[D]
    at: frozenset[Stage]  # the stages that take it
    # what it changes, in this order (state only, no awaiting):
    keep: str | None = None  # the part's attribute that keeps the decision (with `each`: a dict of them)
    each: str | None = None  # a decision kept once per subject (an agency): the field naming it
    stops: Clock | None = None  # the clock its date judges, met or missed (DESIGN.md)
    stops_when: Callable[[P], bool] = _always  # ... only when this holds (a clock judged otherwise since);
    # the same holds for `starts`: its date is the date of its clocks only then
    moves_to: Stage | None = None  # the stage the case moves to
    then: Callable[[P, D], None] | None = None  # anything else (a stage by the outcome, closing the case)
    starts: Clock | None = None  # the clock its date starts: moved when a correction changes the date
    corrected: Callable[[P, D], Awaitable[None]] | None = None  # what a correction changes besides its clocks
    tells: tuple[type[Message], ...] = ()  # the messages that carried it: a correction notice goes to their recipients
    # when it is taken:
    after: After = None  # the step it answers: it cannot be dated before it
    check: Callable[[P, D], None] = _no_check  # rules on its content that need the case
    repeats: bool = False  # taken more than once (one agency's contribution, a recommendation's progress)
    by: frozenset[PersonRole] = frozenset({PersonRole.BUSINESS_UNIT})  # who may record it (and operations)
    by_with_document: frozenset[PersonRole] = frozenset()  # who may record it with `document` attached
    document: str | None = None  # the field holding the written say-so of those in `by`
    now: Callable[[P], bool] = _always  # taken at those stages only when this holds

    @property
    def name(self) -> DecisionName:
        return self.model.name


Table = Sequence[Takes[Any, Any]]


# Who records a decision besides the Business Unit (operations may record any; signing.py).
RECORDED_BY_DSPS = frozenset({PersonRole.BUSINESS_UNIT, PersonRole.DSP})
RECORDED_BY_NOTIFIERS = frozenset({PersonRole.BUSINESS_UNIT, PersonRole.NOTIFIER})
RECORDED_BY_RAPID_REVIEW_CHAIRS = frozenset({PersonRole.BUSINESS_UNIT, PersonRole.RAPID_REVIEW_CHAIR})
RECORDED_BY_THE_EXECUTIVE = frozenset({PersonRole.BUSINESS_UNIT, PersonRole.EXECUTIVE})
SIGNED_OFF_BY_THE_CHAIR = frozenset({PersonRole.PARTNERSHIP_CHAIR})


def at(*stages: Stage) -> frozenset[Stage]:
    return frozenset(stages)


def names(*tables: Table) -> frozenset[DecisionName]:
    return frozenset(row.name for table in tables for row in table)


class DecisionIntake:
    """The decisions one case takes, from the tables of its parts: checks them and applies them."""

    def __init__(self, case: Case, parts: Iterable[tuple[Any, Table]], opened_by: Callable[[], Step]) -> None:
        self.case = case
        self.rows: dict[DecisionName, tuple[Any, Takes[Any, Any]]] = {}
        for part, table in parts:
            for row in table:
                if row.name in self.rows:
                    raise TypeError(f"{row.name} is declared twice in one journey")
                if row.keep and not hasattr(part, row.keep):
                    raise TypeError(f"{row.name} is kept in {type(part).__name__}.{row.keep}, which it does not have")
                self.rows[row.name] = (part, row)
        self.opened_by = opened_by

    def expected(self, stage: Stage) -> frozenset[DecisionName]:
        if stage in FINAL_STAGES:
            return frozenset()
        return frozenset(name for name, (part, row) in self.rows.items() if stage in row.at and row.now(part))

    def check(self, decision: Decision, stage: Stage, accepted: set[str], today: date) -> DecisionModel:
        """The decision parsed, or DecisionRefused saying why the case will not take it now."""
        if stage in FINAL_STAGES:
            raise DecisionRefused(f"the case is {stage.value}: it takes no more decisions")
        parsed = parse_decision(decision, today=today)
        name = parsed.name
        known = self.rows.get(name)
        if not (known and known[1].repeats) and name in accepted:
            raise DecisionRefused(f"{name} is already recorded on this case")
        expected = self.expected(stage)
        if known is None or name not in expected:
            raise DecisionRefused(
                f"{name} is not expected at stage {stage.value}; this stage takes {', '.join(sorted(expected))}"
            )
        part, row = known
        step, step_on = answered(part, row.after) or self.opened_by()
        happened_on = parsed.happened_on
        if happened_on is not None and happened_on < step_on:
            raise DecisionRefused(f"{name}: {parsed.happened_field} ({happened_on}) is before {step} ({step_on})")
        row.check(part, parsed)
        return parsed

    def authorise(self, decision: DecisionModel, person: Person, partnership: str | None) -> None:
        """The person may record this decision on this case: their partnership, and a role the row names."""
        if person.partnership is not None and person.partnership != partnership:
            raise DecisionRefused(f"{decision.name}: {person.email} acts for {person.partnership}, not this case's partnership")
        roles = set(person.roles)
        part, row = self.rows[decision.name]
        if PersonRole.OPERATIONS in roles:
            return
        if roles & row.by_with_document and row.document and getattr(decision, row.document, None):
            return
        if roles & row.by_with_document and row.document:
            raise DecisionRefused(
                f"{decision.name}: {person.email} may record it only with the written say-so of "
                f"{', '.join(sorted(r.value for r in row.by))} attached ({row.document})"
            )
        if not roles & row.by:
            allowed = ", ".join(sorted(role.value for role in row.by))
            held = ", ".join(sorted(role.value for role in roles)) or "no role"
            raise DecisionRefused(f"{decision.name}: {person.email} ({held}) may not record it; it is recorded by {allowed}")

    def apply(self, decision: DecisionModel) -> None:
        part, row = self.rows[decision.name]
        subject = getattr(decision, row.each) if row.each else None
        if row.keep and row.each:
            getattr(part, row.keep)[subject] = decision
        elif row.keep:
            setattr(part, row.keep, decision)
        if row.stops and row.stops_when(part):
            assert decision.happened_on is not None, f"{decision.name} stops a clock: it needs its date"
            self.case.clocks.stop(row.stops, decision.happened_on, subject=subject)
        if row.moves_to:
            self.case.stage = row.moves_to
        if row.then:
            row.then(part, decision)
