"""Forms and decisions (models/forms.py, models/decisions.py, models/dates.py).

The files in examples/ are the command-line contract (examples/README.md): every one is accepted as
it is. Anything else is refused with a message that names the field and says why, and that never
repeats what was typed: refusals end up in logs and failure messages, which are stored in plain text.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from models.dates import describe_validation_error, london_today
from models.decisions import DECISIONS, Decision, DecisionModel, DecisionRefused, parse_decision
from models.forms import LearningRequestForm, LocalAuthority, SeriousIncidentForm

PROJECT = Path(__file__).resolve().parents[1]
EXAMPLES = PROJECT / "examples"
SHARED_EXAMPLES = PROJECT.parent / "shared" / "examples"

FORMS = {
    "serious-incident-form.json": SeriousIncidentForm,
    "learning-request-form.json": LearningRequestForm,
}

# Personal data planted in otherwise-failing input: none of it may come back in a refusal.
CHILD_NAME = "Jessamine Quillfeather"
SECRET_SUMMARY = "Zanzibar-marmalade incident at 14 Orchard Lane"
REFERRER_NAME = "Bartholomew Okonkwo-Vance"


def load(relative: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / relative).read_text(encoding="utf-8"))


def serious_incident(**changes: Any) -> dict[str, Any]:
    body = load("serious-incident-form.json")
    body.update(changes)
    return body


def refusal_of_form(model: type, body: dict[str, Any], today: date | None = None) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(body, context={"today": today} if today else None)
    return describe_validation_error(caught.value)


def refusal_of_decision(name: str, body: dict[str, Any], today: date | None = None) -> str:
    with pytest.raises(DecisionRefused) as caught:
        parse_decision(Decision(name=name, body=body), today=today)
    return str(caught.value)


def example_decision(name: str, **changes: Any) -> dict[str, Any]:
    body = load(f"decisions/{name}.json")
    body.update(changes)
    return body


# ---- the examples are the contract ----------------------------------------------------------------


@pytest.mark.parametrize("file_name", sorted(FORMS))
def test_example_form_is_accepted_as_it_is(file_name):
    body = load(file_name)
    form = FORMS[file_name].model_validate(body)
    # nothing dropped or invented on the way: the model gives back what the file says
    assert form.model_dump(mode="json", exclude_none=True) == {
        k: v for k, v in body.items() if v is not None
    }


@pytest.mark.parametrize("file_name", sorted(FORMS))
def test_example_form_is_accepted_on_the_day_it_was_received(file_name):
    body = load(file_name)
    received_on = date.fromisoformat(body["received_on"])
    FORMS[file_name].model_validate(body, context={"today": received_on})


def test_example_serious_incident_form_reads_as_the_readme_says():
    form = SeriousIncidentForm.model_validate(load("serious-incident-form.json"))
    assert form.local_authority is LocalAuthority.STOCKTON_ON_TEES
    assert form.received_on == date(2025, 12, 23)
    assert form.became_aware_on == date(2025, 12, 22)
    assert form.incident.date == date(2025, 12, 20)
    assert form.referrer.email == "alex.practitioner@example.org"


def test_example_learning_request_form_reads_as_the_readme_says():
    form = LearningRequestForm.model_validate(load("learning-request-form.json"))
    assert form.local_authority is LocalAuthority.REDCAR_AND_CLEVELAND
    assert form.reason == "near_miss"
    assert form.related_case is None


EXAMPLE_FILES = sorted(path.stem for path in (EXAMPLES / "decisions").glob("*.json"))
# A file named after a decision is that decision's example; the project may add more examples of a
# decision (README, "Example files added"), named `<journey>_<decision>[_<which>]`.
EXAMPLE_DECISIONS = [stem for stem in EXAMPLE_FILES if stem in DECISIONS]
ADDED_EXAMPLES = [stem for stem in EXAMPLE_FILES if stem not in DECISIONS]


def decision_of_added_example(stem: str) -> str | None:
    """The decision an added example is of: the longest decision name in its file name, after a prefix."""
    found = [name for name in DECISIONS if re.fullmatch(rf"[a-z]+_{name}(_[a-z0-9_]+)?", stem)]
    return max(found, key=len, default=None)


@pytest.mark.parametrize("stem", ADDED_EXAMPLES)
def test_an_added_example_is_of_a_decision_accepted_as_it_is_and_listed_in_the_readme(stem):
    name = decision_of_added_example(stem)
    assert name is not None, f"examples/decisions/{stem}.json is named after no decision"
    body = load(f"decisions/{stem}.json")
    parsed = parse_decision(Decision(name=name, body=body))
    assert parsed.model_dump(mode="json", exclude_none=True, exclude=set() if "decided_by" in body else {"decided_by"}) == {k: v for k, v in body.items() if v is not None}
    readme = (PROJECT / "README.md").read_text(encoding="utf-8").partition("### Example files added")[2]
    assert f"`examples/decisions/{stem}.json`" in readme.partition("\n## ")[0], f"{stem} is not listed in the README"


def test_the_local_reviews_contribution_examples_fit_its_terms_of_reference():
    """The contract's agency_contribution_received fits the Rapid Review (received before the local
    review's Terms of Reference are agreed); the added ones name the agencies the terms name, after them."""
    terms = load("decisions/terms_of_reference_agreed.json")
    agreed_on = date.fromisoformat(terms["agreed_on"])
    named = {agency["name"] for agency in terms["agencies"]}
    added = [load(f"decisions/{stem}.json") for stem in ADDED_EXAMPLES if decision_of_added_example(stem) == "agency_contribution_received"]
    assert {body["agency"] for body in added} == named
    assert all(date.fromisoformat(body["received_on"]) >= agreed_on for body in added)
    assert date.fromisoformat(load("decisions/agency_contribution_received.json")["received_on"]) < agreed_on


@pytest.mark.parametrize("name", EXAMPLE_DECISIONS)
def test_example_decision_is_accepted_as_it_is(name):
    body = load(f"decisions/{name}.json")
    parsed = parse_decision(Decision(name=name, body=body))
    assert isinstance(parsed, DECISIONS[name])
    assert parsed.model_dump(mode="json", exclude_none=True, exclude=set() if "decided_by" in body else {"decided_by"}) == {
        k: v for k, v in body.items() if v is not None
    }


@pytest.mark.parametrize("name", EXAMPLE_DECISIONS)
def test_example_decision_is_accepted_on_the_day_it_happened(name):
    """With "today" given, a decision dated today is not "in the future"."""
    body = load(f"decisions/{name}.json")
    model = DECISIONS[name]
    today = date.fromisoformat(body[model.happened_field]) if model.happened_field else date(2025, 12, 24)
    parsed = parse_decision(Decision(name=name, body=body), today=today)
    assert parsed.happened_on == (today if model.happened_field else None)


def test_examples_hold_every_decision_and_nothing_else():
    assert set(EXAMPLE_DECISIONS) == set(DECISIONS)
    assert {p.name for p in EXAMPLES.glob("*.json")} == set(FORMS)


def test_every_decision_of_the_contract_is_known_and_every_other_has_its_example():
    contract = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(\w+)`", contract.partition("## Decisions by stage")[2]))
    assert {name for name in named if (EXAMPLES / "decisions" / f"{name}.json").exists()} <= set(DECISIONS)
    added = [name for name in DECISIONS if name not in named]
    assert all((EXAMPLES / "decisions" / f"{name}.json").exists() for name in added), added


def test_repo_examples_contain_every_shared_file_unchanged():
    """examples/ holds every file of ../shared/examples, byte for byte, and may add more (the project's
    own decisions, README "Extending the system").

    Where the shared folder is not there (a clone on its own) the repo copy must still be the whole
    contract: both forms, a file for every decision, and a README.
    """

    def files(folder: Path) -> dict[str, bytes]:
        return {
            str(path.relative_to(folder)): path.read_bytes()
            for path in sorted(folder.rglob("*"))
            if path.is_file()
        }

    ours = files(EXAMPLES)
    if SHARED_EXAMPLES.is_dir():
        theirs = files(SHARED_EXAMPLES)
        assert set(theirs) <= set(ours)
        different = [name for name in theirs if ours[name] != theirs[name]]
        assert different == []
    expected = {"README.md", *FORMS} | {f"decisions/{name}.json" for name in DECISIONS}
    assert expected <= set(ours)
    for name, content in ours.items():
        if name.endswith(".json"):
            json.loads(content)  # every file is valid JSON as it is


# ---- forms refused: the field and the reason -----------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        pytest.param(
            lambda b: b.update(local_authority="durham"),
            "local_authority",
            "'hartlepool', 'stockton-on-tees', 'middlesbrough' or 'redcar-and-cleveland'",
            id="unknown-local-authority",
        ),
        pytest.param(
            lambda b: b.update(local_authority="Hartlepool"),
            "local_authority",
            "'hartlepool'",
            id="local-authority-by-display-name",
        ),
        pytest.param(lambda b: b["referrer"].pop("email"), "referrer.email", "Field required", id="missing-referrer-email"),
        pytest.param(
            lambda b: b["referrer"].update(email="alex.practitioner.example.org"),
            "referrer.email",
            "not a valid email address",
            id="referrer-email-without-@",
        ),
        pytest.param(
            lambda b: b["referrer"].update(email="alex@practitioner"),
            "referrer.email",
            "not a valid email address",
            id="referrer-email-without-domain",
        ),
        pytest.param(lambda b: b.pop("received_on"), "received_on", "Field required", id="missing-received_on"),
        pytest.param(
            lambda b: b.update(received_on="2025-13-01"), "received_on", "month value is outside", id="month-13"
        ),
        pytest.param(
            lambda b: b.update(received_on="2025-02-30"), "received_on", "day value is outside", id="30-February"
        ),
        pytest.param(
            lambda b: b.update(received_on="24/12/2025"), "received_on", "valid date", id="british-date-format"
        ),
        pytest.param(
            lambda b: b.update(received_on=20251224), "received_on", "must be a date written YYYY-MM-DD", id="integer-date"
        ),
        pytest.param(
            lambda b: b.update(received_on=1766534400.0), "received_on", "must be a date written YYYY-MM-DD", id="timestamp-date"
        ),
        pytest.param(
            lambda b: b["incident"].update(date="20/12/2025"), "incident.date", "valid date", id="malformed-incident-date"
        ),
        pytest.param(
            lambda b: b["child"].update(date_of_birth=20190304),
            "child.date_of_birth",
            "must be a date written YYYY-MM-DD",
            id="integer-date-of-birth",
        ),
        pytest.param(
            lambda b: b.update(became_aware_on="2025-12-24"),
            "became_aware_on",
            "cannot be after received_on",
            id="became-aware-after-received",
        ),
        pytest.param(
            lambda b: b["incident"].update(date="2025-12-23"),
            "incident.date",
            "cannot be after became_aware_on",
            id="incident-after-became-aware",
        ),
        pytest.param(
            lambda b: b["incident"].update(outcome="injury"),
            "incident.outcome",
            "'death' or 'serious_harm'",
            id="unknown-outcome",
        ),
        pytest.param(
            lambda b: b.update(agencies_involved=[]), "agencies_involved", "at least 1 item", id="no-agencies"
        ),
        pytest.param(lambda b: b.update(priority="urgent"), "priority", "is not a field of the serious incident form", id="extra-field"),
        pytest.param(
            lambda b: b["child"].update(name="A child"), "child.name", "is not a field of the serious incident form", id="extra-child-field"
        ),
    ],
)
def test_serious_incident_form_refused_naming_field_and_reason(change, field, reason):
    body = serious_incident()
    change(body)
    message = refusal_of_form(SeriousIncidentForm, body)
    assert message.startswith(f"{field}: ") or f"; {field}: " in message, message
    assert reason in message


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param(lambda b: b.update(received_on="2025-12-24"), "received_on", id="received_on"),
        pytest.param(
            lambda b: b.update(received_on="2025-12-25", became_aware_on="2025-12-24"),
            "became_aware_on",
            id="became_aware_on",
        ),
        pytest.param(lambda b: b["child"].update(date_of_birth="2025-12-25"), "child.date_of_birth", id="date_of_birth"),
    ],
)
def test_form_dates_of_things_that_happened_cannot_be_in_the_future(change, field):
    today = date(2025, 12, 23)
    body = serious_incident()
    change(body)
    message = refusal_of_form(SeriousIncidentForm, body, today=today)
    assert f"{field}: cannot be in the future (today is 2025-12-23)" in message


def test_form_received_today_is_accepted_and_tomorrow_is_not():
    body = serious_incident(received_on="2025-12-23")
    SeriousIncidentForm.model_validate(body, context={"today": date(2025, 12, 23)})
    message = refusal_of_form(SeriousIncidentForm, body, today=date(2025, 12, 22))
    assert message.startswith("received_on: cannot be in the future")


def test_dates_are_not_judged_against_the_clock_without_a_today():
    """Models are deserialised on replay months later: with no "today" given, no date is "future"."""
    far = (date.today() + timedelta(days=3650)).isoformat()
    form = SeriousIncidentForm.model_validate(
        serious_incident(received_on=far, became_aware_on=far)
    )
    assert form.received_on.isoformat() == far


def test_every_problem_is_named_in_one_line():
    body = serious_incident(local_authority="durham", received_on="24/12/2025")
    body["referrer"].pop("email")
    message = refusal_of_form(SeriousIncidentForm, body)
    assert "\n" not in message
    for field in ("local_authority", "received_on", "referrer.email"):
        assert f"{field}: " in message


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        pytest.param(lambda b: b.update(local_authority="york"), "local_authority", "Input should be", id="unknown-authority"),
        pytest.param(lambda b: b["referrer"].pop("email"), "referrer.email", "Field required", id="missing-referrer-email"),
        pytest.param(lambda b: b.update(reason="curiosity"), "reason", "'near_miss'", id="unknown-reason"),
        pytest.param(lambda b: b.update(received_on="2025-11-31"), "received_on", "day value is outside", id="31-November"),
        pytest.param(lambda b: b.update(became_aware_on="2025-11-19"), "became_aware_on", "is not a field of the learning request form", id="no-such-field"),
    ],
)
def test_learning_request_form_refused_naming_field_and_reason(change, field, reason):
    body = load("learning-request-form.json")
    change(body)
    message = refusal_of_form(LearningRequestForm, body)
    assert message.startswith(f"{field}: ") or f"; {field}: " in message, message
    assert reason in message


def test_learning_request_received_in_the_future_refused():
    message = refusal_of_form(
        LearningRequestForm, load("learning-request-form.json"), today=date(2025, 11, 19)
    )
    assert message == "received_on: cannot be in the future (today is 2025-11-19)"


# ---- refusals never repeat personal data ----------------------------------------------------------


def personal(body: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    body["child"]["reference"] = CHILD_NAME
    body["referrer"]["name"] = REFERRER_NAME
    if "incident" in body:
        body["incident"]["summary"] = SECRET_SUMMARY
    else:
        body["summary"] = SECRET_SUMMARY
    return body


PLANTED = (CHILD_NAME, "Jessamine", "Quillfeather", SECRET_SUMMARY, "Zanzibar", "Orchard Lane", REFERRER_NAME, "Okonkwo")


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda b: b.update(local_authority=f"{CHILD_NAME}'s authority"), id="bad-authority-holding-a-name"),
        pytest.param(lambda b: b["referrer"].update(email=f"{REFERRER_NAME} at home"), id="bad-email-holding-a-name"),
        pytest.param(lambda b: b["referrer"].update(email="jessamine.quillfeather@@example.org"), id="bad-email-address"),
        pytest.param(lambda b: b.update(received_on=f"{CHILD_NAME} 2025"), id="bad-date-holding-a-name"),
        pytest.param(lambda b: b["incident"].update(outcome=SECRET_SUMMARY), id="bad-outcome-holding-the-summary"),
        pytest.param(lambda b: b.update(child=CHILD_NAME), id="child-given-as-a-name"),
        pytest.param(lambda b: b["incident"].update(date="2025-12-23"), id="dates-out-of-order"),
        pytest.param(lambda b: b["child"].update(date_of_birth=SECRET_SUMMARY), id="bad-date-of-birth"),
        pytest.param(lambda b: b.update(agencies_involved=CHILD_NAME), id="agencies-given-as-a-name"),
    ],
)
def test_form_refusal_never_echoes_personal_data(change):
    body = personal(serious_incident())
    change(body)
    message = refusal_of_form(SeriousIncidentForm, body, today=date(2025, 12, 23))
    assert message  # refused, with a reason
    leaked = [text for text in PLANTED if text.lower() in message.lower()]
    assert leaked == [], message


def test_learning_request_refusal_never_echoes_personal_data():
    body = personal(load("learning-request-form.json"))
    body["reason"] = SECRET_SUMMARY
    message = refusal_of_form(LearningRequestForm, body)
    assert message.startswith("reason: ")
    assert not any(text.lower() in message.lower() for text in PLANTED), message


def test_decision_refusal_never_echoes_personal_data():
    body = example_decision(
        "dsp_decision",
        decision=f"maybe, {CHILD_NAME}",
        rationale=SECRET_SUMMARY,
        attendees=[REFERRER_NAME],
        meeting_held_on=f"{CHILD_NAME}",
        recorded_by=f"{REFERRER_NAME}",
    )
    message = refusal_of_decision("dsp_decision", body)
    for field in ("decision", "meeting_held_on", "recorded_by"):
        assert f"{field}: " in message
    assert not any(text.lower() in message.lower() for text in PLANTED), message


# ---- decisions refused: the field and the reason -------------------------------------------------


def test_unknown_decision_name_refused_with_the_known_ones():
    message = refusal_of_decision("dsp_descision", example_decision("dsp_decision"))
    assert message.startswith("unknown decision 'dsp_descision'")
    for name in DECISIONS:
        assert name in message


def test_decision_dated_in_the_future_refused():
    body = example_decision("dsp_decision", meeting_held_on="2025-12-25")
    message = refusal_of_decision("dsp_decision", body, today=date(2025, 12, 24))
    assert message == "dsp_decision: meeting_held_on: cannot be in the future (today is 2025-12-24)"


HAPPENED_DECISIONS = sorted(name for name, model in DECISIONS.items() if model.happened_field)


@pytest.mark.parametrize("name", HAPPENED_DECISIONS)
def test_every_decision_of_something_that_happened_refuses_a_future_date(name):
    field = DECISIONS[name].happened_field
    body = example_decision(name)
    today = date.fromisoformat(body[field])
    body[field] = (today + timedelta(days=1)).isoformat()
    message = refusal_of_decision(name, body, today=today)
    assert message == f"{name}: {field}: cannot be in the future (today is {today.isoformat()})"


def test_only_the_two_planning_decisions_have_no_date_that_happened():
    assert sorted(set(DECISIONS) - set(HAPPENED_DECISIONS)) == ["publication_scheduled", "rapid_review_convened"]


@pytest.mark.parametrize(
    ("name", "change"),
    [
        pytest.param(
            "rapid_review_convened",
            lambda b: b.update(meeting_on="2026-03-01", contributions_due_on="2026-02-20"),
            id="rapid_review_convened-meeting_on",
        ),
        pytest.param("publication_scheduled", lambda b: b.update(publication_on="2026-09-01"), id="publication_scheduled"),
        pytest.param(
            "final_report_received",
            lambda b: b["recommendations"][0].update(due_on="2027-06-30"),
            id="recommendation-due_on",
        ),
        pytest.param(
            "learning_review_completed",
            lambda b: b["recommendations"][0].update(due_on="2027-06-30"),
            id="learning-recommendation-due_on",
        ),
        pytest.param(
            "terms_of_reference_agreed",
            lambda b: b["agencies"][0].update(contribution_due_on="2027-01-01"),
            id="agency-contribution_due_on",
        ),
    ],
)
def test_planned_dates_may_be_in_the_future(name, change):
    body = example_decision(name)
    change(body)
    field = DECISIONS[name].happened_field
    today = date.fromisoformat(body[field]) if field else date(2025, 12, 24)
    parsed = parse_decision(Decision(name=name, body=body), today=today)
    assert parsed.model_dump(mode="json", exclude_none=True, exclude=set() if "decided_by" in body else {"decided_by"}) == {k: v for k, v in body.items() if v is not None}


@pytest.mark.parametrize("name", sorted(DECISIONS))
def test_a_decision_from_nobody_is_refused(name):
    body = example_decision(name)
    del body["recorded_by"]
    assert refusal_of_decision(name, body) == f"{name}: recorded_by: Field required"


@pytest.mark.parametrize(
    ("name", "change", "field", "reason"),
    [
        pytest.param(
            "dsp_decision",
            lambda b: b.update(decision="maybe"),
            "decision",
            "Input should be 'notify' or 'do_not_notify'",
            id="dsp_decision-maybe",
        ),
        pytest.param(
            "dsp_decision",
            lambda b: b.update(recorded_by="business unit"),
            "recorded_by",
            "not a valid email address",
            id="recorded_by-not-an-email",
        ),
        pytest.param(
            "dsp_decision",
            lambda b: b.update(independent_scrutineer_attended="perhaps"),
            "independent_scrutineer_attended",
            "valid boolean",
            id="scrutineer-attended-not-a-boolean",
        ),
        pytest.param(
            "dsp_decision", lambda b: b.update(attendees=[]), "attendees", "at least 1 item", id="no-attendees"
        ),
        pytest.param(
            "dsp_decision", lambda b: b.update(rationale=""), "rationale", "at least 1 character", id="empty-rationale"
        ),
        pytest.param(
            "dsp_decision",
            lambda b: b.update(meeting_held_on="2025-13-01"),
            "meeting_held_on",
            "month value is outside",
            id="month-13",
        ),
        pytest.param(
            "dsp_decision",
            lambda b: b.update(meeting_held_on="24/12/2025"),
            "meeting_held_on",
            "valid date",
            id="british-date-format",
        ),
        pytest.param(
            "dsp_decision",
            lambda b: b.update(meeting_held_on=20251224),
            "meeting_held_on",
            "must be a date written YYYY-MM-DD",
            id="integer-date",
        ),
        pytest.param(
            "dsp_decision",
            lambda b: b.update(outcome_notes="x"),
            "outcome_notes",
            "is not a field of dsp_decision",
            id="extra-unknown-field",
        ),
        pytest.param(
            "final_report_received",
            lambda b: b["recommendations"][1].update(id="R1"),
            "recommendations",
            "recommendations: id: each must be named once",
            id="duplicate-recommendation-ids",
        ),
        pytest.param(
            "learning_review_completed",
            lambda b: b["recommendations"].append(dict(b["recommendations"][0], text="Another one.")),
            "recommendations",
            "recommendations: id: each must be named once",
            id="duplicate-learning-recommendation-ids",
        ),
        pytest.param(
            "final_report_received",
            lambda b: b["recommendations"][0].pop("owner"),
            "recommendations.0.owner",
            "Field required",
            id="recommendation-without-owner",
        ),
        pytest.param(
            "final_report_received",
            lambda b: b["recommendations"][1].update(due_on="next spring"),
            "recommendations.1.due_on",
            "valid date",
            id="recommendation-due-on-in-words",
        ),
        pytest.param(
            "rapid_review_meeting_held",
            lambda b: b.update(recommendation="maybe"),
            "recommendation",
            "'lcspr', 'national_review' or 'no_review'",
            id="rapid-review-recommendation-unknown",
        ),
        pytest.param(
            "rapid_review_meeting_held",
            lambda b: b["criteria"].pop("recurrent_themes"),
            "criteria.recurrent_themes",
            "Field required",
            id="criterion-missing",
        ),
        pytest.param(
            "rapid_review_convened",
            lambda b: b["agencies"][1].update(email="trust"),
            "agencies.1.email",
            "not a valid email address",
            id="agency-email-malformed",
        ),
        pytest.param(
            "rapid_review_convened",
            lambda b: b.update(meeting_on=20260113),
            "meeting_on",
            "must be a date written YYYY-MM-DD",
            id="planned-date-as-integer",
        ),
        pytest.param(
            "challenge_resolved",
            lambda b: b.update(outcome="withdrawn"),
            "outcome",
            "'decision_upheld' or 'decision_changed'",
            id="challenge-outcome-unknown",
        ),
        pytest.param(
            "learning_request_decision",
            lambda b: b.update(decision="maybe"),
            "decision",
            "'learning_review' or 'no_review'",
            id="learning-request-decision-maybe",
        ),
        pytest.param(
            "recommendation_updated",
            lambda b: b.update(status="done"),
            "status",
            "'in_progress', 'completed' or 'closed'",
            id="recommendation-status-unknown",
        ),
        pytest.param(
            "executive_decision",
            lambda b: b.update(commission_lcspr="perhaps"),
            "commission_lcspr",
            "valid boolean",
            id="commission-not-a-boolean",
        ),
    ],
)
def test_decision_refused_naming_field_and_reason(name, change, field, reason):
    body = example_decision(name)
    change(body)
    message = refusal_of_decision(name, body)
    assert message.startswith(f"{name}: {field}: "), message
    assert reason in message


def test_decision_with_a_body_of_another_decision_is_refused():
    """The name decides the model: a dsp_decision file sent as executive_decision is refused."""
    message = refusal_of_decision("executive_decision", example_decision("dsp_decision"))
    assert message.startswith("executive_decision: ")
    for field in ("decided_on: Field required", "commission_lcspr: Field required", "decision: is not a field of executive_decision"):
        assert field in message


def test_parsed_decisions_are_frozen():
    parsed = parse_decision(Decision(name="dsp_decision", body=example_decision("dsp_decision")))
    with pytest.raises(ValidationError):
        parsed.decision = "do_not_notify"  # type: ignore[misc]


def test_decision_refused_is_a_value_error():
    """Callers (the workflow's update validator, the command line) catch it as a ValueError."""
    assert issubclass(DecisionRefused, ValueError)


@pytest.mark.parametrize("name", sorted(DECISIONS))
def test_every_decision_model_records_who_recorded_it(name):
    model = DECISIONS[name]
    assert issubclass(model, DecisionModel)
    assert model.model_fields["recorded_by"].is_required()
    if model.happened_field:
        assert model.happened_field in model.model_fields


# ---- models/dates.py ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        pytest.param("2025-07-01T23:30:00+00:00", date(2025, 7, 2), id="late-evening-UTC-is-tomorrow-in-BST"),
        pytest.param("2025-07-01T22:59:59+00:00", date(2025, 7, 1), id="before-BST-midnight"),
        pytest.param("2025-12-01T23:30:00+00:00", date(2025, 12, 1), id="late-evening-GMT"),
        pytest.param("2025-12-02T00:00:00+00:00", date(2025, 12, 2), id="GMT-midnight"),
    ],
)
def test_london_today(instant, expected):
    assert london_today(datetime.fromisoformat(instant)) == expected
