"""Which number a queued callback will dial: the caller confirms the number read back, or keys in another.

As Amazon Connect's queued callback does: "we will call you back at 138 1234 5678; press 1 to confirm,
2 to enter another number". The caller ID and every keyed number go through the numbering plan
(queues.yaml `callback_numbers`); a refused number is said to the caller and its reason written on the
call record. No key, a key that means nothing, and a refused keyed number each cost one of
`callback.tries`; then the caller hears that nothing was booked and keeps waiting. Numbers on the record
are masked as supervisors see them (ivr.privacy.masking.mask_number): the raw one goes to the callback store only.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.engine.context import CallContext
from ivr.privacy.masking import mask_number
from ivr.queueing.model import CallbackOffer
from ivr.queueing.numbers import MAX_DIGITS, NumberingPlan, spoken_number
from ivr.queueing.texts import CallbackTexts, TextKey


@dataclass(frozen=True)
class NumberDialogue:
    ctx: CallContext
    offer: CallbackOffer
    plan: NumberingPlan
    texts: CallbackTexts
    country_code: str
    language: str
    via: str  # "key" or "overflow", for the record

    async def run(self) -> str | None:
        """The normalized number the caller confirmed, or None (they heard `keep_waiting`)."""
        candidate = await self._from_caller_id()
        failures = 0
        for _ in range(3 * self.offer.tries):  # bounds a caller who keeps pressing "another number"
            if failures >= self.offer.tries:
                break
            if candidate is None:
                candidate = await self._keyed()
                if candidate is None:
                    failures += 1
                    continue
            key = await self._ask(self.texts.say("confirm", self.language, number=spoken_number(candidate),
                                                 confirm_key=self.offer.confirm_key,
                                                 other_key=self.offer.other_key), 1)
            self.ctx.event("callback_confirm", key=key or None, via=self.via, callback_number=mask_number(candidate))
            if key == self.offer.confirm_key:
                return candidate
            if key == self.offer.other_key:
                candidate = None
                continue
            failures += 1
            await self._say("invalid")
        self.ctx.event("callback_refused", reason="not_confirmed", via=self.via)
        self.ctx.recorder.set("callback_refused", {"reason": "not_confirmed", "via": self.via})
        await self._say("keep_waiting")
        return None

    async def _from_caller_id(self) -> str | None:
        verdict = self.plan.check(self.ctx.channel.env.get("callerid", ""), self.country_code)
        if verdict.ok and verdict.number is not None:
            return verdict.number
        self._refused(verdict.reason or "no_number", "caller_id", verdict.number)
        if verdict.number is None:
            await self._say("no_number")
        else:
            await self._say("refused", number=spoken_number(verdict.number))
        return None

    async def _keyed(self) -> str | None:
        digits = await self._ask(self.texts.say("enter", self.language), MAX_DIGITS)
        if not digits:
            self.ctx.event("callback_number_entry", entered=False, via=self.via)
            await self._say("invalid")
            return None
        verdict = self.plan.check(digits, self.country_code)
        if verdict.ok and verdict.number is not None:
            self.ctx.event("callback_number_entry", entered=True, via=self.via,
                           callback_number=mask_number(verdict.number))
            return verdict.number
        self._refused(verdict.reason or "no_number", "keyed", verdict.number or digits)
        await self._say("refused", number=spoken_number(verdict.number or digits))
        return None

    def _refused(self, reason: str, source: str, number: str | None) -> None:
        info = {"reason": reason, "source": source, "via": self.via, "callback_number": mask_number(number)}
        self.ctx.event("callback_number_refused", **info)
        self.ctx.recorder.set("callback_number_refused", info)

    async def _ask(self, text: str, max_digits: int) -> str:
        path = await self.ctx.services.synthesize(text, self.language)
        return await self.ctx.channel.get_data(str(path), int(self.offer.input_timeout_s * 1000), max_digits) or ""

    async def _say(self, key: TextKey, **values: str) -> None:
        path = await self.ctx.services.synthesize(self.texts.say(key, self.language, **values), self.language)
        await self.ctx.channel.stream_file(str(path))
