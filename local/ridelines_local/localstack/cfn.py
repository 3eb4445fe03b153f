"""Reading synthesized CloudFormation templates: find resources, resolve intrinsic functions.

The local stack provisions what the stacks declare, so it needs the templates' resources and the
Lambda environments with ``Ref``/``Fn::GetAtt``/``Fn::ImportValue``... replaced by the physical
names of the emulated resources. Only the intrinsics CDK emits for these stacks are supported;
anything else raises :class:`UnresolvedReference` so a new construct cannot silently drop a setting.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

Template = Mapping[str, Any]

PSEUDO_DEFAULTS = {
    "AWS::AccountId": "123456789012",  # moto's default account
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NoValue": None,
}


class UnresolvedReference(ValueError):
    """A template value refers to something the local stack does not emulate."""


@dataclass(frozen=True)
class Resource:
    stack: str
    logical_id: str
    type: str
    properties: Mapping[str, Any]


@dataclass
class Physical:
    """What ``Ref`` and ``Fn::GetAtt`` return for one emulated resource."""

    ref: str | None
    attributes: dict[str, str | None] = field(default_factory=dict)


def resources(templates: Mapping[str, Template], type_: str | None = None) -> Iterator[Resource]:
    for stack, template in templates.items():
        for logical_id, body in (template.get("Resources") or {}).items():
            if type_ is None or body.get("Type") == type_:
                yield Resource(stack, logical_id, body.get("Type", ""), body.get("Properties") or {})


class Resolver:
    """Evaluates intrinsic functions against the emulated resources of every stack."""

    def __init__(self, templates: Mapping[str, Template], region: str) -> None:
        self.templates = templates
        self.pseudo = {**PSEUDO_DEFAULTS, "AWS::Region": region}
        self.physical: dict[tuple[str, str], Physical] = {}

    def register(self, stack: str, logical_id: str, physical: Physical) -> None:
        self.physical[(stack, logical_id)] = physical

    def resolve(self, value: Any, stack: str) -> Any:
        if isinstance(value, list):
            return [self.resolve(v, stack) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: self.resolve(v, stack) for k, v in value.items()}
        ((name, arg),) = value.items()
        if name == "Ref":
            return self._ref(arg, stack)
        if name == "Fn::GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self._get_att(stack, logical_id, attribute)
        if name == "Fn::Join":
            sep, parts = arg
            return str(sep).join(str(p) for p in self.resolve(parts, stack) if p is not None)
        if name == "Fn::Select":
            index, items = arg
            return self.resolve(items, stack)[int(self.resolve(index, stack))]
        if name == "Fn::Split":
            sep, text = arg
            return str(self.resolve(text, stack)).split(sep)
        if name == "Fn::Sub":
            return self._sub(arg, stack)
        if name == "Fn::ImportValue":
            return self._import(self.resolve(arg, stack))
        if name.startswith("Fn::") or name == "Condition":
            raise UnresolvedReference(f"{name} is not supported by the local stack")
        return {name: self.resolve(arg, stack)}

    def _ref(self, name: str, stack: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name == "AWS::StackName":
            return stack
        physical = self.physical.get((stack, name))
        if physical is None or physical.ref is None:
            raise UnresolvedReference(f"Ref {stack}/{name}: not emulated locally")
        return physical.ref

    def _get_att(self, stack: str, logical_id: str, attribute: str) -> Any:
        physical = self.physical.get((stack, logical_id))
        if physical is None or attribute not in physical.attributes:
            raise UnresolvedReference(f"Fn::GetAtt {stack}/{logical_id}.{attribute}: not emulated locally")
        return physical.attributes[attribute]

    def _sub(self, arg: Any, stack: str) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        values = {k: self.resolve(v, stack) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            key = match.group(1)
            if key.startswith("!"):
                return "${" + key[1:] + "}"
            if key in values:
                return str(values[key])
            if "." in key:
                logical_id, attribute = key.split(".", 1)
                return str(self._get_att(stack, logical_id, attribute))
            return str(self._ref(key, stack))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def _import(self, export_name: str) -> Any:
        for stack, template in self.templates.items():
            for output in (template.get("Outputs") or {}).values():
                export = output.get("Export") or {}
                if "Name" in export and self.resolve(export["Name"], stack) == export_name:
                    return self.resolve(output["Value"], stack)
        raise UnresolvedReference(f"Fn::ImportValue {export_name}: no stack exports it")
