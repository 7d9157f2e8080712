"""Live QA benchmark: alert latency and CPU per live stream, and how many calls the cores hold.

    .venv/bin/python -m bench.liveqa_bench [--levels 1,2,3,4,6] [--loops 2] [--cpus 0,1]

Each level streams N calls at once, both legs in real time, into the real AudioSocket server, live
sessions (Vosk, the matcher, the thread pool as `ivr liveqa` builds it) and alert path (Redis, the
dashboard's Hub that pushes to browsers). The Asterisk side is harness.audiosocket_peer (the e2e
test, tests/e2e/test_liveqa.py, covers the real Asterisk + SIPp + Chromium path once). The agent
leg says a greeting, then a rude phrase, `--loops` times; the caller leg speaks while the agent is
silent. The phrase lists are what the packaged model hears in that audio (harness.liveqa_audio).

Latency = when the Hub handed the alert to a subscriber minus when the phrase ended in the audio
(the peer's first frame + the phrase's end in the offline decode). CPU = this process's CPU time
per second of streamed leg. A level is held when every expected alert came, none over 2 s, and no
call was stopped for lag. Writes its block of the "## Live QA" section of bench/RESULTS.md.

    .venv/bin/python -m bench.liveqa_bench --with-transcription [--levels 1,2,3] [--workers 2]

runs the same levels while real `ivr transcribe worker` processes transcribe finished calls at
the rate the level's live calls produce them (bench/liveqa_feed.py), and says per level whether
live QA held and transcription kept up (bench/liveqa_combined.py); it writes its own block at the
end of that section and leaves the live-alone table as it is.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import redis

from bench.liveqa_combined import Combined, block, write_combined
from bench.liveqa_feed import Feed, Source, level_beside, make_sources, workers
from bench.liveqa_levels import Level, LevelResult, write_results
from harness.liveqa_audio import concat, decode_like_live, phone_wav, phrase_file, pick, slin
from harness.local_redis import LocalRedis
from ivr.liveqa.switches import leg_rules
from ivr.settings import Settings, load_settings
from ivr.transcribe.models import load_model, model_path

GREETING = "您好，这里是星海科技客服热线，请问有什么可以帮您？"
RUDE = "你有完没完，我怎么知道，谁告诉你的"
CALLER = "我的订单三天了还没有到，请帮我查一下"


def _audio(work: Path, model: object, loops: int) -> tuple[bytes, bytes, Path, list[float]]:
    """(agent pcm, caller pcm, policy dir, where each forbidden phrase ends in the agent pcm)."""
    greet = phone_wav(GREETING, work / "greet.wav", lead_s=1.5, tail_s=0.8)
    rude = phone_wav(RUDE, work / "rude-part.wav", lead_s=0.0, tail_s=3.0)
    turn = concat([greet, rude], work / "turn.wav")
    heard_greet, heard_turn = decode_like_live(model, slin(greet)), decode_like_live(model, slin(turn))
    greet_end = len(slin(greet)) / 16000
    forbidden = pick(heard_turn, after=greet_end, avoid={w.word for w in heard_greet}, n=1, min_conf=0.9)
    policy = work / "policy"
    policy.mkdir()
    phrase_file(policy / "greeting-phrases-zh.txt", "heard in the greeting", pick(heard_greet, n=3, min_conf=0.9))
    phrase_file(policy / "forbidden-phrases-zh.txt", "heard in the rude part", forbidden)
    turn_pcm = slin(turn)
    caller_speech = slin(phone_wav(CALLER, work / "caller.wav", lead_s=0.0, tail_s=0.0))
    # The caller speaks in the agent's pause before the rude part (a two-party call: rarely both at once).
    caller_turn = (bytes(len(slin(greet))) + caller_speech)[: len(turn_pcm)].ljust(len(turn_pcm), b"\0")
    turn_s = len(turn_pcm) / 16000
    ends = [n * turn_s + forbidden[0].end for n in range(loops)]
    return turn_pcm * loops, caller_turn * loops, policy, ends


async def _run(args: argparse.Namespace) -> list[Combined] | list[LevelResult]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        redis_server = LocalRedis(work / "redis")
        redis_server.start()
        try:
            base = load_settings(redis_url=redis_server.url)
            started = time.perf_counter()
            model = load_model(model_path(base, "zh"))
            load_s = time.perf_counter() - started
            agent, caller, policy, ends = _audio(work, model, args.loops)
            settings = base.model_copy(update={"qa_policy_dir": policy})
            make = _LevelMaker(settings, model, agent, caller, ends, load_s)
            if args.with_transcription:
                return await _beside(args, work, settings, make)
            return [await make.alone(n) for n in args.levels]
        finally:
            redis_server.stop()


class _LevelMaker:
    """Builds each level as `ivr liveqa` does: one thread per stream, recognizers kept across calls."""

    def __init__(self, settings: Settings, model: object, agent: bytes, caller: bytes, ends: list[float],
                 load_s: float) -> None:
        self.settings, self.model, self.agent, self.caller, self.ends = settings, model, agent, caller, ends
        self.rules, self.load_s = leg_rules(settings, "zh"), load_s

    def level(self, pool: ThreadPoolExecutor) -> Level:
        return Level(self.settings, self.model, self.rules, pool, self.agent, self.caller, self.ends)

    async def alone(self, n: int) -> LevelResult:
        with ThreadPoolExecutor(max_workers=2 * n, thread_name_prefix="vosk") as pool:
            result = await self.level(pool).run(n)
        result.model_load_s = self.load_s
        print(result.line(), flush=True)
        return result

    async def beside(self, n: int, feed: Feed, pids: list[int]) -> Combined:
        with ThreadPoolExecutor(max_workers=2 * n, thread_name_prefix="vosk") as pool:
            result = await level_beside(self.level(pool), n, feed, pids)
        result.live.model_load_s = self.load_s
        print(result.line(), flush=True)
        return result


async def _beside(args: argparse.Namespace, work: Path, settings: Settings, make: _LevelMaker) -> list[Combined]:
    sources: list[Source] = make_sources(work / "sources")
    root = work / "recordings"
    with workers(args.workers, settings.redis_url, root, work) as pids:
        conn = redis.Redis.from_url(settings.redis_url, socket_timeout=10)
        feed = Feed(conn, settings, root, sources)
        args.call_s = [s.seconds for s in sources]
        return [await make.beside(n, feed, pids) for n in args.levels]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,2,3,4,6", help="concurrent calls per level (two streams each)")
    parser.add_argument("--loops", type=int, default=2, help="greeting + rude turns per call (~17 s each)")
    parser.add_argument("--cpus", default="0,1", help="CPUs this benchmark may use (like a 2-core host)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    parser.add_argument("--with-transcription", action="store_true",
                        help="post-call transcription workers run beside live QA, fed the finished calls")
    parser.add_argument("--workers", type=int, default=2, help="transcription workers (with --with-transcription)")
    args = parser.parse_args()
    args.levels = [int(x) for x in args.levels.split(",")]
    cpus = {int(c) for c in args.cpus.split(",")}
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cpus)
    results = asyncio.run(_run(args))
    if args.no_write:
        return
    if args.with_transcription:
        combined = [r for r in results if isinstance(r, Combined)]
        write_combined(block(combined, cpus=len(cpus), workers=args.workers, loops=args.loops,
                             call_s=args.call_s, speech_only=load_settings().transcribe_speech_only))
    else:
        write_results([r for r in results if isinstance(r, LevelResult)], cpus=len(cpus), loops=args.loops)


if __name__ == "__main__":
    main()
