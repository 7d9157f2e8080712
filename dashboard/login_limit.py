"""Brute-force limit of the login form, per user name and per client IP.

The attempt is counted BEFORE the password is checked, in one Lua script (INCR + EXPIRE of both
counters), so parallel attempts cannot all read "below the limit" and then all be verified: at
most `max_failures` checks run per name and window, however many requests arrive at once. A
successful login clears the name's counter and takes its own attempt back off the IP's.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from ivr import keys
from ivr.settings import Settings

COUNT_SCRIPT = """
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('INCR', key)
  redis.call('EXPIRE', key, tonumber(ARGV[1]))
end
return out
"""
UNDO_SCRIPT = """
redis.call('DEL', KEYS[1])
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
return 1
"""


@dataclass(frozen=True)
class Attempt:
    name: str
    ip: str
    by_name: int  # this attempt's number for the name in the current window
    by_ip: int
    limit_name: int
    limit_ip: int
    window_s: int

    @property
    def refused(self) -> str:
        """Why the attempt may not even be checked ("" = it may)."""
        if self.by_name > self.limit_name:
            return "too many failures for this user name"
        if self.by_ip > self.limit_ip:
            return "too many failures from this address"
        return ""

    @property
    def first_refusal(self) -> bool:
        """The attempt that hit a limit: audited; later refused ones are only counted."""
        return self.by_name == self.limit_name + 1 or self.by_ip == self.limit_ip + 1


class LoginLimiter:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self._r = redis
        self.limit_name = settings.dashboard_login_max_failures
        self.limit_ip = settings.dashboard_login_max_failures_ip
        self.window_s = settings.dashboard_login_window

    async def count(self, name: str, ip: str) -> Attempt:
        by_name, by_ip = await self._r.eval(COUNT_SCRIPT, 2, keys.dashboard_login_failures(name),
                                            keys.dashboard_login_failures_ip(ip), str(self.window_s))
        return Attempt(name=name, ip=ip, by_name=int(by_name), by_ip=int(by_ip), limit_name=self.limit_name,
                       limit_ip=self.limit_ip, window_s=self.window_s)

    async def succeeded(self, attempt: Attempt) -> None:
        await self._r.eval(UNDO_SCRIPT, 2, keys.dashboard_login_failures(attempt.name),
                           keys.dashboard_login_failures_ip(attempt.ip))
