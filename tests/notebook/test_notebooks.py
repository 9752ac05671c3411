"""Notebook hygiene, and a papermill smoke run of every notebook (twice, to check that the
results files are reproducible apart from timings, and that the executed copies show no stderr,
warnings or dead progress widgets)."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
from pathlib import Path

import nbformat
import pytest

from mialib.core import paths
from mialib.notebook import profiles, runner
from mialib.notebook.results import without_timings

NOTEBOOKS = runner.notebook_paths()
GALLERY_TOOL = Path(__file__).resolve().parents[2] / "tools" / "make_gallery.py"


def _gallery_tool():
    spec = importlib.util.spec_from_file_location("make_gallery", GALLERY_TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_there_are_notebooks_in_reading_order():
    names = [nb.name for nb in NOTEBOOKS]
    assert names[:9] == ["00_setup_and_data.ipynb", "01_train_target_model.ipynb", "02_secmi.ipynb",
                         "03_noise_aggregation.ipynb", "04_attack_comparison.ipynb", "05_property_inference.ipynb",
                         "06_fairness_poisoning.ipynb", "07_text_to_image.ipynb", "08_defences.ipynb"]
    assert all(re.match(r"^\d\d_[a-z0-9_]+\.ipynb$", n) for n in names)


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_clean(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, \
                f"{nb_path.name} carries outputs: run nbstripout"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_is_fully_declared_and_commented(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    lines = [ln for ln in tagged[0].source.splitlines() if ln.strip()]
    names = []
    for ln in lines:
        assert "  # " in ln, f"{nb_path.name}: parameter line without a comment: {ln!r}"
        node = ast.parse(ln).body[0]
        assert isinstance(node, ast.AnnAssign), f"{nb_path.name}: not 'name: type = value': {ln!r}"
        names.append(node.target.id)
    # papermill must parse every line (it silently skips lines it cannot parse)
    assert list(profiles.declared_parameters(nb_path)) == names
    assert "seed" in names
    # no other cell may use annotated assignments: they would count as parameters
    for c in nb.cells:
        if c.cell_type == "code" and c is not tagged[0]:
            assert not any(isinstance(n, ast.AnnAssign) for n in ast.walk(ast.parse(c.source)))


# What a notebook cell may not contain: all logic lives in mialib, with a test. A cell calls the
# library, names its results, and shows them; a mapping over a collection (one comprehension
# without a filter) is allowed, a loop, a branch, a filter, a nested comprehension, a function,
# a class, a lambda or a context manager is logic. Exercise cells (the student's own code) are exempt.
LOGIC = {ast.For: "a for loop", ast.AsyncFor: "a for loop", ast.While: "a while loop", ast.If: "an if statement",
         ast.IfExp: "a conditional expression", ast.With: "a with block", ast.Try: "a try block",
         ast.FunctionDef: "a function", ast.AsyncFunctionDef: "a function", ast.ClassDef: "a class",
         ast.Lambda: "a lambda", ast.Match: "a match statement"}


COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def logic_in(source: str) -> list[str]:
    """What in ``source`` (one code cell) is logic a notebook must leave to mialib, with its line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        what = LOGIC.get(type(node))
        if isinstance(node, ast.BoolOp):
            what = "a boolean expression"
        if isinstance(node, COMPREHENSIONS):
            inner = [n for n in ast.walk(node) if n is not node and isinstance(n, COMPREHENSIONS)]
            if len(node.generators) > 1 or inner:
                what = "a nested comprehension"
            elif node.generators[0].ifs:
                what = "a filtering comprehension"
        if what:
            found.append(f"line {node.lineno}: {what}")
    return found


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_hold_no_logic_of_their_own(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    bad = {i: logic_in(c.source) for i, c in enumerate(nb.cells)
           if c.cell_type == "code" and "exercise" not in c.metadata.get("tags", [])}
    bad = {i: found for i, found in bad.items() if found}
    assert not bad, f"{nb_path.name}: move into mialib, with a test: " + "; ".join(
        f"cell {i} {', '.join(found)}" for i, found in bad.items())


@pytest.mark.parametrize("source", [
    "for x in y:\n    f(x)", "if a:\n    b()", "x = a if b else c", "with t.counting(3) as q:\n    f()",
    "try:\n    f()\nexcept ValueError:\n    pass", "def f():\n    pass", "class A:\n    pass", "g = lambda v: v",
    "z = [a for a in b if a]", "z = {a: c for a in b for c in a}", "while True:\n    break",
    "z = {a: [v for v in b] for a in c}", "z = a and b or c"])
def test_the_guard_sees_logic(source):
    assert logic_in(source)


@pytest.mark.parametrize("source", [
    "res = evaluate(a, b, n_boot=n_boot)", "labels = {n: a.label for n, a in ATTACKS.items()}",
    "run.save_fig(figures.roc(curves), 'roc')", "table = metrics_table(res)\ntable"])
def test_the_guard_lets_library_calls_through(source):
    assert not logic_in(source)


def _run_smoke(tmp_path, monkeypatch, tag, *extra):
    out = tmp_path / tag
    monkeypatch.setenv("MIALIB_RESULTS", str(out / "results"))
    monkeypatch.setenv("MIALIB_FIGURES", str(out / "figures"))
    code = runner.main(["smoke", "--output-dir", str(out / "executed"), *extra])
    assert code == 0, "smoke run failed; see the executed notebooks under " + str(out / "executed")
    return out


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
    """The smoke profile run twice, shared by the tests that read its outputs: the first run
    trains and caches every model, the second loads them from the cache. The two run folders."""
    base = tmp_path_factory.mktemp("smoke")
    with pytest.MonkeyPatch.context() as mp:
        first = _run_smoke(base, mp, "first")
        second = _run_smoke(base, mp, "second", "--no-html")  # the first run's HTML is checked below
    return first, second


@pytest.mark.notebooks
def test_smoke_run_of_every_notebook_is_reproducible(smoke_runs, tmp_path, monkeypatch):
    first, second = smoke_runs
    for nb in NOTEBOOKS:
        a = json.loads((first / "results" / f"{nb.stem}.json").read_text())
        b = json.loads((second / "results" / f"{nb.stem}.json").read_text())
        assert a["notebook"] == nb.stem and a["seed"] == 0 and a["metrics"]
        assert without_timings(a) == without_timings(b), f"{nb.stem}: results differ between runs"
        for fig in a["figures"]:
            assert (first / "figures" / fig).stat().st_size > 0
        executed = nbformat.read(first / "executed" / nb.name, as_version=4)
        errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs
                  if o.output_type == "error"]
        assert not errors
    # the first run rendered every executed notebook to HTML, with an index linking them
    index = (first / "html" / "index.html").read_text()
    for nb in NOTEBOOKS:
        assert f'href="{nb.stem}.html"' in index and (first / "html" / f"{nb.stem}.html").stat().st_size > 0
    assert not (second / "html").exists()
    # the second run found the cached model
    assert json.loads((second / "results" / "01_train_target_model.json").read_text())["timings"]["model_from_cache"]
    secmi = json.loads((first / "results" / "02_secmi.json").read_text())
    t_sec = secmi["parameters"]["attacks"]["secmi_stat"]["t_sec"]
    assert secmi["queries_per_sample"]["secmi_stat"] == t_sec // 10 + 1
    assert 0.0 <= secmi["metrics"]["secmi_stat"]["auc"] <= 1.0
    assert paths.results_dir() != paths.repo_root() / "results"
    na = json.loads((first / "results" / "03_noise_aggregation.json").read_text())
    assert na["queries_per_sample"]["noise_aggregation"] == na["parameters"]["attacks"]["noise_aggregation"]["K"]
    assert set(na["metrics"]["ablation_metric"]) == {"l2", "l1", "centroid", "density", "hull"}
    cmp = json.loads((first / "results" / "04_attack_comparison.json").read_text())
    from mialib.attacks import ATTACKS
    assert set(cmp["metrics"]["attacks"]) == set(ATTACKS) | {"secmi_nns"}
    assert cmp["queries_per_sample"]["noise_aggregation"] == cmp["parameters"]["attacks"]["noise_aggregation"]["K"]
    prop = json.loads((first / "results" / "05_property_inference.json").read_text())
    assert set(prop["metrics"]["mean_absolute_error"]) >= {"classifier (naive)", "classifier (corrected)"}
    fair = json.loads((first / "results" / "06_fairness_poisoning.json").read_text())
    assert {r["method"] for r in fair["metrics"]["runs"]} == {"none", "label_flip", "mi_greedy"}
    t2i = json.loads((first / "results" / "07_text_to_image.json").read_text())
    assert set(t2i["metrics"]["attacks"]) == {"ground-truth caption", "empty prompt", "wrong caption"}
    budgets = cmp["metrics"]["auc_vs_training_budget"]["secmi_stat"]
    assert sorted(int(s) for s in budgets) == sorted(cmp["parameters"]["budget_steps"])
    # the committed gallery is regenerated from a run's figures, and its tables from its results
    monkeypatch.setenv("MIALIB_RESULTS", str(first / "results"))
    monkeypatch.setenv("MIALIB_FIGURES", str(first / "figures"))
    gallery = _gallery_tool()
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{gallery.README_BEGIN}\n{gallery.README_END}\n")
    assert gallery.main(["--out", str(tmp_path / "docs"), "--readme", str(readme)]) == 0
    md = (tmp_path / "docs" / "gallery.md").read_text()
    block = readme.read_text()
    assert "Results of commit(s)" in block and "#### 04 · every attack" in block and "| verdict |" in block
    for stem, _ in gallery.FIGURES:
        assert (tmp_path / "docs" / "gallery" / f"{stem}.png").stat().st_size > 0 and f"(gallery/{stem}.png)" in md
    auc = cmp["metrics"]["attacks"]["secmi_stat"]["auc"]
    assert f"| secmi_stat | {auc:.3f} [" in md
    assert "nan" not in md and prop["metrics"]["mean_absolute_error"] and "### 07" in md


KERNEL_DISPLAY_NAME = "Python 3 (mialib)"  # what the README tells the reader to pick
WIDGET = "application/vnd.jupyter.widget-view+json"
# a Python warning as printed (its "SomeWarning: message" line, or the "warnings.warn(" source
# line under it), or transformers' notice that torchvision is missing (torchvision stays uninstalled)
WARNING_TEXT = re.compile(r"\b[A-Z]\w*Warning: |warnings\.warn\(|requires torchvision")
# a tqdm bar as it was first displayed (papermill keeps a widget's first text, "desc:   0%|  | 0/1")
BAR_AT_ZERO = re.compile(r"(?<![\d.])0%\|")


def output_problems(nb) -> list[str]:
    """What an executed notebook ``nb`` shows that a reader should not see, each naming its cell
    and text: output on stderr, a Python warning, a progress widget left at 0%, or a kernel
    name other than the README's."""
    problems = []
    shown = nb.metadata.get("kernelspec", {}).get("display_name")
    if shown != KERNEL_DISPLAY_NAME:
        problems.append(f"kernelspec display_name is {shown!r}, not {KERNEL_DISPLAY_NAME!r}")
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.output_type == "stream":
                text = out.text.strip()
                if out.name == "stderr":
                    problems.append(f"cell {i}: stderr: {text[:300]!r}")
                elif WARNING_TEXT.search(text):
                    problems.append(f"cell {i}: a warning on {out.name}: {text[:300]!r}")
            elif out.output_type in ("display_data", "execute_result"):
                plain = out.get("data", {}).get("text/plain", "")
                if WIDGET in out.get("data", {}) and BAR_AT_ZERO.search(plain):
                    problems.append(f"cell {i}: a progress widget left at 0%: {plain.strip()[:120]!r}")
                elif WARNING_TEXT.search(plain):
                    problems.append(f"cell {i}: a warning in its output: {plain.strip()[:300]!r}")
    return problems


@pytest.mark.notebooks
@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_executed_notebooks_show_no_warnings_stderr_or_dead_progress_bars(smoke_runs, nb_path):
    # both runs: the first saves every model (save_pretrained's bars), the second loads them
    # (from_pretrained's); MIALIB_PROGRESS=0 here as in ./run_all.sh, so mialib's own bars are off
    problems = [f"{run.name} run, {p}" for run in smoke_runs
                for p in output_problems(nbformat.read(run / "executed" / nb_path.name, as_version=4))]
    assert not problems, f"{nb_path.name}:\n" + "\n".join(problems)


def _executed(*outputs, display_name=KERNEL_DISPLAY_NAME):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# t"),
                                         nbformat.v4.new_code_cell("x", outputs=list(outputs))])
    nb.metadata["kernelspec"] = {"display_name": display_name, "language": "python", "name": "python3"}
    return nb


def _display(plain, widget=False):
    data = {"text/plain": plain}
    if widget:
        data[WIDGET] = {"model_id": "0" * 32, "version_major": 2, "version_minor": 0}
    return nbformat.v4.new_output("display_data", data=data)


@pytest.mark.parametrize("output, found", [
    (nbformat.v4.new_output("stream", name="stderr", text="[transformers] `CLIPImageProcessor` requires torchvision "
                                                          "(not installed); falling back\n"), "cell 1: stderr"),
    (nbformat.v4.new_output("stream", name="stderr", text="There are modules in UNet2DModel that should be kept in "
                                                          "float32: [].\n"), "cell 1: stderr"),
    (nbformat.v4.new_output("stream", name="stdout", text="/x/y.py:3: FutureWarning: going away\n  warnings.warn(\n"),
     "cell 1: a warning on stdout"),
    (_display("Writing model shards:   0%|          | 0/1 [00:00<?, ?it/s]", widget=True),
     "cell 1: a progress widget left at 0%: 'Writing model shards"),
    (_display("/x/y.py:3: UserWarning: careful"), "cell 1: a warning in its output"),
])
def test_the_output_check_names_each_problem_and_its_cell(output, found):
    problems = output_problems(_executed(nbformat.v4.new_output("stream", name="stdout", text="fine\n"), output))
    assert len(problems) == 1 and problems[0].startswith(found), problems


def test_the_output_check_passes_clean_outputs_and_checks_the_kernel_name():
    clean = [nbformat.v4.new_output("stream", name="stdout", text="AUC 0.61; the warning stands for larger models\n"),
             _display("Loading weights: 100%|##########| 20/20", widget=True), _display("   auc\n0  0.5")]
    assert output_problems(_executed(*clean)) == []
    assert output_problems(_executed(*clean, display_name="Python 3 (ipykernel)")) == [
        "kernelspec display_name is 'Python 3 (ipykernel)', not 'Python 3 (mialib)'"]


def test_gallery_refuses_to_run_without_a_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MIALIB_FIGURES", str(tmp_path / "no_figures"))
    assert _gallery_tool().main(["--out", str(tmp_path / "docs"), "--readme", ""]) == 1
    assert "run ./run_all.sh first" in capsys.readouterr().err
    assert not (tmp_path / "docs").exists()
