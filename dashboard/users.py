"""Dashboard users in Redis: argon2 password hashes, roles supervisor and admin.

Users are created with `ivr users add`; the only user the dashboard ever creates itself is the
development `admin`/`admin` account, flagged `default_password` so production start-up refuses it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.asyncio import Redis

from ivr import keys

Role = Literal["supervisor", "admin"]
ROLES: tuple[Role, ...] = ("supervisor", "admin")
NAME_RE = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
MIN_PASSWORD = 8
# Passwords anyone would try first; refused for real accounts.
WEAK_PASSWORDS = frozenset({"admin", "password", "change-me", "changeme", "12345678", "hotline", "supervisor"})
DEV_ADMIN = ("admin", "admin")

_hasher = PasswordHasher()


class UserError(ValueError):
    """Bad user name, role or password; the message names what is wrong."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    endpoint: str = ""  # the supervisor's phone for live monitoring; "" = Settings.supervisor_endpoint
    created: float = 0.0
    default_password: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise UserError(f"user name {name!r}: use 2-32 of a-z 0-9 . _ - starting with a letter")
    return name


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise UserError(f"role {role!r}: must be one of {', '.join(ROLES)}")
    return role


def check_password(name: str, password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password for {name!r}: at least {MIN_PASSWORD} characters")
    if password.lower() in WEAK_PASSWORDS or password.lower() == name.lower():
        raise UserError(f"password for {name!r}: too easy to guess (a default or the user name)")
    return password


def _verify(data: dict[str, Any] | None, password: str) -> str:
    """"" when the password matches the stored hash, else why not. CPU-bound (argon2): run in a thread."""
    if data is None:
        _hasher.hash(password)  # same cost as a real check, so timing does not reveal names
        return "unknown user"
    try:
        _hasher.verify(data["hash"], password)
    except (VerificationError, InvalidHashError):
        return "wrong password"
    return ""


class UserStore:
    def __init__(self, redis: Redis, hash_threads: int = 2) -> None:
        self._r = redis
        # argon2 takes tens of ms of CPU: in threads, a few at a time, so the event loop stays free
        # and a burst of wrong logins cannot take every core.
        self._hash_slots = asyncio.Semaphore(hash_threads)

    @property
    def redis(self) -> Redis:
        return self._r

    async def _raw(self, name: str) -> dict[str, Any] | None:
        raw = await self._r.hget(keys.DASHBOARD_USERS, name)
        return None if raw is None else cast(dict[str, Any], json.loads(raw))

    @staticmethod
    def _user(data: dict[str, Any]) -> User:
        return User(
            name=data["name"], role=data["role"], endpoint=data.get("endpoint", ""),
            created=float(data.get("created", 0.0)), default_password=bool(data.get("default_password")),
        )

    async def add(self, name: str, role: str, password: str, endpoint: str = "", *, _default: bool = False) -> User:
        check_name(name)
        user = User(name=name, role=check_role(role), endpoint=endpoint, created=time.time(),
                    default_password=_default)
        if not _default:
            check_password(name, password)
        data = {**asdict(user), "hash": _hasher.hash(password)}
        if not await self._r.hsetnx(keys.DASHBOARD_USERS, name, json.dumps(data)):
            raise UserError(f"user {name!r} already exists (use `ivr users passwd`)")
        return user

    async def get(self, name: str) -> User | None:
        data = await self._raw(name)
        return None if data is None else self._user(data)

    async def list(self) -> list[User]:
        raw = await self._r.hgetall(keys.DASHBOARD_USERS)
        return sorted((self._user(json.loads(v)) for v in raw.values()), key=lambda u: u.name)

    async def set_password(self, name: str, password: str) -> None:
        data = await self._raw(name)
        if data is None:
            raise UserError(f"no user {name!r} (create it with `ivr users add`)")
        data["hash"] = _hasher.hash(check_password(name, password))
        data["default_password"] = False
        await self._r.hset(keys.DASHBOARD_USERS, name, json.dumps(data))

    async def remove(self, name: str) -> bool:
        return bool(await self._r.hdel(keys.DASHBOARD_USERS, name))

    async def authenticate(self, name: str, password: str) -> User | None:
        """The user when the password matches; None otherwise (unknown name or wrong password)."""
        user, _ = await self.check_login(name, password)
        return user

    async def check_login(self, name: str, password: str) -> tuple[User | None, str]:
        """(user, "") when the password matches, else (None, "unknown user" | "wrong password").
        The hash is checked in a worker thread, at most `hash_threads` at once."""
        data = await self._raw(name)
        async with self._hash_slots:
            why = await asyncio.to_thread(_verify, data, password)
        return (None, why) if why or data is None else (self._user(data), "")

    async def ensure_dev_admin(self) -> bool:
        """Development only: create admin/admin when there are no users at all. True if created."""
        if await self._r.hlen(keys.DASHBOARD_USERS):
            return False
        try:
            await self.add(DEV_ADMIN[0], "admin", DEV_ADMIN[1], _default=True)
        except UserError:
            return False
        return True


class StartupRefused(RuntimeError):
    """Production start-up found no users or a default password."""


async def check_production_users(store: UserStore) -> None:
    users = await store.list()
    if not users:
        raise StartupRefused("dashboard: no users; create an admin first: ivr users add NAME --role admin")
    flagged = [u.name for u in users if u.default_password]
    if flagged:
        raise StartupRefused(
            f"dashboard: user(s) {', '.join(flagged)} still have the default password; "
            "set one with `ivr users passwd NAME` (IVR_DASHBOARD_PRODUCTION=true refuses defaults)"
        )
