"""Runners of the simple nodes: play, goto, set, language, hangup."""

from __future__ import annotations

from ivr.callflow.nodes import GotoNode, HangupNode, LanguageNode, PlayNode, SetNode
from ivr.callflow.safety import Scalar
from ivr.engine.context import CallContext, End, Step, asterisk_language


async def run_play(node: PlayNode, ctx: CallContext) -> Step:
    digit = await ctx.play(node.prompt, interruptible=node.interruptible)
    if digit:
        ctx.typeahead = digit
        ctx.event("dtmf", digits=digit, during="play")
    return node.next


async def run_goto(node: GotoNode, ctx: CallContext) -> Step:
    return node.next


def _channel_value(value: Scalar) -> str:
    if isinstance(value, bool):  # dialplan tests like $[${X} = 1]
        return "1" if value else "0"
    return str(value)


async def run_set(node: SetNode, ctx: CallContext) -> Step:
    for name, value in node.call.items():
        ctx.vars[name] = value
        ctx.recorder.set(name, value)
    for name, value in node.channel.items():
        await ctx.channel.set_variable(name, _channel_value(value))
    ctx.event("set", call=dict(node.call), channel={k: _channel_value(v) for k, v in node.channel.items()})
    return node.next


async def run_language(node: LanguageNode, ctx: CallContext) -> Step:
    previous, ctx.language = ctx.language, node.language
    await ctx.channel.set_variable("CHANNEL(language)", asterisk_language(node.language))
    ctx.recorder.set("language", node.language)
    ctx.event("language", language=node.language, previous=previous)
    return node.next


async def run_hangup(node: HangupNode, ctx: CallContext) -> Step:
    if node.prompt is not None:
        await ctx.play(node.prompt)
    return End(ctx.result or "hangup", hang_up=True)
