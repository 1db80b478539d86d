"""The import rules of DESIGN.md's "Layout": the library imports neither typer, click nor
rich; the offline gateway (llmcli/mock/) imports nothing else of llmcli; only cli/
knows Typer; no import cycle between llmcli's modules (imports inside functions count,
imports for type checkers only do not)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import clean_env

PACKAGE = Path(__file__).resolve().parents[2] / "llmcli"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _owner(name: str) -> str:
    """The module a dotted import name lands in (``llmcli.config.Gateway`` -> config)."""
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name if name in MODULES else ""


def imports_of(module: str) -> set[str]:
    """The llmcli modules ``module`` imports, anywhere but under ``if TYPE_CHECKING``."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if "TYPE_CHECKING" not in ast.unparse(node.test):
                self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(_owner(a.name) for a in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            for alias in node.names:
                found.add(_owner(f"{name}.{alias.name}") or _owner(name))

    Visitor().visit(ast.parse(path.read_text()))
    found.discard(module)
    found.discard("")
    return found


def _cycles() -> list[list[str]]:
    graph = {m: imports_of(m) for m in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while (top := stack.pop()) != node:
                component.append(top)
            if component:
                cycles.append(sorted([node, *component]))

    for node in graph:
        if node not in index:
            visit(node)
    return cycles


def test_the_rules_see_real_imports() -> None:
    assert "llmcli.exchange" in imports_of("llmcli.client")
    assert "llmcli.config.gateway" in imports_of("llmcli.config.resolve")
    assert "llmcli.mock.faults" in imports_of("llmcli.mock.server")


def test_no_import_cycles() -> None:
    assert _cycles() == []


def test_the_offline_gateway_stands_alone() -> None:
    for module in MODULES:
        if module.startswith("llmcli.mock"):
            outside = {m for m in imports_of(module) if not m.startswith("llmcli.mock")}
            assert outside == set(), module


def test_only_cli_and_docgen_know_typer() -> None:
    for module, path in MODULES.items():
        if module.startswith(("llmcli.cli", "llmcli.docgen")):
            continue
        text = path.read_text()
        # rich draws what a terminal shows: the tables (outputs) and Markdown (markdown),
        # and only there
        drawing = module in ("llmcli.io.outputs", "llmcli.io.markdown")
        names = ("typer", "click") if drawing else ("typer", "click", "rich")
        for name in names:
            assert f"import {name}" not in text and f"from {name}" not in text, (module, name)


def test_the_library_imports_no_cli_machinery() -> None:
    code = (
        "import sys, llmcli\n"
        "client = llmcli.Client('mock')\n"
        "client.chat({'model': 'echo', 'messages': [{'role': 'user', 'content': 'hi'}]})\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'typer', 'click', 'rich'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, env=clean_env(), timeout=30
    )
    assert done.stderr == b""
    assert done.stdout == b"[]\n"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("llmcli.cli.")))
def test_commands_run_no_stream_loop(module: str) -> None:
    """The per-chunk loop is the library's: no command decodes SSE or assembles."""
    assert not imports_of(module) & {
        "llmcli.protocol.sse",
        "llmcli.protocol.chat.stream",
        "llmcli.protocol.messages.stream",
        "llmcli.protocol.responses.stream",
    }


#: DESIGN.md, "Layout": cli -> client/batch -> exchange -> protocol, http -> errors,
#: redaction; io is the CLI's. What each layer may not import.
BELOW = {
    "llmcli.protocol": ("llmcli.http", "llmcli.io", "llmcli.cli", "llmcli.batch",
                        "llmcli.client", "llmcli.exchange", "llmcli.config"),
    "llmcli.http": ("llmcli.protocol", "llmcli.io", "llmcli.cli", "llmcli.batch",
                    "llmcli.client", "llmcli.exchange", "llmcli.config"),
    "llmcli.exchange": ("llmcli.client", "llmcli.batch", "llmcli.cli", "llmcli.io"),
    "llmcli.errors": ("llmcli.",),
    "llmcli.redaction": ("llmcli.",),
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_layers(module: str) -> None:
    for layer, forbidden in BELOW.items():
        if module == layer or module.startswith(layer + "."):
            wrong = {i for i in imports_of(module) if i.startswith(forbidden) and i != module}
            assert wrong == set(), f"{module} imports {wrong}"


DIALECTS = ("llmcli.protocol.chat", "llmcli.protocol.messages", "llmcli.protocol.responses")


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith(DIALECTS)))
def test_no_dialect_imports_another(module: str) -> None:
    mine = next(d for d in DIALECTS if module.startswith(d))
    others = tuple(d for d in DIALECTS if d != mine)
    assert {i for i in imports_of(module) if i.startswith(others)} == set()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_only_the_cli_uses_io(module: str) -> None:
    if not module.startswith(("llmcli.cli", "llmcli.io", "llmcli.__main__")):
        assert {i for i in imports_of(module) if i.startswith("llmcli.io")} == set()
