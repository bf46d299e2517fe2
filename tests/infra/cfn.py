"""Reading template.yaml in tests: cfn-lint's decoder (it understands !Ref, !Sub, !GetAtt ...) and helpers
that turn intrinsic functions into comparable text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain dicts and lists, intrinsic functions as {"Ref": ...}, {"Fn::Sub": ...}, ..."""
    return dict(cfn_yaml.load(str(path)))


def render(value: Any) -> str:
    """A string value with its intrinsics written as ${Name} / ${Resource.Attribute} placeholders."""
    if isinstance(value, str | int | float | bool):
        return str(value)
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return "${" + str(argument) + "}"
        if function == "Fn::GetAtt":
            parts = argument if isinstance(argument, list) else str(argument).split(".", 1)
            return "${" + ".".join(str(p) for p in parts) + "}"
        if function == "Fn::Sub":
            if isinstance(argument, str):
                return argument
            text, variables = argument
            for name, replacement in variables.items():
                text = text.replace("${" + name + "}", render(replacement))
            return str(text)
        if function == "Fn::Join":
            delimiter, items = argument
            if isinstance(items, list):
                return str(delimiter).join(render(item) for item in items)
            return f"join({delimiter!r}, {render(items)})"
    raise ValueError(f"cannot render {value!r}")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """Logical id -> resource, for every resource of one type."""
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def properties(template: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(template["Resources"][name].get("Properties", {}))


def statements(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from as_list(document["Statement"])


def actions(statement: dict[str, Any]) -> set[str]:
    return {str(a) for a in as_list(statement.get("Action", []))}


def targets(statement: dict[str, Any]) -> set[str]:
    """The statement's Resource entries, rendered."""
    return {render(r) for r in as_list(statement.get("Resource", []))}


def bucket_policy(template: dict[str, Any], bucket: str) -> dict[str, Any]:
    """The policy document attached to a bucket (by the BucketPolicy whose Bucket is !Ref bucket)."""
    found = [
        r["Properties"]["PolicyDocument"]
        for r in resources(template, "AWS::S3::BucketPolicy").values()
        if r["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    assert len(found) == 1, f"{bucket} should have exactly one bucket policy"
    return dict(found[0])


def parameter_default(template: dict[str, Any], name: str) -> Any:
    return template["Parameters"][name]["Default"]
