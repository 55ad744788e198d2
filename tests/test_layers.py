"""Imports flow one way through gan_lab's layers, and no two files import each other.

The layers, lowest first (../DESIGN.md): a file may import its own layer and the layers
below it, never one above. Function-level and TYPE_CHECKING imports count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gan_lab"

#: (layer, the modules in it), lowest first; a module is named by its dotted path below gan_lab.
LAYERS = [
    ("base", ("config", "precision", "device", "distributed")),
    ("data", ("data",)),
    ("models", ("models",)),
    ("losses", ("losses", "theory")),
    ("checkpoints", ("checkpoints",)),
    ("train", ("train",)),
    ("metrics", ("metrics",)),
    ("viz", ("viz",)),
    ("widgets", ("widgets",)),
    ("exercises / course", ("exercises", "course", "session")),
    ("cli", ("cli", "__init__", "__main__")),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


def layer_of(module: str) -> int:
    top = module.split(".")[0]
    for rank, (_, members) in enumerate(LAYERS):
        if top in members:
            return rank
    raise AssertionError(f"gan_lab.{module} belongs to no layer: add it to LAYERS in {Path(__file__).name}.")


def imports_of(path: Path) -> set[str]:
    """The gan_lab modules ``path`` imports (resolved to files' module names), anywhere in the file."""
    module = module_name(path)
    package = list(path.parent.relative_to(PACKAGE).parts)  # where a relative import starts
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name.removeprefix("gan_lab.") for a in node.names if a.name.startswith("gan_lab.")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
            elif node.module and node.module.split(".")[0] == "gan_lab":
                base = []
                node = ast.ImportFrom(module=node.module.removeprefix("gan_lab").lstrip("."), names=node.names)
            else:
                continue
            stem = base + (node.module.split(".") if node.module else [])
            for alias in node.names:  # `from . import viz` imports a module; `from .x import f` imports x
                candidate = ".".join(stem + [alias.name])
                found.add(candidate if _is_module(candidate) else ".".join(stem))
    return {m for m in found if m and m != module}


def _is_module(name: str) -> bool:
    path = PACKAGE.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _resolve(name: str) -> str:
    """A name a file imports, as a file's module name (a package is its __init__)."""
    return name if _is_module(name) else name.rsplit(".", 1)[0]


GRAPH = {module_name(p): {_resolve(m) for m in imports_of(p)} for p in sorted(PACKAGE.rglob("*.py"))}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import of a module from a higher layer, naming both files."""
    return [f"gan_lab.{a} ({LAYERS[layer_of(a)][0]}) imports gan_lab.{b} ({LAYERS[layer_of(b)][0]})"
            for a, targets in sorted(graph.items()) for b in sorted(targets) if layer_of(b) > layer_of(a)]


def import_cycles(graph: dict[str, set[str]]) -> list[str]:
    """Every cycle of imports between files (a package's __init__ re-exporting its own modules excepted)."""
    cycles, state = [], {}  # state: 1 on the current path, 2 done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycle = path[path.index(target):] + [target]
                if not any(b.startswith(a + ".") or a.startswith(b + ".") for a, b in zip(cycle, cycle[1:])):
                    cycles.append(" → ".join(f"gan_lab.{m}" for m in cycle))
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return cycles


def test_every_module_has_a_layer():
    for module in GRAPH:
        layer_of(module)


def test_no_import_reaches_up_a_layer():
    upward = upward_imports(GRAPH)
    assert not upward, "imports against the layer order (move the code to where it belongs):\n" + "\n".join(upward)


def test_no_import_cycle():
    cycles = import_cycles(GRAPH)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_checks_catch_what_they_look_for():
    graph = {"train.sgan": {"metrics.tstr", "train.loop"}, "metrics.tstr": {"train.loop"},
             "cli.commands": {"cli.course"}, "cli.course": {"cli.commands"}, "cli": {"cli.commands"}}
    assert upward_imports(graph) == ["gan_lab.train.sgan (train) imports gan_lab.metrics.tstr (metrics)"]
    assert import_cycles(graph) == ["gan_lab.cli.commands → gan_lab.cli.course → gan_lab.cli.commands"]


@pytest.mark.parametrize("source, expected", [
    ("from ..metrics.tstr import f\n", "metrics.tstr"),
    ("def f():\n    from .. import viz\n", "viz"),
    ("from gan_lab.widgets import latent\n", "widgets.latent"),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..distributed import D\n", "distributed"),
])
def test_the_walk_sees_function_level_and_absolute_imports(monkeypatch, source, expected):
    probe = PACKAGE / "train" / "_layers_probe.py"
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: source)
    assert expected in {_resolve(m) for m in imports_of(probe)}
