"""The folders of mialib are the data flow, and each layer imports only the layers below it:

    core -> data -> defences -> diffusion -> attacks -> evaluation -> experiments -> notebook -> audit

(``mialib/__init__.py`` holds only the version, which any module may read). An import that points
upward, e.g. ``attacks`` importing ``evaluation``, fails this test, naming the module and line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "mialib"
LAYERS = ("core", "data", "defences", "diffusion", "attacks", "evaluation", "experiments", "notebook", "audit")
# top-level modules that are deliberate public names, not layers: what they may import
FACADES = {"metrics": {"evaluation"}}


def _module_name(path: Path, root: Path = ROOT) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def mialib_imports(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import of a mialib module in the file at ``path``,
    relative imports resolved against the file's package, including imports inside functions."""
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "mialib"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.split(".")[0] != "mialib":
                continue
            if name == "mialib" or (node.level and not node.module):
                # "from .. import x" / "from . import x": each name may itself be a module
                out += [(node.lineno, f"{name}.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, name))
    return out


def layer_of(module: str) -> str | None:
    """The layer a mialib module belongs to (None for the root package's version)."""
    parts = module.split(".")
    if len(parts) < 2:
        return None
    return parts[1]


def upward_imports(path: Path, root: Path = ROOT) -> list[str]:
    """Human-readable violations of the layer order in one file of the package at ``root``."""
    own = layer_of(_module_name(path, root))
    where = path.relative_to(root.parent)
    bad = []
    for line, target in mialib_imports(path, root):
        other = layer_of(target)
        if other is None or other == own or other == "__version__":
            continue
        if own in FACADES:
            ok = other in FACADES[own]
        elif own not in LAYERS:
            bad.append(f"{where}: mialib.{own} is neither a layer nor a declared facade")
            break
        elif other not in LAYERS:
            ok = False
        else:
            ok = LAYERS.index(other) < LAYERS.index(own)
        if not ok:
            bad.append(f"{where}:{line}: {own} imports {target} ({other} is not below {own})")
    return bad


MODULES = sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts and p != ROOT / "__init__.py")


def test_every_module_sits_in_a_layer_or_a_declared_facade():
    stray = sorted({layer_of(_module_name(p)) for p in MODULES} - set(LAYERS) - set(FACADES))
    assert not stray, f"mialib.{stray} are neither layers {LAYERS} nor declared facades {sorted(FACADES)}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_only_point_down(path):
    assert not upward_imports(path)


def test_the_root_package_imports_nothing_of_its_own():
    """``import mialib`` must stay cheap and cycle-free: the root holds only the version."""
    assert not mialib_imports(ROOT / "__init__.py")


def test_the_checker_sees_an_upward_import(tmp_path):
    """A planted upward import (relative, absolute, and one inside a function) is reported; downward
    and same-layer imports and the version are not."""
    pkg = tmp_path / "mialib"
    (pkg / "attacks").mkdir(parents=True)
    f = pkg / "attacks" / "planted.py"
    for text in ("from ..evaluation.metrics import evaluate\n", "import mialib.experiments.membership\n",
                 "def f():\n    from .. import notebook\n"):
        f.write_text(text)
        assert upward_imports(f, pkg), text
    f.write_text("from ..diffusion.target import DiffusionTarget\nfrom .. import __version__\nfrom . import config\n"
                 "from ..core import paths\n")
    assert not upward_imports(f, pkg)


@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_docstring_names_all_its_modules(layer):
    """A layer's ``__init__`` docstring is its table of contents: it names every module in it (as
    ``:mod:`.name```), so a new reader finds each module from the package."""
    doc = ast.get_docstring(ast.parse((ROOT / layer / "__init__.py").read_text())) or ""
    modules = sorted(p.stem for p in (ROOT / layer).glob("*.py") if p.stem != "__init__")
    missing = [m for m in modules if f":mod:`.{m}`" not in doc]
    assert not missing, f"mialib/{layer}/__init__.py's docstring does not name {missing}"
