"""Text and dates as a case accepts them: every text field has a length limit and a character policy.

No control characters (NUL included), no bidirectional overrides or isolates (they make text read
otherwise than it is stored); names and references are one line, trimmed and non-empty; free text may
have line breaks and tabs. Refusals name the rule, never echo the text.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

# C0 and C1 controls except tab and line breaks; bidi embeddings, overrides, isolates and marks
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAK = re.compile(r"[\r\n\t\u2028\u2029\x85]")


class Public(str):
    """A summary for the Web UI that says nothing about a child, a family or anyone in a case: fixed
    words, clock and step names, dates, a case's id. Its payload travels unencrypted (models/payloads.py
    marks it, codec.py leaves it), so operators read it in the Web UI without the codec server, and it
    costs a case's history about 60 bytes less than a sealed one. Nothing from a form or a decision (an
    agency's name, a person, free text) is ever made Public: tests/test_encryption.py walks every journey
    with a marker in each such field and finds none in the raw history."""


def _plain(value: str) -> str:
    if _FORBIDDEN.search(value):
        raise ValueError("must not contain control characters or bidirectional overrides")
    return value.replace("\r\n", "\n")


def _one_line(value: str) -> str:
    value = _plain(value)
    if _LINE_BREAK.search(value):
        raise ValueError("must be one line, without line breaks or tabs")
    return value


MANY = 100  # the most items a list in a form or decision holds (agencies, members, recommendations)
NAME_LENGTH = 200
REFERENCE_LENGTH = 100
TEXT_LENGTH = 20_000

# A person, an agency, a chair: one line, trimmed, at most 200 characters.
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_LENGTH), AfterValidator(_one_line)]
# A reference, an id, a phone number: one line, trimmed, at most 100 characters.
Reference = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=REFERENCE_LENGTH), AfterValidator(_one_line)
]
# A name the system gives (a decision's name as it travels; parse_decision checks it is known): one short line.
Identifier = Annotated[str, StringConstraints(max_length=64), AfterValidator(_one_line)]
# A rationale, facts, findings, a summary: line breaks allowed, at most 20,000 characters.
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TEXT_LENGTH), AfterValidator(_plain)]


def _web_address(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/$.?#][^\s]*", value):
        raise ValueError("must be a web address starting with https:// or http://")
    return value


def _document_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", value) or ".." in value:
        raise ValueError(
            "must name a document stored in the case's documents folder (starter.py decide stores the file "
            "given there), not a path"
        )
    return value


# A document that goes with a decision: a file the command line stored in the case's documents folder.
DocumentName = Annotated[str, AfterValidator(_document_name)]


def normalised(name: str) -> str:
    """A name as the case compares it: "Cleveland Police" and "cleveland-police" are one agency."""
    return re.sub(r"[^0-9a-z]+", "", name.casefold())


def named_once(names: list[str], what: str) -> None:
    normal = [normalised(name) for name in names]
    if len(normal) != len(set(normal)):
        raise ValueError(f"{what}: each must be named once (names are compared ignoring case, spaces and punctuation)")


Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), AfterValidator(_one_line), AfterValidator(_web_address)]
