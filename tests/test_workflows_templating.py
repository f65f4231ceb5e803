"""The template language of workflow steps: what renders, what is refused, and why."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.workflows import Scope, TemplateError, condition, parse, render
from reconciler.workflows.templating import step_references

SCOPE = Scope(
    inputs={"tz": "UTC", "count": 3, "flag": False, "nested": {"items": [10, 20]}, "none": None},
    steps={
        "now": {
            "status": "ok",
            "result": '{"datetime": "2025-01-01T00:00:00+00:00"}',
            "structured": {"datetime": "2025-01-01T00:00:00+00:00", "zones": ["UTC", "CET"]},
            "error": None,
        },
        "broken": {"status": "failed", "result": None, "structured": None, "error": "boom"},
        "off": {"status": "skipped", "result": None, "structured": None, "error": None},
    },
    known=frozenset({"now", "broken", "off", "later"}),
)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ inputs.tz }}", "UTC"),
        ("{{inputs.tz}}", "UTC"),
        ("  {{ inputs.count }} ", 3),
        ("{{ inputs.flag }}", False),
        ("{{ inputs.nested }}", {"items": [10, 20]}),
        ("{{ inputs.nested.items.1 }}", 20),
        ("{{ inputs.none }}", None),
        ("time in {{ inputs.tz }}", "time in UTC"),
        (
            "n={{ inputs.count }} f={{ inputs.flag }} o={{ inputs.nested }}",
            'n=3 f=false o={"items":[10,20]}',
        ),
        ("[{{ inputs.none }}]", "[]"),
        ("{{ steps.now.result }}", '{"datetime": "2025-01-01T00:00:00+00:00"}'),
        ("{{ steps.now.structured.datetime }}", "2025-01-01T00:00:00+00:00"),
        ("{{ steps.now.structured.zones.0 }}", "UTC"),
        ("{{ steps.now.status }}", "ok"),
        ("{{ steps.broken.result }}", None),
        ("{{ steps.broken.structured.anything }}", None),
        ("{{ steps.broken.error }}", "boom"),
        ("got: {{ steps.off.result }}", "got: "),
        ("{{ inputs.missing | default('Europe/Paris') }}", "Europe/Paris"),
        ("{{ inputs.none | default(7) }}", 7),
        ("{{ inputs.tz | default('x') }}", "UTC"),
        ("{{ inputs.tz == 'UTC' }}", True),
        ('{{ inputs.tz != "UTC" }}', False),
        ("{{ inputs.count == 3 }}", True),
        ("{{ inputs.flag == 0 }}", False),
        ("{{ steps.broken.status == 'failed' }}", True),
        ("{{ not inputs.flag }}", True),
        ("{{ 'it\\'s' }}", "it's"),
        ("{{ -1.5 }}", -1.5),
        ("{{ null }}", None),
        ("no templates at all", "no templates at all"),
    ],
)
def test_templates_render_values_with_their_json_type_when_whole(
    template: str, expected: Any
) -> None:
    assert render(template, SCOPE) == expected


def test_arguments_are_rendered_through_nested_objects_and_lists() -> None:
    arguments = {"a": ["{{ inputs.count }}", {"b": "tz={{ inputs.tz }}"}], "n": 1, "k": True}
    assert render(arguments, SCOPE) == {"a": [3, {"b": "tz=UTC"}], "n": 1, "k": True}


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ inputs.absent }}", "input 'absent' is missing: pass it in the arguments"),
        ("{{ inputs.tz.zone }}", "inputs.tz has no 'zone' (it is string)"),
        ("{{ inputs.nested.items.5 }}", "inputs.nested.items has no '5' (it is array)"),
        ("{{ steps.now.structured.nope }}", "steps.now.structured has no 'nope'"),
        ("{{ steps.ghost.result }}", "unknown step 'ghost'"),
        ("{{ steps.later.result }}", "step 'later' has not run yet: add it to dependsOn"),
    ],
)
def test_reading_what_is_not_there_is_a_clear_error(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as raised:
        render(template, SCOPE)
    assert message in raised.value.message


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ __import__('os') }}", "unknown name '__import__'"),
        ("{{ __import__('os').system('touch /tmp/x') }}", "unknown name '__import__'"),
        ("{{ open('/etc/passwd').read() }}", "unknown name 'open'"),
        ("{{ inputs.tz.__class__.__mro__ }}", "has no '__class__'"),
        ("{{ lipsum.__globals__ }}", "unknown name 'lipsum'"),
        ("{{ inputs.tz | upper }}", "the only filter is '| default(<literal>)'"),
        ("{{ inputs.tz | default(inputs.count) }}", "default takes one literal"),
        ("{{ inputs.tz + 1 }}", "unexpected '+ 1'"),
        ("{{ inputs }}", "name the input: inputs.<name>"),
        ("{{ steps.now }}", "a step is read as steps.<id>.<field>"),
        ("{{ steps.now.result.x }}", "steps.<id>.result has no fields"),
        ("{{ }}", "empty template"),
        ("{{ inputs.tz", "unclosed '{{'"),
    ],
)
def test_anything_but_the_grammar_is_refused_never_evaluated(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as raised:
        render(template, SCOPE)
    assert message in raised.value.message


def test_the_input_dict_is_read_never_called() -> None:
    class Trap(dict[str, Any]):
        def __getattr__(self, name: str) -> Any:
            raise AssertionError("a template reached an attribute")

    scope = Scope(inputs=Trap(tz="UTC"), steps={})
    with pytest.raises(TemplateError):
        render("{{ inputs.__dict__ }}", scope)
    assert render("{{ inputs.tz }}", scope) == "UTC"


@pytest.mark.parametrize(
    ("when", "runs"),
    [
        ("{{ inputs.flag }}", False),
        ("{{ not inputs.flag }}", True),
        ("{{ inputs.count }}", True),
        ("{{ inputs.none }}", False),
        ("{{ steps.broken.result }}", False),
        ("{{ steps.now.status == 'ok' }}", True),
        ("{{ inputs.tz != 'UTC' }}", False),
        ("true", True),
        ("false", False),
        ("flag is {{ inputs.flag }}", True),
        ("{{ inputs.flag }}  ", False),
        ("No", False),
        ("0", False),
        ("", False),
    ],
)
def test_when_conditions_follow_json_truthiness(when: str, runs: bool) -> None:
    assert condition(when, SCOPE) is runs


def test_step_references_are_found_in_every_part_of_a_template() -> None:
    text = "{{ steps.a.result }} and {{ steps.b.status == 'ok' }} {{ not steps.c.error }}"
    assert step_references(text) == {"a", "b", "c"}
    assert step_references("{{ steps.d.structured.x | default(1) }}") == {"d"}
    assert step_references("{{ inputs.x }}") == set()


def test_a_parsed_template_is_cached_and_reused() -> None:
    assert parse("{{ inputs.tz }} now") is parse("{{ inputs.tz }} now")
