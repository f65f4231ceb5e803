from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from reconciler.core.errors import ReconcilerError
from reconciler.core.models import API_GROUP, API_VERSION, KINDS
from reconciler.schemagen import editor_schema, open_api_schema, render_all, write_all
from reconciler.schemagen.crds import CEL_RULES, crd, crd_name
from reconciler.schemagen.modelschema import model_classes
from reconciler.schemagen.openapi import structural
from reconciler.schemagen.reference import render_reference
from reconciler.schemagen.samples import sample_documents

ROOT = Path(__file__).resolve().parents[1]
REGENERATE = "run `python -m reconciler.schemagen` and commit the result"


def _example_documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted((ROOT / "examples").rglob("*.y*ml")):
        for index, document in enumerate(yaml.safe_load_all(path.read_text())):
            if isinstance(document, dict) and document.get("apiVersion") == API_VERSION:
                found.append((f"{path.relative_to(ROOT)}#{index}", document))
    return found


RESOURCES = [(f"sample {kind}", doc) for kind, doc in sample_documents().items()]
RESOURCES += _example_documents()


def _draft4(node: Any) -> Any:
    """An OpenAPI v3 schema as JSON schema draft 4: `nullable` becomes a `null` type."""
    if isinstance(node, list):
        return [_draft4(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _draft4(value) for key, value in node.items()}
    if out.pop("nullable", False):
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def _crd_validator(kind: str) -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(_draft4(open_api_schema(KINDS[kind])))


def _editor_validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(editor_schema())


def _schema_nodes(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every node Kubernetes checks for structure: properties, items, additionalProperties."""
    found = [(path or "<root>", node)]
    for name, sub in node.get("properties", {}).items():
        found += _schema_nodes(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        found += _schema_nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        found += _schema_nodes(node["additionalProperties"], f"{path}.*")
    return found


def _mappings(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [found for item in node for found in _mappings(item)]
    if not isinstance(node, dict):
        return []
    return [node, *(found for value in node.values() for found in _mappings(value))]


def _committed(relative: str) -> bytes | None:
    path = ROOT / relative
    return path.read_bytes() if path.is_file() else None


def test_committed_generated_files_are_up_to_date(tmp_path: Path) -> None:
    write_all(tmp_path)
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == sorted(render_all())
    stale = [rel for rel in written if _committed(rel) != (tmp_path / rel).read_bytes()]
    assert not stale, f"generated files are stale: {stale}; {REGENERATE}"
    committed_crds = sorted(p.name for p in (ROOT / "crds").glob(f"*.{API_GROUP}.yaml"))
    assert committed_crds == sorted(Path(rel).name for rel in written if rel.startswith("crds/")), (
        f"crds/ holds a CRD no kind generates; {REGENERATE}"
    )


def test_check_names_stale_files_without_writing_and_passes_after_generating(
    tmp_path: Path,
) -> None:
    command = [sys.executable, "-m", "reconciler.schemagen", "--root", str(tmp_path)]
    leftover = tmp_path / "crds" / f"gone.{API_GROUP}.yaml"
    leftover.parent.mkdir()
    leftover.write_text("kind: CustomResourceDefinition\n")

    check = subprocess.run([*command, "--check"], capture_output=True, text=True)
    assert check.returncode == 1
    for relative in [*render_all(), f"crds/gone.{API_GROUP}.yaml"]:
        assert f"stale: {relative}" in check.stderr
    assert "python -m reconciler.schemagen" in check.stderr
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [leftover.name]

    subprocess.run(command, capture_output=True, text=True, check=True)
    assert not leftover.exists()
    for relative, content in render_all().items():
        assert (tmp_path / relative).read_text(encoding="utf-8") == content
    again = subprocess.run([*command, "--check"], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr


def test_generated_files_end_with_one_newline_and_yaml_has_no_aliases() -> None:
    for relative, content in render_all().items():
        assert content.endswith("\n"), relative
        assert not content.endswith("\n\n"), relative
        if relative.endswith(".yaml"):
            assert not re.search(r"[&*]id\d+", content), relative


@pytest.mark.parametrize("kind", list(KINDS))
def test_crd_schema_is_structural(kind: str) -> None:
    schema = open_api_schema(KINDS[kind])
    for mapping in _mappings(schema):
        assert not {"$ref", "$defs", "definitions", "anyOf", "oneOf", "allOf"} & set(mapping)
    for path, node in _schema_nodes(schema):
        assert (
            "type" in node
            or node.get("x-kubernetes-preserve-unknown-fields")
            or node.get("x-kubernetes-int-or-string")
        ), f"{kind} {path} has no type"
        assert node.get("additionalProperties") is not False, f"{kind} {path}"
        assert not ("properties" in node and "additionalProperties" in node), f"{kind} {path}"
        assert not isinstance(node.get("exclusiveMinimum"), int | float) or isinstance(
            node.get("exclusiveMinimum"), bool
        ), f"{kind} {path}: exclusiveMinimum must be a flag beside minimum"
        if "default" in node:
            assert node["default"] is not None, f"{kind} {path}"
        if path.count(".") == 1 and path != ".metadata":
            assert node.get("description"), f"{kind} {path} has no description"
    assert schema["properties"]["metadata"] == {"type": "object"}


def test_crd_describes_every_field_in_its_own_words() -> None:
    spec = open_api_schema(KINDS["MCPServer"])["properties"]["spec"]["properties"]
    assert spec["enhancement"]["properties"]["providerRef"]["description"] == (
        "Name of an LLMProvider."
    )
    assert spec["transport"]["enum"] == ["stdio", "streamable-http", "sse"]
    assert spec["transport"]["default"] == "stdio"
    assert spec["command"]["nullable"] is True
    interval = spec["healthCheck"]["properties"]["intervalSeconds"]
    assert (interval["minimum"], interval["exclusiveMinimum"]) == (0, True)
    workflow = open_api_schema(KINDS["Workflow"])["properties"]["spec"]["properties"]
    arguments = workflow["steps"]["items"]["properties"]["arguments"]
    assert arguments == {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "description": arguments["description"],
    }
    labels = open_api_schema(KINDS["MCPSuite"])["properties"]["spec"]["properties"]["selector"]
    assert labels["properties"]["matchLabels"]["additionalProperties"] == {"type": "string"}


@pytest.mark.parametrize("kind", list(KINDS))
def test_crd_identity_subresource_and_printer_columns(kind: str) -> None:
    cls = KINDS[kind]
    document = crd(cls)
    spec = document["spec"]
    assert document["metadata"]["name"] == crd_name(cls) == f"{cls.plural}.{API_GROUP}"
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["shortNames"] == list(cls.short_names)
    assert spec["names"]["categories"] == ["mcp", "mcp-reconciler"]
    [version] = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}
    columns = {column["name"]: column for column in version["additionalPrinterColumns"]}
    assert {"Phase", "Ready", "Age"} <= set(columns)
    assert columns["Age"]["type"] == "date"
    schema = version["schema"]["openAPIV3Schema"]
    for column in columns.values():
        path = column["jsonPath"].split("[")[0].lstrip(".").split(".")
        node = schema
        for part in path:
            if part == "metadata":
                break
            node = node["properties"][part]
        assert column["type"] in ("string", "integer", "boolean", "date", "number")


def test_mcpserver_columns_match_kubectl_get_contract() -> None:
    [version] = crd(KINDS["MCPServer"])["spec"]["versions"]
    columns = [(c["name"], c["jsonPath"], c["type"]) for c in version["additionalPrinterColumns"]]
    assert columns == [
        ("Phase", ".status.phase", "string"),
        ("Ready", '.status.conditions[?(@.type=="Ready")].status', "string"),
        ("Tools", ".status.toolCount", "integer"),
        ("Transport", ".spec.transport", "string"),
        ("Age", ".metadata.creationTimestamp", "date"),
    ]


def test_cel_rules_name_only_fields_of_the_object_they_sit_on() -> None:
    found: dict[str, int] = {}
    for cls in KINDS.values():
        for _, node in _schema_nodes(open_api_schema(cls)):
            for rule in node.get("x-kubernetes-validations", []):
                found[rule["rule"]] = found.get(rule["rule"], 0) + 1
                for name in re.findall(r"self\.(\w+)", rule["rule"]):
                    assert name in node["properties"], rule
    declared = {rule["rule"] for rules in CEL_RULES.values() for rule in rules}
    assert declared == set(found)


@pytest.mark.parametrize(("name", "document"), RESOURCES, ids=[name for name, _ in RESOURCES])
def test_resource_validates_against_crd_and_editor_schema(
    name: str, document: dict[str, Any]
) -> None:
    crd_errors = [e.message for e in _crd_validator(document["kind"]).iter_errors(document)]
    assert not crd_errors, f"{name}: {crd_errors}"
    editor_errors = [e.message for e in _editor_validator().iter_errors(document)]
    assert not editor_errors, f"{name}: {editor_errors}"


def test_examples_point_editors_at_the_committed_schema() -> None:
    modeline = re.compile(r"^# yaml-language-server: \$schema=(\S+)", re.MULTILINE)
    for path in sorted((ROOT / "examples").rglob("*.y*ml")):
        for target in modeline.findall(path.read_text()):
            resolved = (path.parent / target).resolve()
            assert resolved == ROOT / "schema" / "mcp-reconciler.schema.json", path


BAD_RESOURCES = [
    ("unknown spec field", "MCPServer", {"command": "x", "bogus": 1}),
    ("unknown nested field", "MCPServer", {"command": "x", "healthCheck": {"every": 3}}),
    ("args not a list", "MCPServer", {"command": "x", "args": "--help"}),
    ("transport not allowed", "MCPServer", {"transport": "grpc", "url": "http://h"}),
    ("port out of range", "MCPServer", {"command": "x", "port": 70000}),
    ("conflictResolution not allowed", "MCPSuite", {"conflictResolution": "merge"}),
    ("rule without tools", "ToolPermission", {"suites": ["a"], "subjects": [], "rules": [{}]}),
    ("interval as text", "LLMProvider", {"type": "openai", "timeoutSeconds": "soon"}),
    ("step id not a name", "Workflow", {"steps": [{"id": "Bad_Id", "tool": "a.b"}]}),
]


@pytest.mark.parametrize(
    ("case", "kind", "spec"), BAD_RESOURCES, ids=[case for case, _, _ in BAD_RESOURCES]
)
def test_editor_schema_rejects_unknown_fields_and_wrong_types(
    case: str, kind: str, spec: dict[str, Any]
) -> None:
    document = {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": "x"}, "spec": spec}
    assert list(_editor_validator().iter_errors(document)), case


def test_crd_schema_rejects_wrong_types() -> None:
    document = {
        "apiVersion": API_VERSION,
        "kind": "MCPServer",
        "metadata": {"name": "x"},
        "spec": {"command": "x", "args": "--help", "transport": "grpc"},
    }
    messages = [e.message for e in _crd_validator("MCPServer").iter_errors(document)]
    assert len(messages) == 2, messages


def test_editor_schema_rejects_unknown_kind_and_missing_kind() -> None:
    validator = _editor_validator()
    assert list(validator.iter_errors({"apiVersion": API_VERSION, "kind": "MCPGadget"}))
    assert list(validator.iter_errors({"apiVersion": API_VERSION, "metadata": {"name": "x"}}))


def test_structural_conversion_of_pydantic_shapes() -> None:
    defs = {"Inner": {"type": "object", "properties": {"a": {"type": "integer"}}}}
    optional_ref = {"anyOf": [{"$ref": "#/$defs/Inner"}, {"type": "null"}], "default": None}
    assert structural(optional_ref, defs) == {
        "type": "object",
        "nullable": True,
        "properties": {"a": {"type": "integer"}},
    }
    literal_or_text = {"anyOf": [{"enum": ["A"], "type": "string"}, {"type": "string"}]}
    assert structural(literal_or_text, {}) == {"type": "string"}
    assert structural({"type": "string", "const": "x", "title": "X"}, {}) == {
        "type": "string",
        "enum": ["x"],
    }
    assert structural({"type": "number", "exclusiveMaximum": 5}, {}) == {
        "type": "number",
        "maximum": 5,
        "exclusiveMaximum": True,
    }


@pytest.mark.parametrize(
    "shape",
    [
        {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        {"type": "object", "properties": {"x": {}}},
        {"type": "string", "propertyNames": {"pattern": "x"}},
    ],
)
def test_structural_conversion_refuses_what_kubernetes_cannot_express(
    shape: dict[str, Any],
) -> None:
    with pytest.raises(ReconcilerError, match=r"schemagen|no type"):
        structural(shape, {})


def test_reference_mentions_every_field_of_every_model() -> None:
    reference = render_reference()
    sections = dict(re.findall(r"^#{2,3} (\w+)\n(.*?)(?=^#{2,3} |\Z)", reference, re.S | re.M))
    for kind, cls in KINDS.items():
        for model in model_classes(cls):
            section = sections[kind if model is cls else model.__name__]
            for name, field in model.model_fields.items():
                assert f"| `{field.alias or name}` |" in section, (model.__name__, name)


def test_reference_links_point_at_headings_and_show_every_sample() -> None:
    reference = render_reference()
    anchors = {heading.lower() for heading in re.findall(r"^#{2,3} (\w+)$", reference, re.M)}
    for target in re.findall(r"\]\(#([^)]+)\)", reference):
        assert target in anchors, target
    for kind in KINDS:
        assert f"kind: {kind}\n" in reference
