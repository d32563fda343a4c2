"""The source reads as the data flows: no import circle, small classes and functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[2] / "src" / "driftline"
MAX_CLASS_LINES = 300
MAX_FUNCTION_LINES = 80


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every driftline name ``path`` imports, at any depth of the file (functions too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("driftline")}
        elif isinstance(node, ast.ImportFrom) and node.module and \
                node.module.startswith("driftline"):
            # `from driftline.cli import demo` imports the module driftline.cli.demo
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in SRC.rglob("*.py")}
    out: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps = set()
        for imp in imports(path):
            # `from driftline.x import y` may name module driftline.x.y or an attribute of x
            while imp and imp not in modules:
                imp = imp.rpartition(".")[0]
            if imp and imp != name and not name.startswith(imp + "."):
                deps.add(imp)  # a package's own __init__ re-exports are not a circle
        out[name] = deps
    return out


def test_no_import_circle() -> None:
    """No module reaches itself through the imports of the modules it imports."""
    g = graph()
    circles = []
    for start in g:
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for dep in g.get(node, ()):
                if dep == start:
                    circles.append(" → ".join([*path, dep]))
                elif dep not in seen:
                    seen.add(dep)
                    stack.append((dep, [*path, dep]))
    assert circles == []


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_classes_and_functions_stay_small(path: Path) -> None:
    """No class over ~300 lines, no function over ~80."""
    big = []
    for node in ast.walk(ast.parse(path.read_text())):
        lines = (node.end_lineno or node.lineno) - node.lineno + 1 if hasattr(node, "lineno") else 0
        if isinstance(node, ast.ClassDef) and lines > MAX_CLASS_LINES + 10:
            big.append(f"class {node.name}: {lines} lines")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and \
                lines > MAX_FUNCTION_LINES:
            big.append(f"def {node.name}: {lines} lines")
    assert big == []
