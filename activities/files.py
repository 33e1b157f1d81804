"""Where activities may read and write a case's files: each case's own folder under a folder the
system controls (outbox, reports, documents), never a path a sender chose."""

from __future__ import annotations

import hashlib
import re
import stat
from pathlib import Path

from temporalio.exceptions import ApplicationError

import settings

CASE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
DOCUMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
MAX_DOCUMENT_BYTES = 25 * 1024 * 1024
DOCUMENT_TYPES = {".docx": b"PK\x03\x04", ".pdf": b"%PDF-"}


def case_folder(root: Path, case_id: str) -> Path:
    """`root/<case id>`, for a case id that is a plain name (no dots, no slashes)."""
    if not CASE_ID.fullmatch(case_id):
        raise ApplicationError("not a case id: a case's files live under its id", type="InvalidCase", non_retryable=True)
    return root / case_id


def readable_document(path: str, case_id: str) -> Path:
    """A document a message may attach: a regular file, of a known type and size, in the case's own
    reports or documents folder. Anything else is refused, non-retryably, as `DocumentMissing`."""
    candidate = Path(path)
    if not candidate.is_absolute():  # a document the command line stored: its name in the case's folder
        candidate = case_folder(settings.documents_dir(), case_id) / candidate
    allowed = [case_folder(settings.reports_dir(), case_id), case_folder(settings.documents_dir(), case_id)]
    resolved = candidate.resolve()
    if not any(resolved.is_relative_to(folder.resolve()) for folder in allowed):
        raise ApplicationError("the document is not in the case's own folders", type="DocumentMissing", non_retryable=True)
    try:
        info = resolved.stat()
    except OSError:
        raise ApplicationError("the document is not there", type="DocumentMissing", non_retryable=True) from None
    if not stat.S_ISREG(info.st_mode):
        raise ApplicationError("the document is not a regular file", type="DocumentMissing", non_retryable=True)
    if info.st_size > MAX_DOCUMENT_BYTES:
        raise ApplicationError("the document is larger than 25 MB", type="DocumentMissing", non_retryable=True)
    if resolved.suffix.lower() not in DOCUMENT_TYPES:
        raise ApplicationError("the document is not a Word document or a PDF", type="DocumentMissing", non_retryable=True)
    return resolved


def document_type(path: Path) -> str | None:
    """".docx" or ".pdf" by what the file holds (its first bytes), or None."""
    with path.open("rb") as handle:
        head = handle.read(8)
    return next((suffix for suffix, magic in DOCUMENT_TYPES.items() if head.startswith(magic)), None)


def store_document(source: Path, case_id: str) -> str:
    """Copy a document into the case's documents folder (owner-only), checked for type and size; its
    stored name, which is all a decision carries. Raises ValueError saying what is wrong."""
    if not source.is_file():
        raise ValueError(f"{source}: no such file")
    if source.stat().st_size > MAX_DOCUMENT_BYTES:
        raise ValueError(f"{source}: larger than 25 MB")
    suffix = document_type(source)
    if suffix is None or source.suffix.lower() != suffix:
        raise ValueError(f"{source}: not a Word document (.docx) or a PDF (.pdf)")
    folder = case_folder(settings.documents_dir(), case_id)
    settings.private_folder(folder)  # documents/ and the case's folder, both 0700
    data = source.read_bytes()
    name = f"{re.sub(r'[^A-Za-z0-9_-]+', '-', source.stem).strip('-')[:60] or 'document'}-{hashlib.sha256(data).hexdigest()[:8]}{suffix}"
    target = folder / name
    target.write_bytes(data)
    target.chmod(0o600)
    return name
