"""The package's layout rules, read from the source (nothing is imported):

* ``vae_np.nn`` (the taught engine) and ``vae_np.prob`` never import ``vae_np.fast`` or numba,
  directly or through another module of the package;
* no import circles between the package's modules;
* no module is longer than 400 lines.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "vae_np"
MAX_LINES = 400


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name, path):
    """Every module that ``name`` imports anywhere in its file (package-internal ones resolved)."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            names = [f"{target}.{alias.name}" for alias in node.names]
            submodules = [m for m in names if m in MODULES]    # `from . import submodule`
            found.update(submodules)
            if len(submodules) < len(names):                   # names defined in `target`
                found.add(target)
    found.discard(name)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _reachable(start):
    """Modules (internal and external) that ``start`` reaches through internal imports."""
    seen, todo = set(), [start]
    while todo:
        for target in GRAPH.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                if target in GRAPH:
                    todo.append(target)
    return seen


def test_the_graph_is_read():
    assert "vae_np.nn.vae" in MODULES and "vae_np.fast.step" in MODULES
    assert "vae_np.nn" in GRAPH["vae_np.fast.step"]
    assert "numba" in _reachable("vae_np.fast.step")


@pytest.mark.parametrize("name", [m for m in MODULES if m.startswith(("vae_np.nn", "vae_np.prob"))])
def test_nn_and_prob_never_reach_fast_or_numba(name):
    bad = sorted(m for m in _reachable(name)
                 if m.split(".")[0] == "numba" or m.startswith("vae_np.fast") or m == "vae_np")
    assert not bad, f"{name} reaches {bad}"


def test_no_import_circles():
    internal = {name: {t for t in targets if t in GRAPH} for name, targets in GRAPH.items()}
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in internal[node]:
            if state.get(target) == "open":
                circle = stack[stack.index(target):] + [target]
                raise AssertionError("import circle: " + " -> ".join(circle))
            if target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in internal:
        if node not in state:
            visit(node)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_too_long(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it by concern"
