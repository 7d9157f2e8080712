"""A loaded, checked call flow. Immutable: a reload builds a new Flow, and a call in progress
keeps the object it started with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ivr.callflow.nodes import NodeSpec

SUPPORTED_LANGUAGES = ("zh-CN", "en-US")
DEFAULT_LANGUAGE = "zh-CN"
AUDIO_EXTENSIONS = (".wav", ".gsm", ".ulaw", ".alaw", ".sln", ".g722")


class FlowHeader(BaseModel):
    """Top level of a flow file; prompts and nodes are checked one by one by the loader."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = ""
    default_language: str = DEFAULT_LANGUAGE
    languages: list[str] = Field(default_factory=lambda: [DEFAULT_LANGUAGE], min_length=1)
    start: str
    prompts: dict[str, object] = Field(default_factory=dict)
    nodes: dict[str, object] = Field(min_length=1)


@dataclass(frozen=True)
class PromptSpec:
    """Per-language text (synthesised, cached by content hash) or a recorded audio file."""

    texts: Mapping[str, str] = field(default_factory=dict)
    file: Path | None = None  # absolute, without extension (as Asterisk wants)

    def text_for(self, language: str, default_language: str) -> tuple[str, str]:
        """(text, language actually used): the caller's language, else the flow's default."""
        if language in self.texts:
            return self.texts[language], language
        return self.texts[default_language], default_language


def audio_exists(path: Path) -> bool:
    """`path` is written without extension; Asterisk picks whichever format exists."""
    return path.is_file() or any(path.with_suffix(path.suffix + ext).is_file() for ext in AUDIO_EXTENSIONS)


def strip_audio_extension(path: Path) -> Path:
    return path.with_suffix("") if path.suffix.lower() in AUDIO_EXTENSIONS else path


@dataclass(frozen=True)
class Flow:
    name: str
    description: str
    default_language: str
    languages: tuple[str, ...]
    start: str
    prompts: Mapping[str, PromptSpec]
    nodes: Mapping[str, NodeSpec]
    version: str  # content hash of the file: a call record says which version it ran
    path: Path

    def node(self, node_id: str) -> NodeSpec:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise KeyError(f"flow {self.name!r} has no node {node_id!r}") from None

    def prompt_texts(self) -> list[tuple[str, str]]:
        """(text, language) of every text prompt in every language, without duplicates."""
        seen: dict[tuple[str, str], None] = {}
        for spec in self.prompts.values():
            for language, text in spec.texts.items():
                seen[(text, language)] = None
        return list(seen)

    def prompt_files(self) -> list[Path]:
        return sorted({spec.file for spec in self.prompts.values() if spec.file is not None})
