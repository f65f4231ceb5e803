"""One sample resource per kind: shown in the reference, and checked against every schema."""

from __future__ import annotations

from typing import Any

import yaml

from ..core.errors import ReconcilerError
from ..core.models import KINDS

SAMPLES: dict[str, str] = {
    "MCPServer": """\
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata:
  name: time
  labels: {team: platform}
spec:
  transport: stdio
  command: mcp-server-time
  args: ["--local-timezone", "UTC"]
  env:
    - {name: TZ, value: UTC}
    - name: API_TOKEN
      valueFrom: {secretKeyRef: {name: time-secrets, key: token}}
  healthCheck: {intervalSeconds: 30, timeoutSeconds: 10, failureThreshold: 3}
  restart: {maxFailures: 5}
  tools:
    include: ["*"]
    exclude: ["convert_*"]
    overrides:
      get_current_time: {description: "Current time in a given IANA timezone."}
  enhancement: {providerRef: local, style: concise}
""",
    "MCPSuite": """\
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPSuite
metadata:
  name: dev
spec:
  description: Tools for day-to-day development.
  servers:
    - {name: time, priority: 50}
    - {name: everything}
  selector: {matchLabels: {team: platform}}
  conflictResolution: prefix
""",
    "ToolPermission": """\
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata:
  name: ci-bot-dev
spec:
  suites: [dev]
  subjects:
    - name: ci-bot
      tokenFrom: {env: CI_BOT_TOKEN}
  rules:
    - {action: allow, tools: ["time.*", "everything.echo"]}
    - {action: deny, tools: ["everything.get-env"]}
  rateLimit: {requestsPerMinute: 120}
""",
    "LLMProvider": """\
apiVersion: mcp.reconciler.dev/v1alpha1
kind: LLMProvider
metadata:
  name: openai
spec:
  type: openai
  model: gpt-4o-mini
  apiKey: {secretKeyRef: {name: llm, key: openai}}
  pricing: {inputPerMillionTokens: 0.15, outputPerMillionTokens: 0.6}
  budget: {daily: 5}
  fallbackRef: local
""",
    "Workflow": """\
apiVersion: mcp.reconciler.dev/v1alpha1
kind: Workflow
metadata:
  name: release-notes
spec:
  active: true
  suites: [dev]
  inputs: {type: object, properties: {tz: {type: string}}}
  steps:
    - id: now
      tool: time.get_current_time
      arguments: {timezone: "{{ inputs.tz }}"}
    - id: say
      tool: everything.echo
      arguments: {message: "{{ steps.now.result }}"}
      dependsOn: [now]
      retry: {attempts: 3}
      timeoutSeconds: 30
      onError: abort
""",
    "ToolLock": """\
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolLock
metadata:
  name: time
spec:
  mode: enforce
  tools:
    get_current_time:
      sha256: "9f2c5a3e1b7d4c6f8a0e2b4d6f8a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a"
      description: Get current time in a specific timezone
  accepted:
    - {tool: get_current_time, finding: oversized}
""",
}
"""YAML of a sample resource, by kind."""


def sample_documents() -> dict[str, dict[str, Any]]:
    """Each sample parsed, after checking that the models accept it."""
    documents: dict[str, dict[str, Any]] = {}
    for kind, text in SAMPLES.items():
        document = yaml.safe_load(text)
        try:
            KINDS[kind].model_validate(document)
        except ValueError as error:
            raise ReconcilerError(
                f"the sample {kind} in reconciler/schemagen/samples.py no longer matches "
                f"the models; update it:\n{error}",
                reason="SchemaError",
            ) from error
        documents[kind] = document
    return documents
