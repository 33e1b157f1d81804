"""The staff console's local accounts: who may sign in, their partnership and roles, and an argon2id
hash of their password, in an owner-only file under the data folder (`data/accounts.json`).

An account is a person the console signs decisions for (signing.py): the `Person` the case records as
`recorded_by` is made from the account, never from anything typed into a form. Added with
`python starter.py users add EMAIL --partnership HSSCP --role business_unit` (password on standard input;
`--single-sign-on`: no password, the partnership's OpenID Connect provider vouches for the address);
`python starter.py users disable EMAIL` refuses it at either door and ends its sessions.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import BaseModel, Field, ValidationError

import settings
from console import lockout
from models.identity import Person, PersonRole

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; a megabyte "password" is a denial of service
HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
_LOCK = threading.Lock()


class AccountRefused(ValueError):
    """An account that cannot be added as asked; the message is the one line shown."""


class Account(BaseModel):
    email: str = Field(pattern=r"^[^@\s]{1,64}@[^@\s]{1,190}$")
    name: str = Field(default="", max_length=200)
    partnership: str | None
    roles: list[PersonRole] = Field(min_length=1)
    password_hash: str | None = None  # None: single sign-on only (console/oidc.py)
    disabled: bool = False  # refused at every door; its sessions end at their next request

    def person(self) -> Person:
        return Person(email=self.email, name=self.name, partnership=self.partnership, roles=self.roles)


def accounts_file() -> Path:
    return Path(os.environ.get("SAFEGUARDING_ACCOUNTS_FILE", settings.data_dir() / "accounts.json"))


def known_partnerships() -> set[str]:
    """The partnerships of the routing file (config/routing.json): HSSCP and STSCP."""
    from activities.routing import load_routing

    return set(load_routing().partnerships)


def load_accounts() -> dict[str, Account]:
    path = accounts_file()
    if not path.exists():
        return {}
    entries = json.loads(path.read_text(encoding="utf-8"))
    return {email: Account(**entry) for email, entry in entries.items()}


def add_account(email: str, partnership: str | None, roles: list[str], password: str | None, name: str = "") -> Account:
    """Add (or replace: a new password, new roles) one account; AccountRefused says why not. A password
    of None: the account signs in through the partnership's OpenID Connect provider only."""
    try:
        checked_roles = [PersonRole(role) for role in roles]
    except ValueError:
        raise AccountRefused(
            f"unknown role in {', '.join(roles)}; roles are {', '.join(r.value for r in PersonRole)}"
        ) from None
    if partnership is None and PersonRole.OPERATIONS not in checked_roles:
        raise AccountRefused("--partnership is required (only operations acts for every partnership)")
    if partnership is not None and partnership not in known_partnerships():
        raise AccountRefused(f"unknown partnership {partnership}; partnerships are {', '.join(sorted(known_partnerships()))}")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise AccountRefused(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
    if password is not None and len(password) > MAX_PASSWORD_LENGTH:
        raise AccountRefused(f"the password must be at most {MAX_PASSWORD_LENGTH} characters")
    try:
        account = Account(
            email=email.strip().lower(), name=name, partnership=partnership, roles=checked_roles,
            password_hash=HASHER.hash(password) if password is not None else None,
        )
    except ValidationError:
        raise AccountRefused("not an email address: it must be one line, name@domain") from None
    _save(account)
    return account


def disable_account(email: str) -> Account:
    """Refuse an account at every door from now on (kept, so the audit's addresses still name someone)."""
    account = load_accounts().get(email.strip().lower())
    if account is None:
        raise AccountRefused("no account has that address")
    _save(account.model_copy(update={"disabled": True}))
    return account


def _save(account: Account) -> None:
    with _LOCK:
        accounts = load_accounts()
        accounts[account.email] = account
        data = {key: value.model_dump(mode="json") for key, value in accounts.items()}
        settings.write_private(accounts_file(), json.dumps(data, indent=2).encode())


def authenticate(email: str, password: str) -> Account | None:
    """The account if the password is its own; None otherwise (same work whether or not it exists).
    After lockout.TRIES failures for one address in lockout.WAIT_SECONDS, that address is refused until
    they pass, across restarts (console/lockout.py)."""
    address = email.strip().lower()[:255]
    if len(password) > MAX_PASSWORD_LENGTH or lockout.is_locked(address):
        return None
    account = account_of(address) if len(email) <= 255 else None
    try:  # the same argon2 work whether or not the account exists or has a password: no telling who has one
        HASHER.verify(account.password_hash if account and account.password_hash else _UNKNOWN_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        account = None
    if account is None or account.password_hash is None:
        lockout.failed(address)
        return None
    lockout.passed(address)
    return account


_UNKNOWN_HASH = HASHER.hash("not anyone's password")


def account_of(email: str) -> Account | None:
    """The account of this address, if it has one that is not disabled."""
    account = load_accounts().get(email)
    return account if account is not None and not account.disabled else None
