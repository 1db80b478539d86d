"""``-t NAME`` and ``-V name=value``: a template's defaults under the flags, its prompt
around the input (DESIGN.md, "Daily use"). Flags win over the template, the template
over the gateway (and over ``LLMCLI_GATEWAY``/``LLMCLI_MODEL``, which stand in for no
flag)."""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Any, TypeVar

from llmcli.errors import UsageError

if TYPE_CHECKING:
    from llmcli.cli.options import Connection
    from llmcli.cli.prompt import Gathered, Prompt
    from llmcli.config.templates import Template

P = TypeVar("P")
C = TypeVar("C", bound="Connection")


def variables(items: list[str] | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"-V {item!r}: expected NAME=VALUE")
        found[name.strip()] = value
    return found


def chosen(prompt: Prompt) -> Template | None:
    """The template ``-t`` names, or None; ``-V`` without one is a usage error."""
    return named(prompt.template, prompt.var)


def named(name: str | None, var: list[str] | None) -> Template | None:
    if name is None:
        if var:
            raise UsageError("-V gives a template's variables: name the template with -t NAME")
        return None
    from llmcli.config import templates
    from llmcli.config.file import load

    return templates.find(name, load(os.environ).templates, os.environ)


def defaults(template: Template, prompt: Prompt, common: C, params: P) -> tuple[Prompt, C, P]:
    """The flags, with the template's values where a flag was not given."""
    if template.system is not None and prompt.system is None:
        prompt = dataclasses.replace(prompt, system=template.system)
    if not common.gateway and not common.base_url and template.gateway:
        common = dataclasses.replace(common, gateway=template.gateway)
    if not common.model and template.model:
        common = dataclasses.replace(common, model=template.model)
    given: dict[str, Any] = {}
    for key in ("schema", "tools"):
        if getattr(params, key, "absent") is None and getattr(template, key) is not None:
            given[key] = template.path(getattr(template, key))
    if given:
        params = dataclasses.replace(params, **given)  # type: ignore[type-var]
    return prompt, common, params


def applied(template: Template, prompt: Prompt, gathered: Gathered) -> Gathered:
    """The input in the template's prompt; its params under ``--body``'s."""
    text = template.fill(gathered.text, variables(prompt.var))
    body = {**template.params, **gathered.body}
    return dataclasses.replace(gathered, text=text, body=body)
