"""``pip install .`` gives a library that works: pyproject lists every package the library imports
(the notebook runner's in the "notebooks" extra), and the wheel carries the ``mialib`` console
script, whose ``mialib audit --help`` runs from the installed wheel.

A full install of the wheel into a fresh virtual environment, with its dependencies from the
package index, takes minutes; it runs when MIALIB_TEST_FRESH_VENV=1 is set."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OPTIONAL = {"ipywidgets"}  # imported inside try/except: tqdm's widget bar when it is there


def _imports(folder: Path) -> set[str]:
    found = set()
    for p in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m != "mialib"}


def _names(requirements) -> set[str]:
    import re
    return {re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def _distributions(modules) -> dict[str, set[str]]:
    dists = packages_distributions()
    return {m: {d.lower().replace("_", "-") for d in dists.get(m, [m])} for m in modules}


def test_pyproject_lists_every_package_the_library_imports():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core, extra = _names(project["dependencies"]), _names(project["optional-dependencies"]["notebooks"])
    library = _imports(ROOT / "mialib") - _imports(ROOT / "mialib" / "notebook") - OPTIONAL
    runner = _imports(ROOT / "mialib" / "notebook") - OPTIONAL
    missing = {m: d for m, d in _distributions(library).items() if not d & core}
    assert not missing, f"pyproject's dependencies miss {missing}"
    missing = {m: d for m, d in _distributions(runner).items() if not d & (core | extra)}
    assert not missing, f"neither the dependencies nor the notebooks extra list {missing}"


def test_the_audit_needs_nothing_of_the_notebook_runner():
    """The audit reads the runner's results helpers only; none of them imports papermill, nbformat or IPython
    at module level, so `pip install mialib` (without the extra) can run `mialib audit`."""
    code = ("import sys; import mialib.audit.run, mialib.audit.report, mialib.audit.cli; "
            "bad = [m for m in ('papermill', 'nbformat', 'nbconvert', 'IPython') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(ROOT)], check=True, capture_output=True)
    return next(out.glob("mialib-*.whl"))


def test_the_wheel_carries_the_console_script_and_it_runs(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    script = target / "bin" / "mialib"
    assert script.is_file()
    env = {**os.environ, "PYTHONPATH": str(target)}
    for args, code, says in ([["audit", "--help"], 0, "--nonmembers"], [[], 2, "usage: mialib audit"],
                             [["audit", "--model", str(tmp_path / "none"), "--members", "a", "--nonmembers", "b"], 2,
                              "mialib audit: --model: no folder"]):
        out = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, env=env, cwd=tmp_path)
        assert out.returncode == code and says in out.stdout + out.stderr, (args, out.stdout, out.stderr)
        assert "Traceback" not in out.stderr


@pytest.mark.skipif(os.environ.get("MIALIB_TEST_FRESH_VENV") != "1", reason="a fresh venv with every dependency "
                    "takes minutes; set MIALIB_TEST_FRESH_VENV=1")
def test_the_wheel_in_a_fresh_venv_audits_a_tiny_model(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True)
    make = ("import torch, numpy as np; from PIL import Image; from pathlib import Path; from diffusers import "
            "UNet2DModel, DDPMPipeline, DDPMScheduler; torch.manual_seed(0); "
            "u = UNet2DModel(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(8, 16), norm_num_groups=4, "
            "down_block_types=('DownBlock2D', 'DownBlock2D'), up_block_types=('UpBlock2D', 'UpBlock2D')); "
            "DDPMPipeline(unet=u, scheduler=DDPMScheduler()).save_pretrained('m'); "
            "from sklearn.datasets import load_digits; d = load_digits().images; "
            "[(Path(n).mkdir(exist_ok=True), [Image.fromarray((d[o + i] * 15).astype(np.uint8)).save(f'{n}/{i}.png') "
            "for i in range(30)]) for n, o in (('a', 0), ('b', 30))]")
    subprocess.run([str(venv / "bin" / "python"), "-c", make], check=True, cwd=tmp_path)
    out = subprocess.run([str(venv / "bin" / "mialib"), "audit", "--model", "m", "--members", "a", "--nonmembers", "b",
                          "--n-boot", "20", "--quiet"], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0 and "The split check" in out.stdout, out.stderr
    assert (tmp_path / "audit" / "report.html").is_file()
