"""Tool enhancement: better descriptions and structured metadata, once per tool version.

report      ToolToEnhance in; ToolOutcome and EnhancementReport out
requests    which tools of the desired state to enhance
prompt      the prompt, its version, cache keys and schema hashes
output      the answer's JSON schema and the checks it must pass
plan        what each tool needs before any call; cost estimates (--dry-run)
runner      enhance_tools: the batch runner (concurrency, fallback, budgets)
budget      daily and monthly spending caps
store       SQLite tables enhancement_results and enhancement_usage
pins        export to reviewable YAML; pinned text wins over generated text
definitions the tool definition the gateway serves
"""

from __future__ import annotations

from ..core.hashing import tool_schema_hash as schema_hash
from .definitions import META_KEY, enhanced_definition
from .output import OUTPUT_SCHEMA, Enhancement, OutputRejected, parse_answer
from .pins import ExportedTool, Pin, Pins, export_enhancements, load_pins
from .plan import CostEstimate, PlannedTool, estimate_cost, plan_enhancement
from .prompt import PROMPT_VERSION, cache_key
from .report import (
    EnhancementProgress,
    EnhancementReport,
    ProviderUsage,
    ToolOutcome,
    ToolToEnhance,
)
from .requests import providers_of, requests_from_desired
from .runner import enhance_tools
from .store import EnhancementStore, ResultRecord, UsageRecord

__all__ = [
    "META_KEY",
    "OUTPUT_SCHEMA",
    "PROMPT_VERSION",
    "CostEstimate",
    "Enhancement",
    "EnhancementProgress",
    "EnhancementReport",
    "EnhancementStore",
    "ExportedTool",
    "OutputRejected",
    "Pin",
    "Pins",
    "PlannedTool",
    "ProviderUsage",
    "ResultRecord",
    "ToolOutcome",
    "ToolToEnhance",
    "UsageRecord",
    "cache_key",
    "enhance_tools",
    "enhanced_definition",
    "estimate_cost",
    "export_enhancements",
    "load_pins",
    "parse_answer",
    "plan_enhancement",
    "providers_of",
    "requests_from_desired",
    "schema_hash",
]
