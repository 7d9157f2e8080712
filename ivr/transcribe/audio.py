"""Recorded audio -> 16-bit mono PCM per speaker at the recognizer's rate.

What Asterisk writes for the legs (16-bit PCM WAV at 8 kHz) is read with the standard library's
`wave` and handed to the recognizer as it is; anything else (another rate, mu-law, GSM, raw
signed-linear, stereo at another rate) is converted by pydub over ffmpeg.

A recording that cannot be transcribed (missing, empty, truncated, undecodable) raises
`AudioError`: a permanent failure, so the job is not retried and the file is kept as evidence.
"""

from __future__ import annotations

import sys
import wave
from array import array
from pathlib import Path

from pydub import AudioSegment
from pydub.exceptions import CouldntDecodeError

from ivr.transcribe.transcript import Speaker

# Asterisk's headerless signed-linear formats: extension -> sample rate.
_RAW_RATES = {".sln": 8000, ".raw": 8000, ".sln16": 16000, ".sln48": 48000}


class AudioError(ValueError):
    """A recording that cannot be transcribed; the message says which file and why."""


def _check_file(path: Path) -> None:
    if not path.exists():
        raise AudioError(f"{path}: recording is missing")
    if not path.is_file():
        raise AudioError(f"{path}: not a regular file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: recording is empty (0 bytes)")


def _check_wav_complete(path: Path) -> None:
    """A WAV whose data is shorter than its header promises was cut off (disk full, crash)."""
    try:
        with wave.open(str(path), "rb") as w:
            frames, width, channels = w.getnframes(), w.getsampwidth(), w.getnchannels()
            data = w.readframes(frames)
    except (wave.Error, EOFError) as exc:
        raise AudioError(f"{path}: corrupt WAV ({exc})") from exc
    except Exception:
        # Compressed WAV (GSM, mu-law) is not wave's to judge; ffmpeg decides below.
        return
    expected = frames * width * channels
    if len(data) < expected:
        raise AudioError(
            f"{path}: truncated WAV: header announces {expected} bytes of audio, file holds {len(data)}"
        )


def decode(path: Path) -> AudioSegment:
    """The whole file, decoded; AudioError when it is missing, empty, truncated or corrupt."""
    path = Path(path)
    _check_file(path)
    suffix = path.suffix.lower()
    try:
        if suffix in _RAW_RATES:
            seg = AudioSegment.from_file(
                path, format="raw", frame_rate=_RAW_RATES[suffix], channels=1, sample_width=2
            )
        else:
            if suffix == ".wav":
                _check_wav_complete(path)
            seg = AudioSegment.from_file(path)
    except CouldntDecodeError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "ffmpeg could not decode it"
        raise AudioError(f"{path}: corrupt or unsupported audio ({reason[:200]})") from exc
    except (IndexError, KeyError, ValueError) as exc:
        raise AudioError(f"{path}: corrupt audio header ({exc})") from exc
    if len(seg) == 0 or seg.frame_count() < 1:
        raise AudioError(f"{path}: recording holds no audio samples")
    return seg


def read_wav(path: Path, rate: int) -> tuple[bytes, int] | None:
    """(frames, channels) of a 16-bit PCM WAV at `rate`, read without conversion; None when the
    file needs converting (or is damaged: `decode` then names what is wrong)."""
    path = Path(path)
    if path.suffix.lower() != ".wav":
        return None
    _check_file(path)
    try:
        with wave.open(str(path), "rb") as w:
            if (w.getcomptype(), w.getsampwidth(), w.getframerate()) != ("NONE", 2, rate):
                return None
            frames, channels = w.getnframes(), w.getnchannels()
            data = w.readframes(frames)
    except Exception:
        # Damaged or not PCM (wave raises several kinds of errors): decode() names what is wrong.
        return None
    if channels not in (1, 2):
        return None
    if len(data) < frames * 2 * channels:
        raise AudioError(
            f"{path}: truncated WAV: header announces {frames * 2 * channels} bytes of audio, file holds {len(data)}"
        )
    if frames < 1:
        raise AudioError(f"{path}: recording holds no audio samples")
    return data, channels


def split_stereo(data: bytes) -> tuple[bytes, bytes]:
    """Left and right channel of interleaved 16-bit little-endian stereo."""
    samples = array("h", data)
    if sys.byteorder == "big":
        samples.byteswap()
    left, right = samples[0::2], samples[1::2]
    if sys.byteorder == "big":
        left.byteswap()
        right.byteswap()
    return left.tobytes(), right.tobytes()


def _mono(path: Path, rate: int) -> bytes:
    direct = read_wav(path, rate)
    if direct is not None and direct[1] == 1:
        return direct[0]
    return to_pcm(decode(path), rate)


def to_pcm(seg: AudioSegment, rate: int) -> bytes:
    """Mono, 16-bit, `rate` Hz little-endian PCM: what Vosk's recognizer accepts."""
    return bytes(seg.set_channels(1).set_sample_width(2).set_frame_rate(rate).raw_data)


def load_legs(caller: Path, agent: Path | None, rate: int) -> dict[Speaker, bytes]:
    """PCM per speaker: two files (MixMonitor r()/t()), or one stereo file (left caller,
    right agent, MixMonitor's `D` order), or one mono file (speaker unknown)."""
    if agent is not None:
        return {"caller": _mono(caller, rate), "agent": _mono(agent, rate)}
    direct = read_wav(caller, rate)
    if direct is not None:
        if direct[1] == 1:
            return {"unknown": direct[0]}
        left, right = split_stereo(direct[0])
        return {"caller": left, "agent": right}
    seg = decode(caller)
    if seg.channels == 2:
        left, right = seg.split_to_mono()
        return {"caller": to_pcm(left, rate), "agent": to_pcm(right, rate)}
    if seg.channels == 1:
        return {"unknown": to_pcm(seg, rate)}
    raise AudioError(f"{caller}: {seg.channels} channels; expected 1 (mono) or 2 (caller left, agent right)")


def pcm_seconds(pcm: bytes, rate: int) -> float:
    return len(pcm) / 2 / rate
