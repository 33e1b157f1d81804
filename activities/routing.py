"""The routing file (config/routing.json): who serves which authority and every address the journey needs.

Read by activities only, each time it is needed, so an edit by the Business Unit takes effect
without a restart and without touching a running case's history.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, EmailStr, Field
from temporalio import activity

import settings
from models.case import Clock, Routing
from models.forms import LocalAuthority


class ReminderPolicy(BaseModel):
    """When reminders go: working days before a clock's last day (0 is the day itself), at a time of
    day; `per_clock` overrides the days for one clock, e.g. {"panel_notification": [2, 1, 0]}."""

    working_days_before: list[int] = Field(default_factory=lambda: [1, 0])
    at: time = time(9, 0)
    per_clock: dict[Clock, list[int]] = Field(default_factory=dict)
    # A long clock (over `long_clock_over_working_days`) is also reminded this far ahead: on a 6-month
    # clock a day's notice is no reminder at all.
    long_clock_working_days_before: list[int] = Field(default_factory=lambda: [20, 10, 5])
    long_clock_over_working_days: int = 20

    def days_before(self, clock: Clock, length: int | None = None) -> list[int]:
        """The working days before the last day that reminders go; `length`, the clock's working days."""
        if clock in self.per_clock:
            return self.per_clock[clock]
        if length is None or length <= self.long_clock_over_working_days:
            return self.working_days_before
        longer = [n for n in self.long_clock_working_days_before if n < length]
        return sorted({*self.working_days_before, *longer}, reverse=True)


class PartnershipConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    mailbox: EmailStr
    escalation: list[EmailStr] = Field(min_length=1)
    independent_scrutineer: EmailStr
    rapid_review_panel: list[EmailStr] = Field(min_length=1)
    executive: list[EmailStr] = Field(min_length=1)
    safeguarding_leads: list[EmailStr] = Field(min_length=1)
    dsps: list[EmailStr] = Field(default_factory=list)  # the Delegated Safeguarding Partners (¶2.6)
    partnership_chair: list[EmailStr] = Field(default_factory=list)  # invited to governance (¶4.6)
    dsp_meeting_working_days: int = Field(default=2, ge=1)
    challenge_window_working_days: int = Field(default=10, ge=1)
    dispute_resolution_working_days: int = Field(default=20, ge=1)
    reminders: ReminderPolicy = Field(default_factory=ReminderPolicy)


class AuthorityConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    partnership: str
    serious_incident_notifier: EmailStr
    escalation: list[EmailStr] = Field(default_factory=list)  # whom a missed ¶2.4 notification reaches at the LA


class RoutingConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    national_panel: EmailStr
    secretary_of_state: EmailStr
    ofsted: EmailStr
    agencies: dict[str, EmailStr] = Field(default_factory=dict)  # an agency's safeguarding contact
    local_authorities: dict[LocalAuthority, AuthorityConfig]
    partnerships: dict[str, PartnershipConfig]

    def authority(self, local_authority: LocalAuthority) -> AuthorityConfig:
        try:
            return self.local_authorities[local_authority]
        except KeyError:
            raise LookupError(f"routing file has no entry for {local_authority.value}") from None

    def partnership(self, partnership_id: str) -> PartnershipConfig:
        try:
            return self.partnerships[partnership_id]
        except KeyError:
            raise LookupError(f"routing file has no partnership {partnership_id}") from None

    def partnership_of(self, local_authority: LocalAuthority) -> tuple[str, PartnershipConfig]:
        partnership_id = self.authority(local_authority).partnership
        return partnership_id, self.partnership(partnership_id)


def load_routing() -> RoutingConfig:
    """The routing file as it is now: read and checked again whenever it has changed (another size,
    modification time or file), else the copy read last (every message and look-up reads it)."""
    path = settings.routing_file()
    info = path.stat()
    return read_routing(path, info.st_mtime_ns, info.st_size, info.st_ino)


@functools.lru_cache(maxsize=4)
def read_routing(path: Path, mtime_ns: int, size: int, inode: int) -> RoutingConfig:
    return RoutingConfig.model_validate_json(path.read_text(encoding="utf-8"))


def partnership_serving(local_authority: LocalAuthority) -> Routing:
    partnership_id, partnership = load_routing().partnership_of(local_authority)
    return Routing(partnership=partnership_id, partnership_name=partnership.name)


@activity.defn
async def look_up_partnership(local_authority: LocalAuthority) -> Routing:
    """Which partnership serves this local authority (¶2.5). The file is read in a thread; a mistake in
    it is retried until the Business Unit mends it (workflows/retries.py)."""
    return await asyncio.to_thread(partnership_serving, local_authority)
