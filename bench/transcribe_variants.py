"""Which cheaper ways of decoding a leg keep the full decode's words (the issue 13 experiments).

    .venv/bin/python -m bench.transcribe_variants [--calls 2] [--decoder-options]

In one process, on one kept recognizer warmed by two other calls: the full decode of the bench's
espeak-ng legs (Vosk's example loop: the whole leg in 0.5 s reads) is the reference, then each
variant decodes the same legs and its words are compared with it (WER over word sequences, word
times): speech only with several paddings, VAD aggressiveness and pause merging, fed as one
continuous stream (Vosk's own endpointing decides where utterances end) or with each span ending
an utterance (the product's IVR_TRANSCRIBE_SPEECH_ONLY); the full leg in larger reads; and, with
`--decoder-options`, a narrower search (beam, max-active, lattice beam in the model's
conf/model.conf, on a copy of the model made of links). CPU is this process's getrusage, per
variant; the kept recognizer's cache grows as the variants run, so the CPU column favours later
rows: the bench (bench/transcribe_bench.py) is what measures the ratio.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import vosk

from bench.transcribe_compare import TimedWord, agreement
from bench.transcribe_run import make_calls
from ivr.settings import load_settings
from ivr.transcribe.audio import read_wav
from ivr.transcribe.models import model_path
from ivr.transcribe.vad import Span, TimeMap, VadOptions, speech_spans, whole

RATE = 8000
Legs = dict[str, bytes]
Words = dict[str, list[TimedWord]]


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


@dataclass
class Stream:
    """A recognizer fed leg after leg; `fed` keeps Vosk's running clock apart per leg."""

    model: Any
    fed: int = 0
    rec: Any = field(init=False)

    def __post_init__(self) -> None:
        self.rec = vosk.KaldiRecognizer(self.model, RATE)
        self.rec.SetWords(True)

    def decode(self, pcm: bytes, pieces: list[Span], read: int = 4000, end_each: bool = False) -> list[TimedWord]:
        ctypes.CDLL(None).srand(0)  # the product's dither seed
        tmap, origin, out = TimeMap(pieces, RATE), self.fed / RATE, []

        def take(result: str) -> None:
            for w in json.loads(result).get("result", []):
                start, end = tmap.interval(float(w["start"]) - origin, float(w["end"]) - origin)
                out.append((str(w["word"]), round(start, 3), round(end, 3)))

        for n, span in enumerate(pieces):
            audio = pcm[2 * span.start : 2 * span.end]
            for i in range(0, len(audio), 2 * read):
                if self.rec.AcceptWaveform(audio[i : i + 2 * read]):
                    take(self.rec.Result())
            if end_each and n < len(pieces) - 1:
                take(self.rec.Result())
            self.fed += span.length
        take(self.rec.FinalResult())
        return out


@dataclass(frozen=True)
class Variant:
    name: str
    pieces: Callable[[bytes], list[Span]]
    read: int = 4000
    end_each: bool = False


def cut(options: VadOptions) -> Callable[[bytes], list[Span]]:
    def pieces(pcm: bytes) -> list[Span]:
        return speech_spans(pcm, RATE, options) or []

    return pieces


def variants() -> list[Variant]:
    out = [Variant("full leg again (same feed)", whole)]
    for before, after, gap, aggr in ((0.3, 0.6, 0.6, 2), (0.5, 0.5, 0.6, 2), (0.5, 1.0, 1.0, 2),
                                     (1.0, 1.0, 1.0, 2), (0.5, 0.5, 1.0, 1), (0.5, 0.5, 0.6, 3)):
        opts = VadOptions(aggressiveness=aggr, pad_before=before, pad_after=after, merge_gap=gap)
        out.append(Variant(f"speech only, one stream, pad {before}/{after} s, merge {gap} s, VAD {aggr}", cut(opts)))
    out.append(Variant("speech only, each span ends an utterance (IVR_TRANSCRIBE_SPEECH_ONLY)",
                       cut(VadOptions()), end_each=True))
    out += [Variant("full leg in 1 s reads", whole, read=8000), Variant("full leg in 2 s reads", whole, read=16000)]
    return out


def overlay(base: Path, into: Path, options: dict[str, str]) -> Path:
    """A model directory of links to `base` whose conf/model.conf sets `options`."""
    d = into / "_".join(f"{k}{v}" for k, v in options.items())
    (d / "conf").mkdir(parents=True)
    for name in os.listdir(base):
        if name != "conf":
            os.symlink(base / name, d / name)
    os.symlink(base / "conf" / "mfcc.conf", d / "conf" / "mfcc.conf")
    kept = [ln for ln in (base / "conf" / "model.conf").read_text().splitlines()
            if ln.split("=", 1)[0].lstrip("-") not in options]
    (d / "conf" / "model.conf").write_text("\n".join(kept + [f"--{k}={v}" for k, v in options.items()]) + "\n")
    return d


def warm_stream(model: Any, warm: Legs) -> Stream:
    s = Stream(model)
    for pcm in warm.values():
        s.decode(pcm, whole(pcm))
    return s


def run(stream: Stream, legs: Legs, v: Variant) -> tuple[float, Words, float]:
    t0 = cpu()
    words = {k: stream.decode(pcm, v.pieces(pcm), v.read, v.end_each) for k, pcm in legs.items()}
    fed = sum(s.length for pcm in legs.values() for s in v.pieces(pcm)) / sum(len(p) // 2 for p in legs.values())
    return cpu() - t0, words, fed


def row(name: str, fed: float, cost: float, ref: Words, words: Words) -> str:
    a = agreement(ref, words, 0.05)
    return (f"| {name} | {fed:.0%} | {cost:.1f} | {a.wer:.1%} ({a.errors}/{a.ref_words}) | "
            f"{a.within}/{a.matched} | {a.max_shift * 1000:.0f} |")


def legs_of(root: Path, n: int, prefix: str, second_set: bool) -> Legs:
    calls = make_calls(root, n, prefix=prefix, second_set=second_set)
    legs = {}
    for c in calls:
        for side, path in (("caller", c.caller), ("agent", c.agent)):
            read = read_wav(path, RATE)
            if read is None:
                raise SystemExit(f"{path}: not a {RATE} Hz 16-bit PCM WAV")
            legs[f"{c.call_id}/{side}"] = read[0]
    return legs


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--calls", type=int, default=2)
    ap.add_argument("--decoder-options", action="store_true", help="also try a narrower search")
    args = ap.parse_args()
    vosk.SetLogLevel(-1)
    base = model_path(load_settings(), "zh-CN")
    with tempfile.TemporaryDirectory(prefix="transcribe-variants-") as tmp:
        warm, legs = legs_of(Path(tmp) / "w", 2, "warm", True), legs_of(Path(tmp) / "r", args.calls, "v", False)
        stream = warm_stream(vosk.Model(str(base)), warm)
        cost, ref, _ = run(stream, legs, Variant("full", whole))
        seconds = sum(len(p) // 2 for p in legs.values()) / RATE
        print(f"{len(legs)} legs, {seconds:.1f} s; reference (full decode) {cost:.1f} CPU s, "
              f"{sum(map(len, ref.values()))} words\n")
        print("| variant | audio fed | CPU s | WER vs full decode | words within 50 ms | largest shift ms |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for v in variants():
            c, words, fed = run(stream, legs, v)
            print(row(v.name, fed, c, ref, words), flush=True)
        if args.decoder_options:
            for opts in ({"beam": "8.0"}, {"max-active": "1500"}, {"lattice-beam": "1.0"}):
                model = vosk.Model(str(overlay(base, Path(tmp), opts)))
                c, words, fed = run(warm_stream(model, warm), legs, Variant("full", whole))
                label = ", ".join(f"{k} {v}" for k, v in opts.items())
                print(row(f"full leg, {label} (the model's: beam 10, max-active 3000, lattice-beam 2)",
                          fed, c, ref, words), flush=True)


if __name__ == "__main__":
    main()
