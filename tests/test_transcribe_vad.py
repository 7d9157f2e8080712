"""Speech spans of a leg and the mapping of the recognizer's clock back to the call's (pure logic),
and the direct WAV path that feeds Asterisk's 8 kHz legs to the recognizer without conversion."""

from __future__ import annotations

import math
import wave
from array import array
from pathlib import Path

import pytest
from pydub import AudioSegment

from ivr.transcribe.audio import AudioError, load_legs, read_wav, split_stereo
from ivr.transcribe.vad import Span, TimeMap, VadOptions, spans_from_frames, speech_spans, whole

pytestmark = pytest.mark.timeout(30)

F = 240  # samples in a 30 ms frame at 8 kHz
NO_PAD = VadOptions(pad_before=0, pad_after=0, merge_gap=0)


def flags(pattern: str) -> list[bool]:
    return [c == "#" for c in pattern]


def test_speech_frames_become_spans_on_the_frame_grid() -> None:
    assert spans_from_frames(flags("..##...#."), F, 9 * F, NO_PAD) == [Span(2 * F, 4 * F), Span(7 * F, 8 * F)]
    assert spans_from_frames(flags("....."), F, 5 * F, NO_PAD) == []


def test_padding_is_added_and_clipped_to_the_leg() -> None:
    pad = VadOptions(pad_before=0.06, pad_after=0.09, merge_gap=0)  # 2 frames before, 3 after
    assert spans_from_frames(flags("#........."), F, 10 * F, pad) == [Span(0, 4 * F)]
    assert spans_from_frames(flags(".....#...."), F, 10 * F, pad) == [Span(3 * F, 9 * F)]
    assert spans_from_frames(flags(".........#"), F, 10 * F, pad) == [Span(7 * F, 10 * F)]


def test_spans_closer_than_the_merge_gap_are_one() -> None:
    gap2 = VadOptions(pad_before=0, pad_after=0, merge_gap=0.06)
    assert spans_from_frames(flags("#..#"), F, 4 * F, gap2) == [Span(0, 4 * F)]
    assert spans_from_frames(flags("#...#"), F, 5 * F, gap2) == [Span(0, F), Span(4 * F, 5 * F)]
    # Padding counts: 1 frame after + 1 before closes a 3-frame gap down to the merge gap of 1.
    padded = VadOptions(pad_before=0.03, pad_after=0.03, merge_gap=0.03)
    assert spans_from_frames(flags("#...#"), F, 5 * F, padded) == [Span(0, 5 * F)]


def test_speech_into_the_partial_last_frame_keeps_the_tail() -> None:
    assert spans_from_frames(flags("..#"), F, 3 * F + 100, NO_PAD) == [Span(2 * F, 3 * F + 100)]
    assert spans_from_frames(flags("#.."), F, 3 * F + 100, NO_PAD) == [Span(0, F)]


def test_silence_has_no_spans_and_unsupported_rates_are_decoded_whole() -> None:
    assert speech_spans(bytes(2 * 8000 * 3), 8000) == []
    assert speech_spans(bytes(2 * 11025), 11025) is None
    assert whole(bytes(10)) == [Span(0, 5)] and whole(b"") == []


def test_time_map_puts_words_back_on_the_calls_clock() -> None:
    # Spans 1.0-2.0 s and 5.0-5.5 s of the call, fed back to back: 0-1.0 s and 1.0-1.5 s fed.
    tmap = TimeMap([Span(8000, 16000), Span(40000, 44000)], 8000)
    assert tmap.fed_seconds == pytest.approx(1.5)
    assert tmap.to_call(0.0) == pytest.approx(1.0)
    assert tmap.to_call(0.99) == pytest.approx(1.99)
    assert tmap.to_call(1.2) == pytest.approx(5.2)
    # Vosk prints 6 decimals: a word on the second span's first frame reads 0.9999995.
    assert tmap.to_call(0.9999995) == pytest.approx(5.0, abs=1e-5)
    # A word that straddles the junction keeps its end after its start.
    start, end = tmap.interval(0.9, 1.1)
    assert (start, end) == (pytest.approx(1.9), pytest.approx(5.1))
    assert TimeMap([Span(0, 8000)], 8000).interval(0.3, 0.1) == (pytest.approx(0.3), pytest.approx(0.3))


def test_time_map_subtracts_what_the_recognizer_was_fed_before() -> None:
    tmap = TimeMap([Span(16000, 24000)], 8000, offset=33.0915)
    assert tmap.to_call(33.0915 + 0.21) == pytest.approx(2.21)
    assert TimeMap([], 8000, offset=4.0).to_call(4.5) == pytest.approx(0.5)


def write(path: Path, samples: list[int], rate: int = 8000, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(array("h", samples).tobytes())
    return path


def tone(n: int, period: int = 16) -> list[int]:
    return [int(8000 * math.sin(2 * math.pi * i / period)) for i in range(n)]


def test_asterisk_wav_is_fed_as_it_is_and_equals_the_conversion(tmp_path: Path) -> None:
    mono = write(tmp_path / "m-caller.wav", tone(8000))
    data, channels = read_wav(mono, 8000) or (b"", 0)
    assert channels == 1 and data == array("h", tone(8000)).tobytes()
    assert read_wav(mono, 16000) is None  # another rate: converted by pydub instead
    assert load_legs(mono, mono, 8000)["caller"] == bytes(AudioSegment.from_wav(mono).raw_data)

    left, right = tone(4000), [x // 3 for x in tone(4000, 40)]
    stereo = write(tmp_path / "s.wav", [v for pair in zip(left, right, strict=True) for v in pair], channels=2)
    legs = load_legs(stereo, None, 8000)
    pl, pr = AudioSegment.from_wav(stereo).split_to_mono()
    assert (legs["caller"], legs["agent"]) == (bytes(pl.raw_data), bytes(pr.raw_data))
    assert split_stereo(array("h", [1, -2, 3, -4]).tobytes()) == (
        array("h", [1, 3]).tobytes(),
        array("h", [-2, -4]).tobytes(),
    )


def test_direct_path_names_a_cut_or_empty_wav(tmp_path: Path) -> None:
    full = write(tmp_path / "full.wav", tone(16000)).read_bytes()
    (tmp_path / "cut.wav").write_bytes(full[: len(full) // 2])
    with pytest.raises(AudioError, match=r"cut\.wav: truncated WAV: header announces 32000 bytes"):
        read_wav(tmp_path / "cut.wav", 8000)
    with pytest.raises(AudioError, match=r"none\.wav: recording holds no audio samples"):
        read_wav(write(tmp_path / "none.wav", []), 8000)
