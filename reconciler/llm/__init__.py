"""LLM providers behind one small interface (`LLMClient`), one module per wire format.

base        the interface, request/answer values, failure reasons
http        JSON over HTTP with failures mapped to reasons (the only httpx user)
openai      OpenAI chat completions (also Azure OpenAI and OpenAI-compatible servers)
anthropic   Anthropic messages
google      Google Gemini generateContent
ollama      Ollama /api/chat
builtin     the offline enhancer (no network)
resilient   rate limits, retries, circuit breaker and cost around any adapter
factory     LLMProvider spec -> client; ProviderPool keeps clients across reconciles
"""

from __future__ import annotations

from .base import Completion, CompletionRequest, LLMClient, is_retryable
from .builtin import BUILTIN_MODEL, BuiltinEnhancer, enhance_offline
from .factory import ProviderPool, build_adapter, build_client
from .pricing import call_cost, estimate_tokens
from .resilient import ResilientClient
from .retry import RetryPolicy
from .vocabulary import CATEGORIES

__all__ = [
    "BUILTIN_MODEL",
    "CATEGORIES",
    "BuiltinEnhancer",
    "Completion",
    "CompletionRequest",
    "LLMClient",
    "ProviderPool",
    "ResilientClient",
    "RetryPolicy",
    "build_adapter",
    "build_client",
    "call_cost",
    "enhance_offline",
    "estimate_tokens",
    "is_retryable",
]
