# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The repository's import graph, read with :mod:`ast` (nothing is imported): no circular imports, libraries never
import commands, commands never import each other, and the exported bundle code imports nothing from ``scripts/``.

Every ``.py`` file of the repository (``git ls-files``: tracked and untracked but not ignored; a walk without
``.venv`` and hidden folders when git is not there) is a module named by its path (``scripts/clinical/rois.py`` is
``scripts.clinical.rois``, a package's ``__init__.py`` is the package). An edge ``a -> b`` is an import statement in
``a`` anywhere in the file (module level, inside a function, or under ``if TYPE_CHECKING``) that names the repository
module ``b``: ``import b``, ``from b import x`` (``x`` an attribute of ``b``), ``from pkg import b`` (``b`` a
submodule), relative imports resolved against ``a``'s package.

- A **command** is ``scripts/<name>.py`` with a ``main`` function or an ``if __name__ == "__main__"`` block
  (``python -m scripts.<name>``); it may import libraries, never another command.
- A **library** module is any module of ``custom_transforms/``, ``networks/`` or a package under ``scripts/``
  (``scripts/clinical/``, ``scripts/simulation/``, ...): it never imports a command. Shared code lives in a library.
- ``custom_transforms/`` and ``networks/`` are copied into the exported bundle (``scripts.bundle_tools.export``),
  so they import nothing from ``scripts/`` (or ``tests/``).
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import tempfile
import textwrap
import unittest
from collections.abc import Iterable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
#: top-level packages copied into the exported bundle.
BUNDLE_PACKAGES = ("custom_transforms", "networks")
_SKIP_DIRS = {".venv", "venv", "__pycache__", "node_modules"}


def python_files(root: Path) -> list[Path]:
    """The repository's ``.py`` files, relative to ``root``: git's view (ignored files left out) or a plain walk."""
    git = shutil.which("git")
    if git and (root / ".git").exists():
        proc = subprocess.run(
            [git, "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", "*.py"],
            cwd=root, capture_output=True, check=False,
        )
        if proc.returncode == 0:
            names = [n for n in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if n]
            return sorted(Path(n) for n in names if (root / n).is_file())
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".")]
        found += [Path(folder, f).relative_to(root) for f in files if f.endswith(".py")]
    return sorted(found)


def module_name(rel: Path) -> str:
    """``scripts/clinical/rois.py`` -> ``scripts.clinical.rois``; ``pkg/__init__.py`` -> ``pkg``."""
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, *([target] if target else [])])


def imported_modules(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The repository modules ``tree`` (the source of ``module``) imports, anywhere in the file."""
    out: set[str] = set()

    def add(name: str) -> None:
        # the longest known prefix: ``import a.b.c`` names a.b.c; ``from a.b import f`` (f a function) names a.b
        parts = name.split(".")
        for n in range(len(parts), 0, -1):
            candidate = ".".join(parts[:n])
            if candidate in known:
                out.add(candidate)
                return

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = _resolve_relative(module, is_package, node.level, node.module)
            for alias in node.names:
                sub = f"{base}.{alias.name}" if base else alias.name
                if sub in known:  # ``from pkg import submodule``
                    out.add(sub)
                elif base:
                    add(base)
    out.discard(module)
    return out


def is_command(rel: Path, tree: ast.AST) -> bool:
    """``scripts/<name>.py`` with a ``main`` function or an ``if __name__ == "__main__"`` block."""
    if len(rel.parts) != 2 or rel.parts[0] != "scripts" or rel.name == "__init__.py":
        return False
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "main":
            return True
        if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test) and "__name__" in ast.unparse(node.test):
            return True
    return False


def is_library(module: str, commands: set[str]) -> bool:
    """Modules of ``custom_transforms/``, ``networks/`` and of the packages under ``scripts/``."""
    parts = module.split(".")
    if parts[0] in BUNDLE_PACKAGES:
        return True
    in_package = len(parts) >= 2 and f"scripts.{parts[1]}" not in commands
    return parts[0] == "scripts" and in_package and module not in commands


class ImportGraph:
    """Modules, commands and import edges of the Python files under ``root``."""

    def __init__(self, root: Path, files: Iterable[Path] | None = None) -> None:
        self.root = root
        files = list(files) if files is not None else python_files(root)
        self.paths = {module_name(rel): rel for rel in files}
        trees = {m: ast.parse((root / rel).read_bytes(), filename=str(rel)) for m, rel in self.paths.items()}
        known = set(self.paths)
        self.commands = {m for m, t in trees.items() if is_command(self.paths[m], t)}
        self.edges = {
            m: imported_modules(t, m, self.paths[m].name == "__init__.py", known) for m, t in trees.items()
        }

    def cycles(self) -> list[list[str]]:
        """Strongly connected components of more than one module (Tarjan), each sorted; sorted by first module."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        found: list[list[str]] = []
        counter = [0]

        def visit(v: str) -> None:  # recursion depth is the longest import chain: a few tens at most
            index[v] = low[v] = counter[0]
            counter[0] += 1
            stack.append(v)
            on_stack.add(v)
            for w in sorted(self.edges.get(v, ())):
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

        for v in sorted(self.edges):
            if v not in index:
                visit(v)
        return sorted(found)

    def cycle_path(self, component: list[str]) -> str:
        """One circular chain inside ``component``, e.g. ``a -> b -> a`` (for the failure message)."""
        members = set(component)
        start = component[0]
        path, seen = [start], {start}
        while True:
            nxt = sorted(w for w in self.edges[path[-1]] if w in members)
            back = [w for w in nxt if w == start]
            if back and len(path) > 1:
                return " -> ".join([*path, start])
            step = next((w for w in nxt if w not in seen), None)
            if step is None:
                return " -> ".join([*path, nxt[0]]) if nxt else " <-> ".join(component)
            path.append(step)
            seen.add(step)

    def violations(self) -> dict[str, list[str]]:
        """Edges that break a rule, ``"a -> b (a.py)"`` per rule."""
        out: dict[str, list[str]] = {"library imports command": [], "command imports command": [],
                                     "bundle code imports scripts/tests": []}
        for a, targets in sorted(self.edges.items()):
            for b in sorted(targets):
                edge = f"{a} -> {b} ({self.paths[a]})"
                if b in self.commands and is_library(a, self.commands):
                    out["library imports command"].append(edge)
                if b in self.commands and a in self.commands:
                    out["command imports command"].append(edge)
                if a.split(".")[0] in BUNDLE_PACKAGES and b.split(".")[0] in ("scripts", "tests"):
                    out["bundle code imports scripts/tests"].append(edge)
        return out


class TestRepositoryImportGraph(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.graph = ImportGraph(REPO_ROOT)

    def test_the_graph_sees_the_repository(self):
        # guards against a walk that finds nothing (then every rule would pass vacuously)
        self.assertIn("custom_transforms.errors", self.graph.paths)
        self.assertIn("scripts.renal_function", self.graph.commands)
        self.assertIn("scripts.simulate", self.graph.commands)
        self.assertNotIn("scripts.simulation.batch", self.graph.commands)
        self.assertIn("scripts.simulation.batch", self.graph.edges["scripts.simulate"])

    def test_no_circular_imports(self):
        chains = [self.graph.cycle_path(c) for c in self.graph.cycles()]
        self.assertEqual(chains, [], "circular imports:\n" + "\n".join(chains))

    def test_no_library_imports_a_command(self):
        found = self.graph.violations()["library imports command"]
        self.assertEqual(found, [], "move the shared code into a library package:\n" + "\n".join(found))

    def test_no_command_imports_another_command(self):
        found = self.graph.violations()["command imports command"]
        self.assertEqual(found, [], "move the shared code into a library package:\n" + "\n".join(found))

    def test_bundle_code_imports_nothing_from_scripts(self):
        found = self.graph.violations()["bundle code imports scripts/tests"]
        self.assertEqual(found, [], "the exported bundle would not be self-contained:\n" + "\n".join(found))


class TestImportGraphChecks(unittest.TestCase):
    """The checks on a small made-up repository, so that a broken analysis cannot pass silently."""

    FILES = {
        "custom_transforms/__init__.py": "",
        "custom_transforms/a.py": "from custom_transforms.b import f\n",
        "custom_transforms/b.py": "def f():\n    from . import a\n",  # a lazy import still closes a cycle
        "networks/__init__.py": "from .net import Net\n",
        "networks/net.py": "import scripts.tool\nclass Net: ...\n",
        "scripts/__init__.py": "",
        "scripts/lib/__init__.py": "",
        "scripts/lib/core.py": "def run():\n    from scripts import tool\n",
        "scripts/tool.py": "from scripts.lib.core import run\ndef main(): ...\n",
        "scripts/other.py": "import scripts.tool as t\nif __name__ == '__main__':\n    t.main()\n",
        "scripts/helpers.py": "from scripts.lib import core\n",  # no main: not a command
    }

    def setUp(self) -> None:
        tmp = tempfile.mkdtemp(prefix="import_graph_")
        self.addCleanup(shutil.rmtree, tmp, True)
        self.root = Path(tmp)
        for rel, text in self.FILES.items():
            (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.root / rel).write_text(textwrap.dedent(text))
        self.graph = ImportGraph(self.root, [Path(p) for p in self.FILES])

    def test_commands_and_edges(self):
        self.assertEqual(self.graph.commands, {"scripts.tool", "scripts.other"})
        self.assertEqual(self.graph.edges["custom_transforms.b"], {"custom_transforms.a"})
        self.assertEqual(self.graph.edges["networks"], {"networks.net"})
        self.assertEqual(self.graph.edges["scripts.helpers"], {"scripts.lib.core"})

    def test_cycles_are_found_with_a_chain(self):
        self.assertEqual(
            self.graph.cycles(),
            [["custom_transforms.a", "custom_transforms.b"], ["scripts.lib.core", "scripts.tool"]],
        )
        self.assertEqual(self.graph.cycle_path(self.graph.cycles()[0]),
                         "custom_transforms.a -> custom_transforms.b -> custom_transforms.a")

    def test_rule_violations_are_named(self):
        found = self.graph.violations()
        self.assertEqual(found["library imports command"], [
            "networks.net -> scripts.tool (networks/net.py)",
            "scripts.lib.core -> scripts.tool (scripts/lib/core.py)",
        ])
        self.assertEqual(found["command imports command"], ["scripts.other -> scripts.tool (scripts/other.py)"])
        self.assertEqual(found["bundle code imports scripts/tests"], ["networks.net -> scripts.tool (networks/net.py)"])


if __name__ == "__main__":
    unittest.main()
