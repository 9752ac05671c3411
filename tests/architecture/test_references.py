"""Names the prose points at exist: every ``mialib.x.y`` named in the docs, the README, the
profiles, the notebooks and the library's own docstrings imports, and every test or file path
``docs/`` and the README cite (``diffusion/test_trained.py::test_name``) is there. A rename that
leaves a stale pointer behind fails here, naming the file that still points at the old name."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROSE = sorted([*REPO.glob("docs/*.md"), REPO / "README.md", *REPO.glob("params/*.yaml"), *REPO.glob("notebooks/*.ipynb"),
                *REPO.glob("mialib/**/*.py")])
DOTTED = re.compile(r"(?<![\w.])mialib(?:\.[A-Za-z_]\w*)+")
PATH = re.compile(r"(?<![\w./-])((?:[a-z_]+/)*[a-z_]+\.py)(?:::(\w+))?")


def resolves(dotted: str) -> bool:
    """Whether ``dotted`` is an importable module or an attribute reached from one."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_the_resolver_can_fail():
    assert resolves("mialib.experiments.membership.TargetParams")
    assert not resolves("mialib.experiment.TargetParams") and not resolves("mialib.attacks.NoSuchAttack")


@pytest.mark.parametrize("path", PROSE, ids=lambda p: str(p.relative_to(REPO)))
def test_every_mialib_name_in_the_prose_exists(path):
    names = sorted({m.rstrip(".") for m in DOTTED.findall(path.read_text())})
    stale = [n for n in names if not resolves(n)]
    assert not stale, f"{path.relative_to(REPO)} names {stale}, which do not exist"


def _cited_file(rel: str) -> Path | None:
    for base in (REPO, REPO / "tests", REPO / "benchmarks", REPO / "tools"):
        if (base / rel).is_file():
            return base / rel
    return None


@pytest.mark.parametrize("path", sorted([*REPO.glob("docs/*.md"), REPO / "README.md"]), ids=lambda p: p.name)
def test_every_file_and_test_the_docs_cite_exists(path):
    missing = []
    for rel, test in PATH.findall(path.read_text()):
        found = _cited_file(rel)
        if found is None:
            missing.append(rel)
        elif test and not re.search(rf"^def {test}\(", found.read_text(), re.M):
            missing.append(f"{rel}::{test}")
    assert not missing, f"{path.name} cites {missing}, which do not exist"
