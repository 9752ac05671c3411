"""Results files: one schema, reproducible apart from timings."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from mialib.notebook.results import NotebookRun, git_commit, to_jsonable, without_timings  # noqa: E402


def _fig():
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    return fig

def test_notebook_run_collects_annotated_parameters_only():
    ns = {"__annotations__": {"seed": int, "lr": float}, "seed": 3, "lr": 0.5, "np": np, "other": 1}
    run = NotebookRun.from_namespace("99_test", ns)
    assert run.parameters == {"seed": 3, "lr": 0.5} and run.seed == 3


def test_write_results_schema_and_reproducibility(tmp_path, monkeypatch):
    monkeypatch.setenv("MIALIB_RESULTS", str(tmp_path))
    monkeypatch.setenv("MIALIB_FIGURES", str(tmp_path / "fig"))
    docs = []
    for _ in range(2):
        run = NotebookRun("99_test", {"seed": 1, "sizes": (1, 2)})
        run.save_fig(_fig(), "f")
        path = run.write_results({"auc": np.float64(0.75), "t": torch.tensor([1.0]), "nan": float("nan")},
                                 queries_per_sample={"a": 11}, timings={"train_s": 1.5})
        docs.append(json.loads(path.read_text()))
    d = docs[0]
    assert path.name == "99_test.json"
    assert set(d) >= {"schema", "notebook", "parameters", "seed", "git_commit", "metrics",
                      "queries_per_sample", "figures", "timings", "versions"}
    assert d["metrics"] == {"auc": 0.75, "t": [1.0], "nan": None}
    assert d["parameters"] == {"seed": 1, "sizes": [1, 2]} and d["seed"] == 1
    assert d["figures"] == ["99_test_f.pdf", "99_test_f.png"]
    assert "wall_time_s" in d["timings"] and d["timings"]["train_s"] == 1.5
    assert d["versions"]["torch_threads"] == torch.get_num_threads()
    assert d["versions"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability() and d["versions"]["cpu"]
    assert without_timings(docs[0]) == without_timings(docs[1])
    plt.close("all")


def test_git_commit_and_jsonable():
    c = git_commit()
    assert c == "unknown" or len(c.split("+")[0]) == 40
    assert to_jsonable({"a": (np.int64(1), np.float32(2.5))}) == {"a": [1, 2.5]}



def test_dataclasses_and_number_keys_become_plain_json():
    from dataclasses import dataclass

    from mialib.notebook.results import to_jsonable

    @dataclass
    class Point:
        x: float
        n: int

    assert to_jsonable({0.1: [Point(np.float64(0.5), np.int64(3))], 250: float("nan")}) == {
        "0.1": [{"x": 0.5, "n": 3}], "250": None}


def test_start_seeds_and_lets_the_kernel_exit_without_the_last_collection(monkeypatch):
    from mialib.core import process_exit

    registered = []
    monkeypatch.setattr(process_exit, "_registered", False)
    monkeypatch.setattr(process_exit.atexit, "register", registered.append)
    ns = {"__annotations__": {"seed": int}, "seed": 5}
    NotebookRun.start("99_test", ns)  # (what it imports may register exit handlers of its own)
    assert registered.count(process_exit.gc.freeze) == 1 and torch.initial_seed() == 5
    NotebookRun.start("99_test", ns)
    assert registered.count(process_exit.gc.freeze) == 1


def test_start_shows_tables_whole():
    import pandas as pd

    pd.set_option("display.max_colwidth", 50)
    try:
        NotebookRun.start("99_test", {"__annotations__": {"seed": int}, "seed": 1})
        label = "Noise aggregation (t = 60, injection = decoupled, sigma = 0.05, m = 10, K = 5)"
        assert label in repr(pd.DataFrame({"auc": ["0.9"]}, index=[label]))
    finally:
        pd.reset_option("display.max_colwidth")
