"""The package's layers (docs/architecture.md, "Layers"): a module imports only its own layer and the layers below
it, never a peer or a higher one, and the subpackages import each other without a circle. Read with ``ast`` (nothing
is imported), function-local imports included; ``import endorm.methods`` (the workflow's parse time) loads no torch.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "endorm"

# Lowest first. Layers of the same rank are peers: neither may import the other.
ORDER = {
    "base": 0,  # errors, io, logs, defaults, stats, gpus: no other endorm import but each other
    "core": 1,  # the reward math, encoding, the engine, loading, generation
    "data": 2,  # sources, manifest, assets, adapters, pairs, math rows, answers
    "methods": 3,  # method names (torch-free), scoring, the judges
    "benchmarks": 4,  # metrics, DSP/Multifaceted, lm-eval, grader check, the paper's numbers
    "rl": 5,  # the TRL reward, training, the guard, controls, sharpening
    "analysis": 5,  # ablations, lengths, the token view, Theorem 2, stage stats, the speed benchmark
    "tables": 6,  # one builder per table and figure, the rehearsal's page
    "options": 7,  # config sections and command-line arguments -> the library's options
    "serve": 8,  # the HTTP server, batcher, its metrics and benchmark, the verl function
    "interface": 9,  # the command line, the three-line API, the config check, the package's lazy exports
}
SUBPACKAGES = {"core": "core", "data": "data", "methods": "methods", "benchmarks": "benchmarks", "rl": "rl",
               "analysis": "analysis", "tables": "tables", "serve": "serve", "integrations": "serve",
               "cli": "interface"}
TOP_LEVEL = {"errors": "base", "io": "base", "logs": "base", "defaults": "base", "stats": "base", "gpus": "base",
             "options": "options", "api": "interface", "configcheck": "interface",
             "__init__": "interface"}  # endorm/__init__.py: lazy exports from core and api (import_module, not parsed)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> str:
    parts = module.split(".")[1:]  # below endorm
    if not parts:
        return TOP_LEVEL["__init__"]
    if parts[0] in SUBPACKAGES:
        return SUBPACKAGES[parts[0]]
    if parts[0] in TOP_LEVEL:
        return TOP_LEVEL[parts[0]]
    raise AssertionError(f"src/endorm/{parts[0]}.py has no layer: add it to tests/test_layers.py (and to "
                         "docs/architecture.md)")


def unit_of(module: str) -> str:
    """The node of the subpackage graph: a subpackage, or a top-level module."""
    parts = module.split(".")[1:]
    return parts[0] if parts and parts[0] != "__init__" else "endorm"


def imports(path: Path, module: str, known: dict[str, Path]):
    """(line, text, imported endorm module) of every import of ``path``, at any depth (function-local too)."""
    is_package = path.name == "__init__.py"
    own = module.rsplit(".", 1)[0] if module.endswith(".__init__") else module
    package = own if is_package else own.rsplit(".", 1)[0]

    def resolve(name: str) -> str:
        # `endorm.x.y` as written -> its module (a module file, else the package's __init__)
        while name and name not in known and f"{name}.__init__" not in known:
            name = name.rsplit(".", 1)[0] if "." in name else ""
        return name

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "endorm" or alias.name.startswith("endorm."):
                    yield node.lineno, f"import {alias.name}", resolve(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target != "endorm" and not target.startswith("endorm."):
                continue
            text = f"from {'.' * node.level}{node.module or ''} import {', '.join(a.name for a in node.names)}"
            for alias in node.names:  # `from . import x`: x may be a module
                sub = f"{target}.{alias.name}"
                if sub in known or f"{sub}.__init__" in known:
                    yield node.lineno, text, sub
                else:
                    yield node.lineno, text, resolve(target)


def edges():
    known = modules()
    for module, path in known.items():
        for line, text, target in imports(path, module, known):
            yield path, line, text, module, target


def test_every_module_has_a_layer():
    for module in modules():
        assert layer_of(module) in ORDER


def test_no_module_imports_a_higher_or_peer_layer():
    bad = []
    for path, line, text, module, target in sorted(set(edges())):
        mine, theirs = layer_of(module), layer_of(target)
        if mine != theirs and ORDER[theirs] >= ORDER[mine]:
            kind = "a peer" if ORDER[theirs] == ORDER[mine] else "a higher"
            bad.append(f"{path.relative_to(SRC.parent)}:{line}: `{text}` ({mine} imports {kind} layer, {theirs})")
    assert not bad, "layer order broken:\n" + "\n".join(bad)


def test_no_import_cycle_between_subpackages():
    graph: dict[str, set[str]] = {}
    where: dict[tuple[str, str], str] = {}
    for path, line, text, module, target in edges():
        a, b = unit_of(module), unit_of(target)
        if a != b:
            graph.setdefault(a, set()).add(b)
            where.setdefault((a, b), f"{path.relative_to(SRC.parent)}:{line}: `{text}`")
    state: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(node: str, stack: list[str]):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [node, nxt] if nxt in stack else [node, nxt]
                steps = [where[(x, y)] for x, y in zip(cycle, cycle[1:]) if (x, y) in where]
                raise AssertionError(f"import cycle {' -> '.join(cycle)}:\n" + "\n".join(steps))
            if not state.get(nxt):
                visit(nxt, stack + [node])
        state[node] = 2

    for node in sorted(graph):
        if not state.get(node):
            visit(node, [])


def test_the_checker_sees_a_violation(tmp_path):
    """The walk finds function-local and relative imports (a guard against a checker that passes on nothing)."""
    known = modules()
    found = {(m, t) for _, _, _, m, t in edges()}
    assert ("endorm.core.engine", "endorm.core.reward") in found  # top-level relative import
    assert any(m.startswith("endorm.cli") and t == "endorm.data.pairs" for m, t in found)  # inside a function
    assert layer_of("endorm.serve.server") == "serve" and layer_of("endorm.integrations.verl") == "serve"
    assert "endorm.methods.__init__" in known


def test_methods_names_load_no_torch():
    """The workflow imports endorm.methods at parse time, in every job: it must not load torch."""
    code = "import endorm.methods, sys; assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "PYTHONPATH": str(SRC)})
    assert proc.returncode == 0, proc.stderr
