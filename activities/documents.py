"""Word documents people outside the system read: the Serious Incident Notification Request Form as the
LA Serious Incident Notifier receives it (¶2.6), and the helpers the Rapid Review report shares.

Written for a reader who does not know the system: labels in words, the authority and the partnership
by their names from the routing file, dates written out ("23 December 2025"), the partnership as the
document's author. Rendered by activities, in a thread (python-docx blocks).
"""

from __future__ import annotations

import copy
import functools
import io
import re
import threading
import zipfile
from datetime import date, datetime, timezone
from typing import Any

from docx import Document
from docx.document import Document as DocumentObject
from docx.opc.coreprops import CoreProperties
from docx.opc.oxml import serialize_part_xml
from docx.oxml.ns import qn

from activities.routing import RoutingConfig
from models.forms import LocalAuthority, SeriousIncidentForm

FORM_TITLE = "Serious Incident Notification Request Form"
FORM_FILENAME = "serious-incident-notification-form.docx"

OUTCOMES = {"death": "Death of the child", "serious_harm": "Serious harm to the child"}
ABUSE_OR_NEGLECT = {
    "known": "Known",
    "suspected": "Suspected",
    "not_suspected": "Not suspected; family known to Children's Social Care (¶2.3)",
}


def written_out(day: date | None) -> str:
    """A date as people write it: 23 December 2025."""
    return f"{day.day} {day:%B %Y}" if day is not None else "Not given"


def yes_no(value: bool | None) -> str:
    return "Not stated" if value is None else ("Yes" if value else "No")


def new_document(title: str, author: str):
    """A Word document whose properties name the partnership as author, not the library."""
    document = Document()
    name_author(document.core_properties, title, author)
    remember_style_ids(document)
    return document


def name_author(properties: CoreProperties, title: str, author: str) -> None:
    properties.title = title
    properties.author = author
    properties.last_modified_by = author
    properties.comments = ""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    properties.created = properties.modified = now


class Template:
    """python-docx's template opened once a process, and its package saved once without the two parts a
    document changes (`word/document.xml`, `docProps/core.xml`): opening it (350 KB of styles parsed)
    and zipping it again (800 KB of styles compressed) were two thirds of a form's rendering."""

    CHANGED = ("word/document.xml", "docProps/core.xml")

    def __init__(self) -> None:
        self.document = Document()
        remember_style_ids(self.document)
        self.body = copy.deepcopy(self.document.element)
        self.core = copy.deepcopy(self.document.core_properties._element)
        saved = io.BytesIO()
        self.document.save(saved)
        rest = io.BytesIO()
        with zipfile.ZipFile(saved) as whole, zipfile.ZipFile(rest, "w", zipfile.ZIP_DEFLATED) as out:
            for info in whole.infolist():
                if info.filename not in self.CHANGED:
                    out.writestr(info, whole.read(info))
        self.rest = rest.getvalue()
        self.lock = threading.Lock()  # documents are rendered in threads: the originals copied one at a time


@functools.cache
def template() -> Template:
    return Template()


class PreparedDocument:
    """A Word document on the template opened once (`Template`): its body and properties are its own,
    its styles the template's, read only. `save()` writes its two parts into the package saved once;
    each part is the same bytes python-docx's `save` writes (the zip's entries in another order)."""

    def __init__(self, title: str, author: str) -> None:
        shared = template()
        with shared.lock:
            self.body, core = copy.deepcopy(shared.body), copy.deepcopy(shared.core)
        self.document = DocumentObject(self.body, shared.document.part)
        self.properties = CoreProperties(core)
        name_author(self.properties, title, author)

    def save(self) -> bytes:
        package = io.BytesIO(template().rest)
        with zipfile.ZipFile(package, "a", zipfile.ZIP_DEFLATED) as out:
            out.writestr("docProps/core.xml", serialize_part_xml(self.properties._element))
            out.writestr("word/document.xml", serialize_part_xml(self.body))
        return package.getvalue()


STYLE_IDS: dict[tuple[str, Any], str | None] = {}


def remember_style_ids(document) -> None:
    """Look each style name up once per process. python-docx resolves a style name at every heading,
    bulleted paragraph and table, each time scanning all the template's styles twice (the name, then
    whether it is the default): a third of a form's rendering. Every document here starts from the
    same template (`new_document`), whose styles do not change, so the id found once is the id every
    later look-up would find."""
    part = document.part
    look_up = part.get_style_id

    def get_style_id(style_or_name, style_type):
        if not isinstance(style_or_name, str):
            return look_up(style_or_name, style_type)
        if (style_or_name, style_type) not in STYLE_IDS:
            STYLE_IDS[style_or_name, style_type] = look_up(style_or_name, style_type)
        return STYLE_IDS[style_or_name, style_type]

    part.get_style_id = get_style_id


def table(document, rows: list[tuple[str, str]], header: tuple[str, str] | None = None) -> None:
    """Two columns, label and value, with a grid: how the partnership's forms are laid out; the header's
    cells bold, or without a header each row's label.

    Only the header and the first row are built with python-docx's API; each further row is a copy of
    the first row's `<w:tr>` with its two runs' text set by python-docx's own run text setter
    (`CT_R.text`, which keeps the run's `<w:rPr>`). `add_row()` parses a new XML fragment for every cell,
    and the text and the bold walk it again: copying halved the form's CPU (about 12 ms a render, 6 ms;
    the form now copies every element, `FormBody`; the Rapid Review report uses this). The XML is the
    same, byte for byte (tested): `_Cell.text` always leaves one paragraph holding one run, also for an
    empty string."""
    grid = document.add_table(rows=0, cols=2)
    grid.style = "Table Grid"
    if header:
        built_row(grid, header, bold=2)
    first = None
    for texts in rows:
        if first is None:
            first = built_row(grid, texts, bold=0 if header else 1)
            continue
        tr = copy.deepcopy(first)  # the first row of this table: no XML is shared between documents
        for run, text in zip(tr.iter(qn("w:r")), texts, strict=True):
            run.text = text
        first.getparent().append(tr)  # where `add_tr()` puts it: a table's rows are its last children


def built_row(grid, texts: tuple[str, str], bold: int):
    """A row added as python-docx adds one, its first `bold` cells bold; its `<w:tr>` element."""
    row = grid.add_row()
    for number, (cell, text) in enumerate(zip(row.cells, texts, strict=True)):
        cell.text = text
        for run in cell.paragraphs[0].runs if number < bold else []:
            run.bold = True
    return row._tr


def bullets(document, items: list[str], empty: str = "None recorded.") -> None:
    for item in items or [empty]:
        document.add_paragraph(item, style="List Bullet")


class Prototypes:
    """One element of each kind the form is made of, written once a process by python-docx's own API on
    the template's body (`Template`), so every copy is python-docx's XML: a table's column widths come
    from the template's page width, the style ids from its styles. Copied one at a time, as `Template`'s
    originals are: forms are rendered in threads at once."""

    def __init__(self) -> None:
        shared = template()
        with shared.lock:
            document = DocumentObject(copy.deepcopy(shared.body), shared.document.part)
        italic, bold = document.add_paragraph("x"), document.add_paragraph("x")
        italic.runs[0].italic = True
        bold.runs[0].bold = True
        grid = document.add_table(rows=0, cols=2)
        grid.style = "Table Grid"
        self.elements = {
            "title": document.add_heading("x", level=0)._p,
            "heading": document.add_heading("x", level=1)._p,
            "plain": document.add_paragraph("x")._p,
            "italic": italic._p,
            "bold": bold._p,
            "bullet": document.add_paragraph("x", style="List Bullet")._p,
            "table": copy.deepcopy(grid._tbl),  # before its row is added: `add_table(rows=0, ...)`
            "label_row": built_row(grid, ("x", "x"), bold=1),
        }
        self.lock = threading.Lock()

    def copied(self, kind: str):
        with self.lock:
            return copy.deepcopy(self.elements[kind])


@functools.cache
def prototypes() -> Prototypes:
    return Prototypes()


SPECIAL = re.compile("[\t\r\n]")  # the characters python-docx's run text setter writes as elements


def set_text(run, text: str) -> None:
    """`run.text = text` (python-docx's `CT_R.text`) for a prototype's run, which holds `<w:t>x</w:t>`.
    python-docx writes a text without tabs, line breaks (they become `<w:tab/>`, `<w:br/>`) and white
    space at either end (it adds `xml:space="preserve"`) as one `<w:t>` holding it: that `<w:t>` is set in
    place (the setter, clearing the run and appending the text character by character, was half of what
    was left of a form's CPU). Any other text is written by python-docx's setter."""
    if text and text == text.strip() and not SPECIAL.search(text):
        run.find(qn("w:t")).text = text
    else:
        run.text = text


class FormBody:
    """The form's paragraphs and tables, written into a `PreparedDocument`'s body as copies of the
    `Prototypes`, each run's text set as python-docx sets it (`set_text`), each element put where
    python-docx puts a paragraph or a table (before the body's `<w:sectPr>`). `add_heading`,
    `add_paragraph`, `add_run`, the bold and italic setters and `add_row` build every element anew,
    looking style names up and walking the XML for where each child goes: a form cost about 6 ms of CPU
    (10-12 ms in a busy worker), copying costs 0.9 ms, all of it included. The XML is the same, byte
    for byte: tests/test_notifications_activity.py renders forms with python-docx's API to compare."""

    def __init__(self, prepared: PreparedDocument) -> None:
        self.prototypes = prototypes()
        self.body = prepared.body.body

    def add(self, element) -> None:
        self.body.insert_element_before(element, "w:sectPr")  # as `add_p()` and `_insert_tbl()` do

    def paragraph(self, text: str, kind: str = "plain") -> None:
        """`add_paragraph(text)` (`kind` "bold"/"italic": its run bold or italic; "bullet": style
        "List Bullet"); an empty text has no run, as `add_paragraph("")` and `add_paragraph()` have."""
        p = self.prototypes.copied(kind)
        run = p.find(qn("w:r"))
        if text:
            set_text(run, text)
        else:
            p.remove(run)
        self.add(p)

    def heading(self, text: str, level: int) -> None:
        self.paragraph(text, {0: "title", 1: "heading"}[level])

    def table(self, rows: list[tuple[str, str]]) -> None:
        """`table(document, rows)`: each row's label bold."""
        tbl = self.prototypes.copied("table")
        for texts in rows:
            tr = self.prototypes.copied("label_row")
            for run, text in zip(tr.iter(qn("w:r")), texts, strict=True):
                set_text(run, text)
            tbl.append(tr)  # where `add_tr()` puts it: a table's rows are its last children
        self.add(tbl)

    def bullets(self, items: list[str], empty: str = "None recorded.") -> None:
        for item in items or [empty]:
            self.paragraph(item, "bullet")

    def write(self, blocks: list[Block]) -> None:
        """Each block of `form_blocks`, in order."""
        for kind, *content in blocks:
            if kind == "title":
                self.heading(content[0], level=0)
            elif kind == "heading":
                self.heading(content[0], level=1)
            elif kind == "paragraph":
                self.paragraph(content[0], content[1])
            elif kind == "table":
                self.table(content[0])
            elif kind == "bullets":
                self.bullets(content[0])
            else:
                raise ValueError(f"a form block of no known kind: {kind!r}")


def serious_incident_form_document(
    form_json: dict[str, Any], case_id: str, routing: RoutingConfig, context: dict[str, str] | None = None
) -> bytes:
    """The form as a Word document, laid out as the partnership's Serious Incident Notification Request
    Form; `context` adds what the DSPs decided (the message's fields: meeting held, notification due)."""
    form = SeriousIncidentForm.model_validate(form_json)
    authority = routing.authority(LocalAuthority(form.local_authority))
    partnership = routing.partnership(authority.partnership)
    prepared = PreparedDocument(f"{FORM_TITLE}, case {case_id}", partnership.name)
    FormBody(prepared).write(form_blocks(form, case_id, authority.name, partnership.name, context or {}))
    return prepared.save()


# What the form says, in order, apart from how it is written: a block is ("title", text), ("heading",
# text), ("paragraph", text, "plain" | "italic" | "bold"), ("table", rows: label and value) or
# ("bullets", items). `FormBody.write` writes them; the tests write the same blocks with python-docx's API.
Block = tuple[Any, ...]


def form_blocks(
    form: SeriousIncidentForm, case_id: str, authority: str, partnership: str, context: dict[str, str]
) -> list[Block]:
    about = [
        ("Case reference", case_id),
        ("Local authority", authority),
        ("Safeguarding partnership", partnership),
        ("Form received by the partnership", written_out(form.received_on)),
        ("The local authority became aware of the incident", written_out(form.became_aware_on)),
    ]
    if context.get("meeting_held_on"):
        about.append(("Delegated Safeguarding Partners met", written_out(date.fromisoformat(context["meeting_held_on"]))))
    if context.get("notification_due_on"):
        about.append(("Notify the National Panel by the end of", written_out(date.fromisoformat(context["notification_due_on"]))))
    referrer, child, incident = form.referrer, form.child, form.incident
    return [
        ("title", FORM_TITLE),
        ("paragraph", partnership, "plain"),
        ("paragraph", f"This form was sent to the {partnership} under protocol paragraph 2.5. The Delegated "
         "Safeguarding Partners decided that the incident is to be notified to the National Child Safeguarding "
         "Practice Review Panel (paragraph 2.6). It is sent to you as the local authority's Serious Incident "
         "Notifier.", "italic"),
        ("heading", "About this notification"),
        ("table", about),
        ("heading", "Person making the request"),
        ("table", [("Name", referrer.name), ("Agency", referrer.agency), ("Email address", str(referrer.email)),
                   ("Telephone", referrer.phone or "Not given")]),
        ("heading", "The child"),
        ("table", [("Reference", child.reference), ("Date of birth", written_out(child.date_of_birth)),
                   ("Sex", (child.sex or "Not stated").capitalize()),
                   ("Known to children's social care", yes_no(child.known_to_childrens_social_care))]),
        ("heading", "The incident"),
        ("table", [("Date of the incident", written_out(incident.date)), ("Outcome", OUTCOMES[incident.outcome]),
                   ("Abuse or neglect", ABUSE_OR_NEGLECT[incident.abuse_or_neglect])]),
        ("paragraph", "", "plain"),  # `add_paragraph()`: a blank line
        ("paragraph", "What happened", "bold"),
        ("paragraph", incident.summary, "plain"),
        ("heading", "Agencies involved with the child and family"),
        ("bullets", list(form.agencies_involved)),
    ]
