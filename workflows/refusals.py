"""What a case records of what it refuses: bounded and safe, whatever a sender put in."""

from __future__ import annotations

import re
from typing import Any

CASE_ID = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"  # safe as a folder name: no dots, no slashes
REFUSED_SIGNALS_KEPT = 50  # refused signals kept one by one on a case; the rest are counted
REASON_LENGTH = 500


def known_name(name: object) -> str:
    """A decision's name as the case records it: a name like a decision's (a few lower-case words joined
    by underscores), or a placeholder; never anything longer or stranger a sender put there."""
    return name if isinstance(name, str) and re.fullmatch(r"[a-z][a-z_]{0,39}", name) else "(not a decision)"


def stated_recorder(body: dict[str, Any]) -> str | None:
    """Who a refused decision says recorded it, if that is an address (never anything else it holds)."""
    stated = body.get("recorded_by")
    return stated if isinstance(stated, str) and re.fullmatch(r"[^@\s]{1,64}@[A-Za-z0-9.-]{1,190}", stated) else None


def bounded(text: str) -> str:
    """A reason as the case records it: one line, no control characters, at most 500 characters."""
    text = "".join(c if c.isprintable() else " " for c in text)
    return text if len(text) <= REASON_LENGTH else text[: REASON_LENGTH - 1] + "…"
