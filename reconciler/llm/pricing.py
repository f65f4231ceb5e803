"""Token estimates and the price of a call.

Providers report token counts; when one does not, they are estimated from the text (about
four characters per token for English and JSON, rounded up), and the completion says so.
"""

from __future__ import annotations

import math
from typing import Final

from ..core.models.provider import Pricing

CHARS_PER_TOKEN: Final = 4.0
"""Average characters per token of English prose and JSON for current tokenizers."""


def estimate_tokens(*texts: str) -> int:
    """Estimated token count of the texts together (at least 1 for non-empty text)."""
    chars = sum(len(text) for text in texts)
    return math.ceil(chars / CHARS_PER_TOKEN) if chars else 0


def call_cost(pricing: Pricing, input_tokens: int, output_tokens: int) -> float:
    """Price of one call from the provider's per-million-token prices."""
    return (
        input_tokens * pricing.input_per_million_tokens
        + output_tokens * pricing.output_per_million_tokens
    ) / 1_000_000


def reported_or_estimated(
    input_tokens: object, output_tokens: object, *, prompt: str, answer: str
) -> tuple[int, int, bool]:
    """The provider's token counts when it gave both, else estimates; and whether estimated."""
    if (
        isinstance(input_tokens, int)
        and isinstance(output_tokens, int)
        and not isinstance(input_tokens, bool)
        and not isinstance(output_tokens, bool)
        and input_tokens >= 0
        and output_tokens >= 0
    ):
        return input_tokens, output_tokens, False
    return estimate_tokens(prompt), estimate_tokens(answer), True
