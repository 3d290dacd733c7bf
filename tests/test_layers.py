"""The layers stay honest: the core sits on no import cycle, domain packages know nothing of
HTTP or of the API, and the WeChat sandbox shares no code with the backend."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BACKEND = ROOT / "backend"

#: packages that must never sit on an import cycle (the money core and its helpers)
CORE = ("common", "payments", "progress", "ledger", "donations", "spending", "jobs")
#: packages of the domain: services and models, no HTTP
DOMAIN = (
    "accounts", "audit", "common", "donations", "funds", "jobs", "ledger", "needs",
    "payments", "progress", "regions", "spaces", "spending", "stats", "uploads", "wechat",
)  # fmt: skip
#: what a domain package may not import: the web layer and HTTP's exceptions
HTTP_NAMES = {("flask", "request"), ("flask", "abort"), ("flask", "g")}
HTTP_MODULES = ("werkzeug.exceptions", "backend.api", "backend.errors", "backend.auth",
                "backend.web", "flask_smorest", "webargs")  # fmt: skip


def unit_of(module: str) -> str:
    """`backend.donations.services` -> `donations`; `backend.errors` -> `errors`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[str, str | None]]:
    """(module, name) of every import in a file, at any depth (inside functions too)."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.extend((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.extend((node.module, alias.name) for alias in node.names)
    return found


def package_graph() -> dict[str, set[str]]:
    """Which backend package imports which (module imports folded into packages)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in BACKEND.rglob("*.py"):
        source = unit_of(module_name(path))
        for module, _ in imports_of(path):
            if module.startswith("backend.") and unit_of(module) != source:
                graph[source].add(unit_of(module))
    return graph


def cycles_through(graph: dict[str, set[str]], start: str) -> list[list[str]]:
    """Every simple path from `start` back to itself (one example each first step)."""
    found = []
    for first in sorted(graph.get(start, ())):
        stack = [(first, [start, first])]
        seen = set()
        while stack:
            node, path = stack.pop()
            if node == start:
                found.append(path)
                break
            if node in seen:
                continue
            seen.add(node)
            stack.extend((nxt, [*path, nxt]) for nxt in sorted(graph.get(node, ())))
    return found


@pytest.mark.parametrize("package", CORE)
def test_core_package_sits_on_no_import_cycle(package: str) -> None:
    cycles = cycles_through(package_graph(), package)
    assert not cycles, f"{package} is on import cycles: " + "; ".join(
        " -> ".join(c) for c in cycles
    )


@pytest.mark.parametrize("package", DOMAIN)
def test_domain_package_knows_nothing_of_http(package: str) -> None:
    offending = []
    for path in (BACKEND / package).rglob("*.py"):
        for module, name in imports_of(path):
            if (module, name) in HTTP_NAMES or module.startswith(HTTP_MODULES):
                offending.append(f"{path.relative_to(ROOT)}: {module}.{name or ''}")
    assert not offending, "\n".join(offending)


def test_sandbox_imports_nothing_of_the_backend() -> None:
    offending = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in (BACKEND / "wechat_sandbox").rglob("*.py")
        for module, _ in imports_of(path)
        if module == "backend"
        or (module.startswith("backend.") and not module.startswith("backend.wechat_sandbox"))
    ]
    assert not offending, "\n".join(offending)


def test_the_walker_sees_a_cycle() -> None:
    """The check itself: a made-up cycle through a core package is found."""
    graph = {"donations": {"needs"}, "needs": {"progress"}, "progress": {"donations"}}
    assert cycles_through(graph, "progress") == [["progress", "donations", "needs", "progress"]]
    assert cycles_through({"a": {"b"}}, "a") == []
