"""Text prompts synthesized with espeak-ng into 8 kHz mono 16-bit WAV, cached by content hash."""

from ivr.prompts.build import BuildStats, build_prompts
from ivr.prompts.synth import ENGINE_VERSION, VOICES, PromptError, ensure_prompt, prompt_file

__all__ = [
    "ENGINE_VERSION", "VOICES", "BuildStats", "PromptError", "build_prompts", "ensure_prompt", "prompt_file",
]
