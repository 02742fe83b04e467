"""Settings of the spoken stretch prompt and the bedtime reminder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptSettings:
    backend: Literal["espeak", "none"] = field(
        default="espeak",
        metadata={"doc": "How prompts are spoken: espeak-ng rendered to WAV, or none."},
    )
