"""The command line of operations and staff: launch cases, record decisions, read a case's status.

    python starter.py serious-incident FORM.json [--json]
    python starter.py learning-request FORM.json [--json]
    python starter.py decide CASE_ID DECISION_NAME FILE.json
    python starter.py correct CASE_ID DECISION_NAME FILE.json --reason TEXT
    python starter.py status CASE_ID [--json]
    python starter.py cases [--partnership P] [--authority A] [--stage S] [--overdue] [--json]
    python starter.py audit CASE_ID [--csv]
    python starter.py report --from DATE --to DATE [--partnership P] [--csv] [--chart FILE.png]
    python starter.py users add EMAIL --partnership HSSCP|STSCP --role ROLE [--role ROLE] [--name NAME] [--single-sign-on]
    python starter.py users disable EMAIL

The server is found through TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE. A refused form or decision
exits non-zero with a one-line reason on standard error, and nothing is started or changed.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import re
import secrets
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.service import RPCError, RPCStatusCode

import settings
import signing
from activities.files import store_document
from models.case import FINAL_STAGES, LOCAL_REVIEW_SUFFIX, CaseKind, CaseStatus, DecisionReceipt, Stage
from models.dates import LONDON, describe_validation_error, london_today
from models.decisions import FORM, Correction, Decision, DecisionName, DecisionRefused, FormFacts, parse_decision
from models.forms import LearningRequestForm, LocalAuthority, SeriousIncidentForm
from models.messages import slug
from models.next_steps import expected_next
from register.db import migrate
from register.queries import case_partnership, audit_trail, known_case, messages_to, open_cases
from activities.documents import written_out
from register.report import MEASURES, as_rows, authority_names, draw_chart, median_text, number, plural, timeliness
from workflows import search_attributes
from workflows.case_workflow import CaseWorkflow
from workflows.learning_request import LearningRequestWorkflow
from workflows.local_review import LocalReviewWorkflow
from workflows.serious_incident import SeriousIncidentWorkflow


class Refused(Exception):
    """Something the command line will not do; its message is the one line shown to the user."""


class Unavailable(Refused):
    """What the command needs is not running (the worker); exits 3 like an unreachable server."""


JOURNEYS = {
    "serious-incident": (CaseKind.SERIOUS_INCIDENT, SeriousIncidentForm, SeriousIncidentWorkflow, "SI"),
    "learning-request": (CaseKind.LEARNING_REQUEST, LearningRequestForm, LearningRequestWorkflow, "LR"),
}
FIRST_STAGE = {
    CaseKind.SERIOUS_INCIDENT: Stage.DSP_MEETING,
    CaseKind.LEARNING_REQUEST: Stage.PARTNERSHIP_DECISION,
}


def today():
    return london_today(datetime.now(timezone.utc))


MAX_INPUT_BYTES = 1024 * 1024  # a form or a decision is a few kilobytes
MAX_INPUT_DEPTH = 10  # a form nests three levels deep


def read_json(path: str) -> Any:
    """A form or decision file, or Refused saying in one line what is wrong with it."""
    file = Path(path)
    try:
        if file.is_dir():
            raise Refused(f"{path}: a folder, not a file")
        if file.stat().st_size > MAX_INPUT_BYTES:
            raise Refused(f"{path}: larger than 1 MB; a form or decision is a few kilobytes")
        value = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise Refused(f"{path}: no such file") from None
    except PermissionError:
        raise Refused(f"{path}: cannot be read (permission denied)") from None
    except UnicodeDecodeError:
        raise Refused(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise Refused(f"{path}: not valid JSON (line {error.lineno}, column {error.colno})") from None
    except RecursionError:
        raise Refused(f"{path}: nested too deeply") from None
    if depth(value) > MAX_INPUT_DEPTH:
        raise Refused(f"{path}: nested too deeply (more than {MAX_INPUT_DEPTH} levels)")
    return value


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def printable(text: str) -> str:
    """Text as the terminal shows it: control sequences (ANSI escapes, NUL, bidi overrides) replaced."""
    return "".join(c if c.isprintable() or c == "\n" else "\N{REPLACEMENT CHARACTER}" for c in text)


def say(text: str = "") -> None:
    print(printable(text))


def cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run: a leading =, +, -, @, tab or return is neutralised."""
    text = "" if value is None else str(value)
    text = "".join(c if c.isprintable() else " " for c in text)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def case_url(case_id: str) -> str:
    return f"{settings.temporal_ui_url()}/namespaces/{settings.temporal_namespace()}/workflows/{case_id}"


def new_case_id(prefix: str, form: BaseModel) -> str:
    """A case id that names no person: the journey, the date received and a random part."""
    return f"{prefix}-{form.received_on:%Y%m%d}-{secrets.token_hex(3)}"  # type: ignore[attr-defined]


async def launch(journey: str, path: str) -> dict[str, Any]:
    form_model = JOURNEYS[journey][1]
    try:
        form = form_model.model_validate(read_json(path), context={"today": today()})
    except ValidationError as error:
        raise Refused(f"invalid {journey} form: {describe_validation_error(error)}") from None
    return await start_case(await settings.connect(), journey, form)


async def start_case(client: Client, journey: str, form: BaseModel) -> dict[str, Any]:
    """Start a case from a form already validated (the command line's file, the console's form)."""
    kind, _, workflow, prefix = JOURNEYS[journey]
    case_id = new_case_id(prefix, form)
    authority = form.local_authority.value  # type: ignore[attr-defined]
    await client.start_workflow(
        workflow.run,
        form,
        id=case_id,
        task_queue=settings.TASK_QUEUE,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(search_attributes.CASE_KIND, kind.value),
                SearchAttributePair(search_attributes.CASE_STAGE, FIRST_STAGE[kind].value),
                SearchAttributePair(search_attributes.LOCAL_AUTHORITY, authority),
                SearchAttributePair(search_attributes.DEADLINE_MISSED, False),
            ]
        ),
        static_summary=f"{kind.value.replace('_', ' ').capitalize()} · {authority} · received {form.received_on}",  # type: ignore[attr-defined]
        static_details=f"Case {case_id}: a {kind.value.replace('_', ' ')} for {authority}. "
        "The case's stage, deadlines, decisions and messages are in its `status` query.",
    )
    return {"case_id": case_id, "kind": kind.value, "local_authority": authority, "web_ui": case_url(case_id)}


DOCUMENT_FIELDS = ("report_file", "written_sign_off")  # a decision's fields that name a file to go with it


async def decide(case_id: str, name: str, path: str) -> tuple[DecisionReceipt, CaseStatus | None]:
    """Send the decision; the receipt, and the case as `status` shows it once its stage has settled
    (None if the case cannot be asked now, e.g. the worker stopped just after: the decision stands)."""
    body = read_json(path)
    if not isinstance(body, dict):
        raise Refused(f"{path}: a decision file holds one JSON object ({{...}}), not {type(body).__name__}")
    documents = {field: body.pop(field) for field in DOCUMENT_FIELDS if isinstance(body.get(field), str)}
    decision = Decision(name=name, body=body)
    try:
        parse_decision(decision, today=today())  # a quick, local refusal of what cannot be valid
    except DecisionRefused as refused:
        raise Refused(str(refused)) from None
    client = await settings.connect()
    await ensure_worker(client)
    target = await decision_target(client, case_id, name)
    for field, document in documents.items():  # stored in the case's own folder: the case gets its name
        try:
            body[field] = store_document(Path(path).parent / document, target)
        except ValueError as error:
            raise Refused(f"{field}: {error}") from None
    decision = signed(case_id, Decision(name=name, body=body))  # with the stored documents' names
    receipt = await send_update(client, case_id, target, CaseWorkflow.decide, decision)
    try:
        return receipt, await settled_status(client, case_id)
    except (Refused, RPCError):
        return receipt, None


async def ensure_worker(client: Client) -> None:
    """A decision or a query needs a worker: say so at once, in plain words, rather than wait for the
    server's 'no poller seen' after its timeout."""
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=settings.TASK_QUEUE),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    for attempt in range(4):  # a worker that has just started may not have polled yet
        try:
            response = await client.workflow_service.describe_task_queue(request, timeout=timedelta(seconds=5))
        except RPCError:
            return  # the server cannot say: let the decision itself tell
        if response.pollers:
            return
        await asyncio.sleep(0.5)
    raise Unavailable(NO_WORKER.format(address=settings.temporal_address(), queue=settings.TASK_QUEUE))


NO_WORKER = (
    "no worker is running for the cases (task queue {queue} at {address}), so no case can take a decision "
    "or answer now: start it with scripts/run.sh (or python worker.py), then try again"
)


async def settled_status(client: Client, case_id: str, within: float = 3.0) -> CaseStatus:
    # Each query is short: the decision is in already, and a case that cannot answer now is not an error.
    """The case as `status` shows it once its stage has stopped moving: an accepted decision can end a
    step, and the case (or its local review) then moves on by itself, e.g. to closed."""
    def stages(case: CaseStatus) -> tuple[str, Any]:
        return case.stage.value, (case.details.get("local_review") or {}).get("stage")

    case = await case_status(client, case_id, QUICK)
    waited = 0.0
    while waited < within and case.stage not in FINAL_STAGES:
        await asyncio.sleep(0.3)
        waited += 0.3
        again = await case_status(client, case_id, QUICK)
        if stages(again) == stages(case):
            return again
        case = again
    return case


async def correct(case_id: str, name: str, path: str, reason: str) -> DecisionReceipt:
    """Replace a recorded decision's content (workflows/corrections.py); the case refuses what cannot be."""
    body = read_json(path)
    if not isinstance(body, dict):
        raise Refused(f"{path}: a decision file holds one JSON object ({{...}}), not {type(body).__name__}")
    try:
        if name == FORM:  # the form's dates (workflows/form_facts.py)
            FormFacts.model_validate(body, context={"today": today()})
        else:
            parse_decision(Decision(name=name, body=body), today=today())
        correction = Correction(name=name, body=body, reason=reason)
        correction = correction.model_copy(update={"signature": signed(case_id, correction.decision()).signature})
    except DecisionRefused as refused:
        raise Refused(str(refused)) from None
    except ValidationError as error:
        where = "form" if name == FORM else "--reason"
        raise Refused(f"{where}: {describe_validation_error(error)}") from None
    client = await settings.connect()
    return await send_update(client, case_id, await decision_target(client, case_id, name), CaseWorkflow.correct, correction)


async def send_update(client: Client, case_id: str, target: str, update: Any, argument: Any) -> DecisionReceipt:
    """A decision or a correction sent to the case (or its local review, `target`); Refused with the
    case's reason when the case refuses it."""
    try:
        return await client.get_workflow_handle(target).execute_update(update, argument)
    except WorkflowUpdateFailedError as error:
        cause = error.cause
        raise Refused(f"refused by case {case_id}: {getattr(cause, 'message', None) or cause}") from None
    except RPCError as error:
        raise Refused(rpc_reason(case_id, error)) from None


def signed(case_id: str, decision: Decision) -> Decision:
    """The decision signed by the command line as the person it acts for (signing.py)."""
    try:
        person = signing.acting_person()
    except LookupError as error:
        raise Refused(str(error)) from None
    signature = signing.sign(case_id, decision.name, decision.body, person, datetime.now(timezone.utc))
    return decision.model_copy(update={"signature": signature})


async def decision_target(client: Client, case_id: str, name: str) -> str:
    """The workflow a decision goes to: the case, or its local review (a child workflow, ¶5) for a
    decision the local review takes and the case does not take now. Staff always give the case's own id."""
    in_review = LocalReviewWorkflow.declared(name)
    if in_review is None or name == DecisionName.CASE_WITHDRAWN:
        return case_id
    case = await query_status(client, case_id)
    review_id = case.details.get("local_review_id")
    in_case = SeriousIncidentWorkflow.declared(name)
    if review_id and not (in_case and case.stage in in_case.at):
        return review_id
    return case_id


QUICK = timedelta(seconds=5)


async def query_status(client: Client, case_id: str, rpc_timeout: timedelta | None = None) -> CaseStatus:
    try:
        return await client.get_workflow_handle(case_id).query(CaseWorkflow.status, rpc_timeout=rpc_timeout)
    except RPCError as error:
        raise Refused(rpc_reason(case_id, error)) from None


async def status(case_id: str) -> CaseStatus:
    """The case, with its local review's deadlines, decisions and messages when it has one."""
    client = await settings.connect()
    await ensure_worker(client)
    case = await case_status(client, case_id)
    check_own_case(case_id, case.partnership)
    return case


async def case_status(client: Client, case_id: str, rpc_timeout: timedelta | None = None) -> CaseStatus:
    case = await query_status(client, case_id, rpc_timeout)
    review_id = case.details.get("local_review_id")
    if not review_id:
        return case
    review = await query_status(client, review_id, rpc_timeout)
    case.deadlines += review.deadlines
    case.decisions = sorted(case.decisions + review.decisions, key=lambda d: d.received_at)
    case.messages += review.messages
    case.details["local_review"] = review.model_dump(mode="json", include={"case_id", "stage", "closed_reason", "details"})
    return case


def rpc_reason(case_id: str, error: RPCError) -> str:
    if "already completed" in error.message:  # the server says NOT_FOUND for an ended case too
        return f"case {case_id} has ended: it takes no more decisions"
    if error.status == RPCStatusCode.NOT_FOUND:
        return f"unknown case {case_id}"
    if "no poller seen" in error.message:  # the worker stopped after the check above
        raise Unavailable(NO_WORKER.format(address=settings.temporal_address(), queue=settings.TASK_QUEUE))
    return f"case {case_id}: {error.message}"


def london_time(moment: datetime) -> str:
    return moment.astimezone(LONDON).strftime("%Y-%m-%d %H:%M")


def message_about(key: str, case: CaseStatus) -> str:
    """Which deadline a reminder, an escalation or a 'reached' notice is about, from its key:
    `<case>/reminder/<clock>[/<subject>]/<n>`, `<case>/escalation/<clock>[/<subject>]`, `<case>/reached/<clock>`."""
    parts = [part for part in key.partition("/")[2].split("/") if not re.fullmatch(r"moved-\d+", part)]
    kind = parts[0]
    if kind not in ("reminder", "escalation", "reached") or len(parts) < 2:
        return ""
    number = parts.pop() if kind == "reminder" and len(parts) > 2 and parts[-1].isdigit() else None
    clock, subject = parts[1], parts[2] if len(parts) > 2 else None
    if subject:  # the agency's name as the case has it, not its slug
        subject = next(
            (d.subject for d in case.deadlines if d.key.value == clock and d.subject and slug(d.subject) == subject), subject
        )
    what = clock + (f" ({subject})" if subject else "")
    if kind == "reminder":
        return f"reminder {number} about {what}" if number else f"reminder about {what}"
    return f"{what} missed: escalated" if kind == "escalation" else f"{what} reached"


def message_state(state: str) -> str:
    """'sent' means recorded in the outbox; with no mail server configured, that is where it stays."""
    return "in outbox" if state == "sent" and settings.smtp() is None else state


def columns(rows: list[list[str]], indent: str = "  ") -> list[str]:
    """Rows as aligned columns, each as wide as its widest cell (long agency names included)."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]


def print_status(case: CaseStatus, names: dict[str, str] | None = None) -> None:
    names = names if names is not None else authority_names()
    authority = names.get(case.local_authority.value, case.local_authority.value)
    kind = case.kind.value.replace("_", " ")
    say(f"Case {case.case_id} ({kind}, {authority}, {case.partnership})")
    say(f"Stage: {case.stage.value}" + (f" — {case.closed_reason}" if case.closed_reason else ""))
    review = case.details.get("local_review")
    if review:
        say(f"Local review: stage {review['stage']}" + (f" — {review['closed_reason']}" if review.get("closed_reason") else ""))
    recorded = frozenset(r.name for r in case.decisions if r.accepted)
    expected = expected_next(case.stage, Stage(review["stage"]) if review else None, recorded)
    for n, line in enumerate(expected):
        say(("Expected next: " if n == 0 else " " * len("Expected next: ")) + line)
    say(f"Web UI: {case_url(case.case_id)}")
    if review:
        say(f"Local review in the Web UI: {case_url(review['case_id'])}")
    say("Deadlines:")
    for line in columns(
        [
            [
                d.key.value + (f" ({d.subject})" if d.subject else ""),
                f"due {d.due_on}",
                d.status.value + (" (recorded late)" if d.recorded_late else ""),
                f"[{d.rule}]",
            ]
            for d in case.deadlines
        ]
    ):
        say(line)
    say("Decisions (received, London time):")
    for line in columns(
        [
            [r.name, london_time(r.received_at), "accepted" if r.accepted else "refused: " + (r.reason or "")]
            for r in case.decisions
        ]
    ):
        say(line)
    say("Messages:")
    for line in columns(
        [[m.template, message_about(m.key, case), message_state(m.status), ", ".join(m.to)] for m in case.messages]
    ):
        say(line)
    if case.attention:
        say("Needs attention:")
        for line in columns([[london_time(a.at), a.step, a.reason] for a in case.attention]):
            say(line)


def print_cases(rows: list[Any], names: dict[str, str] | None = None) -> None:
    names = names if names is not None else authority_names()
    table = [["case", "kind", "stage", "authority", "partnership", "next due", "missed"]]
    for row in rows:
        stage = row.stage + (f" (local review: {row.local_review_stage})" if row.local_review_stage else "")
        table.append(
            [
                row.case_id,
                row.kind.replace("_", " "),
                stage,
                names.get(row.local_authority, row.local_authority),
                row.partnership or "",
                str(row.next_due_on or ""),
                str(row.missed),
            ]
        )
    for line in columns(table, indent=""):
        say(line)


def own_partnership() -> str | None:
    """The partnership the command line's person acts for (None: operations, every partnership)."""
    try:
        return signing.acting_person().partnership
    except LookupError as unknown:
        raise Refused(str(unknown)) from None


def partnership_scope(asked: str | None) -> str | None:
    """What a list may show: the person's own partnership's cases only (asking for another is refused)."""
    own = own_partnership()
    if own is not None and asked not in (None, own):
        raise Refused(f"{signing.acting_person().email} acts for {own}: the cases of {asked} are not theirs to see")
    return own or asked


def check_own_case(case_id: str, partnership: str | None) -> None:
    """Another partnership's case is as unknown to this person as a case that does not exist."""
    own = own_partnership()
    if own is not None and partnership != own:
        raise Refused(f"unknown case {case_id}")


def cases(args: argparse.Namespace) -> None:
    migrate()
    rows = open_cases(partnership_scope(args.partnership), args.authority, args.stage, args.overdue)
    if args.json:
        print(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
    else:
        print_cases(rows)


HAPPENED = re.compile(r"^(?:received |step on )(\d{4}-\d{2}-\d{2})|^(\d{4}-\d{2}-\d{2}) reached")


def happened_on(detail: str | None) -> str:
    """The date the event's step really happened, where its detail carries one (a form received on, a
    step on, a date reached): staff often record a step days after it happened."""
    match = HAPPENED.match(detail or "")
    return (match.group(1) or match.group(2)) if match else ""


def audit(args: argparse.Namespace) -> None:
    migrate()
    events = audit_trail(args.case_id)
    if not events and not known_case(args.case_id):
        raise Refused(f"unknown case {args.case_id}: the register has no record of it")
    check_own_case(args.case_id, case_partnership(args.case_id))
    recipients = messages_to([e.detail for e in events if e.kind.startswith("message_") and e.detail])
    columns_ = ["at", "case_id", "seq", "kind", "name", "detail", "happened_on", "to"]
    if args.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(columns_)
        for event in events:
            to = "; ".join(recipients.get(event.detail or "", [])) if event.kind.startswith("message_") else ""
            row = (event.at.isoformat(), event.case_id, event.seq, event.kind, event.name, event.detail, happened_on(event.detail), to)
            writer.writerow([cell(v) for v in row])
        return
    print_audit(args.case_id, events, recipients)


def print_audit(case_id: str, events: list[Any], recipients: dict[str, list[str]]) -> None:
    say(f"Case {case_id}: every event, its local review's included")
    say("recorded: when it was entered (London time); happened on: the date the step really happened, where the event says")
    table = [["recorded", "happened on", "of", "event", "name", "detail"]]
    for event in events:
        if event.kind.startswith("message_"):
            to = recipients.get(event.detail or "")
            detail = f"to {', '.join(to)}" if to else (event.detail or "")
        else:
            detail = event.detail or ""
        part = "local review" if event.case_id != case_id and event.case_id.endswith(LOCAL_REVIEW_SUFFIX) else "case"
        table.append([london_time(event.at), happened_on(event.detail), part, event.kind, event.name, detail])
    for line in columns(table, indent=""):
        say(line)


def report(args: argparse.Namespace) -> None:
    migrate()
    figures = timeliness(args.start, args.end, partnership_scope(args.partnership))
    names = authority_names()
    rows = as_rows(figures, names)
    partnership = f" ({names.get(args.partnership, args.partnership)})" if args.partnership else ""
    if args.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["local_authority"])
        writer.writeheader()
        writer.writerows({key: cell(value) for key, value in row.items()} for row in rows)
    else:
        say(f"Cases received {written_out(args.start)} to {written_out(args.end)}{partnership}")
        if not figures:
            say("\nNo cases were received in this period.")
        for f in figures:
            say(
                f"\n{names.get(f.local_authority, f.local_authority)}: {plural(f.forms_received, 'form')} "
                f"({plural(f.serious_incidents, 'serious incident')}, {plural(f.learning_requests, 'learning request')}); "
                f"notified {f.notified}, not notified {f.not_notified}"
            )
            for key, title in MEASURES.items():
                m = f.measures[key]
                if not m.judged:
                    say(f"  {title:<48} none judged")
                    continue
                say(f"  {title:<48} {m.met} of {m.judged} on time ({number(m.percent or 0)}%), {median_text(m)}")
    if args.chart:
        title = f"Timeliness, cases received {written_out(args.start)} to {written_out(args.end)}{partnership}"
        draw_chart(figures, Path(args.chart), title, names)
        print(f"chart: {args.chart}", file=sys.stderr)


def users(args: argparse.Namespace) -> None:
    """A staff console account (console/accounts.py); the password from standard input, one line (none
    with --single-sign-on); `users disable EMAIL` refuses an account from now on."""
    from console.accounts import MAX_PASSWORD_LENGTH, AccountRefused, accounts_file, add_account, disable_account

    try:
        if args.users_command == "disable":
            disable_account(args.email)
            say(f"Account {args.email.strip().lower()} disabled in {accounts_file()}")
            return
        account = add_account(args.email, args.partnership, args.role, None if args.single_sign_on else _password(MAX_PASSWORD_LENGTH),
                              name=args.name)
    except AccountRefused as refused:
        raise Refused(str(refused)) from None
    roles = ", ".join(role.value for role in account.roles)
    door = "single sign-on only" if account.password_hash is None else "password"
    say(f"Account {account.email} saved ({roles}; {account.partnership or 'every partnership'}; {door}) in {accounts_file()}")


def _password(longest: int) -> str:
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("Password (at least 12 characters): ")
    return sys.stdin.readline(longest + 2).rstrip("\r\n")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="starter.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for journey in JOURNEYS:
        launch_parser = commands.add_parser(journey, help=f"start a {journey} case from its form")
        launch_parser.add_argument("form")
        launch_parser.add_argument("--json", action="store_true")
    decide_parser = commands.add_parser("decide", help="record a decision on a case")
    decide_parser.add_argument("case_id")
    decide_parser.add_argument("decision_name")
    decide_parser.add_argument("file")
    correct_parser = commands.add_parser("correct", help="replace a recorded decision's content")
    correct_parser.add_argument("case_id")
    correct_parser.add_argument("decision_name")
    correct_parser.add_argument("file")
    correct_parser.add_argument("--reason", required=True, help="why the recorded decision was wrong")
    status_parser = commands.add_parser("status", help="show a case")
    status_parser.add_argument("case_id")
    status_parser.add_argument("--json", action="store_true")
    cases_parser = commands.add_parser("cases", help="the open cases, from the case register")
    cases_parser.add_argument("--partnership", choices=["HSSCP", "STSCP"])
    cases_parser.add_argument("--authority", choices=[a.value for a in LocalAuthority])
    cases_parser.add_argument("--stage", choices=[s.value for s in Stage])
    cases_parser.add_argument("--overdue", action="store_true", help="only cases with a missed deadline")
    cases_parser.add_argument("--json", action="store_true")
    audit_parser = commands.add_parser("audit", help="a case's whole timeline, from the case register")
    audit_parser.add_argument("case_id")
    audit_parser.add_argument("--csv", action="store_true")
    report_parser = commands.add_parser("report", help="the timeliness figures, per local authority")
    report_parser.add_argument("--from", dest="start", type=date.fromisoformat, required=True)
    report_parser.add_argument("--to", dest="end", type=date.fromisoformat, required=True)
    report_parser.add_argument("--partnership", choices=["HSSCP", "STSCP"])
    report_parser.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    report_parser.add_argument("--chart", metavar="PNG", help="also draw the chart for the annual report")
    users_parser = commands.add_parser("users", help="the staff console's accounts")
    users_commands = users_parser.add_subparsers(dest="users_command", required=True)
    add_parser = users_commands.add_parser("add", help="add an account (or set its password and roles); password on standard input")
    add_parser.add_argument("email")
    add_parser.add_argument("--partnership", help="HSSCP or STSCP; left out only for operations")
    add_parser.add_argument("--role", action="append", required=True, help="a PersonRole, e.g. business_unit (repeatable)")
    add_parser.add_argument("--name", default="", help="the person's name as the console shows it")
    add_parser.add_argument("--single-sign-on", action="store_true",
                            help="no password: the person signs in through the partnership's OpenID Connect provider")
    disable_parser = users_commands.add_parser("disable", help="refuse an account at every door from now on")
    disable_parser.add_argument("email")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    if args.command == "users":
        users(args)
    elif args.command == "cases":
        cases(args)
    elif args.command == "audit":
        audit(args)
    elif args.command == "report":
        report(args)
    elif args.command in JOURNEYS:
        started = await launch(args.command, args.form)
        if args.json:
            print(json.dumps(started))
        else:
            say(f"Started case {started['case_id']}\nWeb UI: {started['web_ui']}")
    elif args.command == "decide":
        receipt, case = await decide(args.case_id, args.decision_name, args.file)
        if case is None:  # the case could not be asked after: its answer to the decision
            stage = receipt.stage.value
        else:
            review = case.details.get("local_review")
            stage = case.stage.value + (f" (local review: {review['stage']})" if review else "")
        by = "the local review of case" if receipt.case_id != args.case_id else "case"
        say(f"{receipt.name} accepted by {by} {args.case_id}; stage now {stage}")
    elif args.command == "correct":
        receipt = await correct(args.case_id, args.decision_name, args.file, args.reason)
        say(f"{receipt.name} corrected on case {args.case_id}; stage now {receipt.stage.value}")
    elif args.command == "status":
        case = await status(args.case_id)
        if args.json:
            print(case.model_dump_json(indent=2))
        else:
            print_status(case)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        asyncio.run(run(args))
    except Unavailable as unavailable:
        print(f"error: {printable(str(unavailable))}", file=sys.stderr)
        return 3
    except Refused as refused:
        print(f"error: {printable(str(refused))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the output was piped into `head` and the reader has gone
        return 0
    except RuntimeError as error:  # no server to connect to (the client's transport error says nothing to people)
        if "connect" not in str(error).lower() and "transport" not in str(error).lower():
            raise
        print(
            f"error: cannot reach Temporal at {settings.temporal_address()}: is scripts/run.sh running? "
            "(or set TEMPORAL_ADDRESS to the server's address)",
            file=sys.stderr,
        )
        return 3
    return 0


if __name__ == "__main__":
    code = main()
    # The Temporal client's Rust threads can outlive asyncio.run(); letting the interpreter finalize
    # then aborts the process now and again (SIGABRT/SIGSEGV after the output is printed,
    # temporalio/sdk-python#300). Flush what was printed and leave without finalizing.
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        pass
    os._exit(code)
