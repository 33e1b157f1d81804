"""The command line of operations and staff: launch cases, record decisions, read a case's status.

    python starter.py serious-incident FORM.json [--json]
    python starter.py learning-request FORM.json [--json]
    python starter.py decide CASE_ID DECISION_NAME FILE.json
    python starter.py status CASE_ID [--json]
    python starter.py cases [--partnership P] [--authority A] [--stage S] [--overdue] [--json]
    python starter.py audit CASE_ID [--csv]
    python starter.py report --from DATE --to DATE [--partnership P] [--csv] [--chart FILE.png]

The server is found through TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE. A refused form or decision
exits non-zero with a one-line reason on standard error, and nothing is started or changed.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import secrets
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

import settings
from activities.files import store_document
from models.case import CaseKind, CaseStatus, DecisionReceipt, Stage
from models.dates import describe_validation_error, london_today
from models.decisions import Decision, DecisionName, DecisionRefused, parse_decision
from models.forms import LearningRequestForm, LocalAuthority, SeriousIncidentForm
from register.db import migrate
from register.queries import audit_trail, known_case, open_cases
from activities.documents import written_out
from register.report import MEASURES, as_rows, authority_names, draw_chart, median_text, number, plural, timeliness
from workflows import search_attributes
from workflows.case_workflow import CaseWorkflow
from workflows.learning_request import LearningRequestWorkflow
from workflows.local_review import LocalReviewWorkflow
from workflows.serious_incident import SeriousIncidentWorkflow


class Refused(Exception):
    """Something the command line will not do; its message is the one line shown to the user."""


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
    kind, form_model, workflow, prefix = JOURNEYS[journey]
    try:
        form = form_model.model_validate(read_json(path), context={"today": today()})
    except ValidationError as error:
        raise Refused(f"invalid {journey} form: {describe_validation_error(error)}") from None
    case_id = new_case_id(prefix, form)
    authority = form.local_authority.value
    client = await settings.connect()
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
        static_summary=f"{kind.value.replace('_', ' ').capitalize()} · {authority} · received {form.received_on}",
        static_details=f"Case {case_id}: a {kind.value.replace('_', ' ')} for {authority}. "
        "The case's stage, deadlines, decisions and messages are in its `status` query.",
    )
    return {"case_id": case_id, "kind": kind.value, "local_authority": authority, "web_ui": case_url(case_id)}


DOCUMENT_FIELDS = ("report_file",)  # a decision's fields that name a file to go with it


async def decide(case_id: str, name: str, path: str) -> DecisionReceipt:
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
    target = await decision_target(client, case_id, name)
    for field, document in documents.items():  # stored in the case's own folder: the case gets its name
        try:
            body[field] = store_document(Path(path).parent / document, target)
        except ValueError as error:
            raise Refused(f"{field}: {error}") from None
    handle = client.get_workflow_handle(target)
    try:
        return await handle.execute_update(CaseWorkflow.decide, decision)
    except WorkflowUpdateFailedError as error:
        cause = error.cause
        raise Refused(f"refused by case {case_id}: {getattr(cause, 'message', None) or cause}") from None
    except RPCError as error:
        raise Refused(rpc_reason(case_id, error)) from None


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


async def query_status(client: Client, case_id: str) -> CaseStatus:
    try:
        return await client.get_workflow_handle(case_id).query(CaseWorkflow.status)
    except RPCError as error:
        raise Refused(rpc_reason(case_id, error)) from None


async def status(case_id: str) -> CaseStatus:
    """The case, with its local review's deadlines, decisions and messages when it has one."""
    client = await settings.connect()
    case = await query_status(client, case_id)
    review_id = case.details.get("local_review_id")
    if not review_id:
        return case
    review = await query_status(client, review_id)
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
    return f"case {case_id}: {error.message}"


def print_status(case: CaseStatus) -> None:
    say(f"Case {case.case_id} ({case.kind.value}, {case.local_authority.value}, {case.partnership})")
    say(f"Stage: {case.stage.value}" + (f" — {case.closed_reason}" if case.closed_reason else ""))
    say(f"Web UI: {case_url(case.case_id)}")
    if review := case.details.get("local_review"):
        say(f"Local review: {review['case_id']}, stage {review['stage']}  Web UI: {case_url(review['case_id'])}")
    say("Deadlines:")
    for d in case.deadlines:
        late = " (recorded late)" if d.recorded_late else ""
        key = d.key.value + (f" ({d.subject})" if d.subject else "")
        say(f"  {key:<26} due {d.due_on}  {d.status.value}{late}  [{d.rule}]")
    say("Decisions:")
    for r in case.decisions:
        say(f"  {r.name:<26} {'accepted' if r.accepted else 'refused: ' + (r.reason or '')}")
    say("Messages:")
    for m in case.messages:
        say(f"  {m.template:<28} {m.status:<7} {', '.join(m.to)}")


def print_cases(rows: list[Any]) -> None:
    say(f"{'case':<26} {'kind':<17} {'stage':<24} {'authority':<21} {'partnership':<11} {'next due':<10} missed")
    for row in rows:
        say(
            f"{row.case_id:<26} {row.kind:<17} {row.stage:<24} {row.local_authority:<21} "
            f"{row.partnership or '':<11} {str(row.next_due_on or ''):<10} {row.missed}"
        )


def cases(args: argparse.Namespace) -> None:
    migrate()
    rows = open_cases(args.partnership, args.authority, args.stage, args.overdue)
    if args.json:
        print(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
    else:
        print_cases(rows)


def audit(args: argparse.Namespace) -> None:
    migrate()
    events = audit_trail(args.case_id)
    if not events and not known_case(args.case_id):
        raise Refused(f"unknown case {args.case_id}: the register has no record of it")
    columns = ["at", "case_id", "seq", "kind", "name", "detail"]
    if args.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        for event in events:
            writer.writerow([cell(v) for v in (event.at.isoformat(), event.case_id, event.seq, event.kind, event.name, event.detail)])
    else:
        for event in events:
            say(f"{event.at:%Y-%m-%d %H:%M} {event.case_id:<24} {event.kind:<18} {event.name:<30} {event.detail or ''}")


def report(args: argparse.Namespace) -> None:
    migrate()
    figures = timeliness(args.start, args.end, args.partnership)
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
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    if args.command == "cases":
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
        receipt = await decide(args.case_id, args.decision_name, args.file)
        say(f"{receipt.name} accepted by case {receipt.case_id}; stage now {receipt.stage.value}")
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
    except Refused as refused:
        print(f"error: {printable(str(refused))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the output was piped into `head` and the reader has gone
        return 0
    except RuntimeError as error:  # no server to connect to
        print(f"error: cannot reach Temporal at {settings.temporal_address()}: {error}", file=sys.stderr)
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
