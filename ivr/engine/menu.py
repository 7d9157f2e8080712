"""The menu node: ask, collect one DTMF key, branch; retries on invalid key or silence."""

from __future__ import annotations

from ivr.callflow.nodes import MenuFailure, MenuNode
from ivr.engine.context import CallContext, Step


async def _collect(node: MenuNode, ctx: CallContext) -> str:
    if ctx.typeahead:  # pressed during the play before: the caller already chose
        digit, ctx.typeahead = ctx.typeahead, None
        return digit
    path = await ctx.prompt_path(node.prompt)
    digits = await ctx.channel.get_data(path, int(node.timeout * 1000), 1)
    return digits or ""


async def run_menu(node: MenuNode, ctx: CallContext) -> Step:
    heard_anything = False
    for attempt in range(1, node.retries + 2):
        digits = await _collect(node, ctx)
        failure: MenuFailure
        if digits:
            heard_anything = True
            valid = digits in node.choices
            ctx.event("dtmf", digits=digits, attempt=attempt, valid=valid)
            if valid:
                return node.choices[digits]
            failure = node.invalid
        else:
            ctx.event("no_input", attempt=attempt)
            failure = node.no_input
        if failure.goto is not None:
            return failure.goto
        last = attempt == node.retries + 1
        if failure.prompt is not None and not last:
            await ctx.play(failure.prompt)
    if not heard_anything and node.silent is not None:
        ctx.event("menu_exhausted", silent=True)
        return node.silent
    ctx.event("menu_exhausted", silent=not heard_anything)
    return node.exhausted
