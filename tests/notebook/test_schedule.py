"""Notebooks side by side: dependencies from the notebooks' metadata, the order they start in,
threads per job, and the runner's side-by-side mode (success, failure, bad input)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mialib.notebook import lane, runner
from mialib.notebook.schedule import (chain_ahead, check_dependencies, default_jobs, dependencies, expected_cost,
                                      next_ready, threads_per_job)

DEPS = {"00_a": [], "01_t": [], "02_x": ["01_t"], "03_y": ["01_t"], "05_z": []}


def test_the_shipped_notebooks_wait_only_for_the_target_they_attack():
    """02-04 and 08 attack 01's target (08 also reads the snapshots 01's training run saves). 06's sharers fine-tune the base model 05's sharers fine-tune too,
    but 06 does not wait for 05: whichever reaches the cached base first trains it, and the other
    waits for that one entry only (mialib.core.cache.locked), which leaves the lanes better balanced."""
    deps = {nb.stem: dependencies(nb) for nb in runner.notebook_paths()}
    check_dependencies(deps)
    assert {nb for nb, after in deps.items() if after} == {"02_secmi", "03_noise_aggregation", "04_attack_comparison",
                                                           "08_defences"}
    assert all(after == ["01_train_target_model"] for after in deps.values() if after)


def test_every_shipped_notebook_says_roughly_what_it_costs():
    assert all(expected_cost(nb) >= 100 for nb in runner.notebook_paths())


def test_the_notebook_with_the_costliest_chain_ahead_starts_first_then_reading_order():
    assert chain_ahead(DEPS) == {"00_a": 1, "01_t": 2, "02_x": 1, "03_y": 1, "05_z": 1}
    pending = list(DEPS)
    assert next_ready(pending, set(), DEPS) == "01_t"
    assert next_ready(["00_a", "02_x", "05_z"], set(), DEPS) == "00_a"
    assert next_ready(["02_x", "03_y"], set(), DEPS) is None          # 01 still running
    assert next_ready(["02_x", "03_y"], {"01_t"}, DEPS) == "02_x"
    assert next_ready(["02_x"], set(), {"02_x": ["01_t"]}) == "02_x"   # 01 not in this run (--only)
    cost = {"00_a": 1, "01_t": 30, "02_x": 5, "03_y": 20, "05_z": 45}
    assert chain_ahead(DEPS, cost)["01_t"] == 50                         # 30 + the longer of 02 and 03
    assert next_ready(pending, set(), DEPS, cost) == "01_t"
    assert next_ready(["00_a", "02_x", "03_y", "05_z"], {"01_t"}, DEPS, cost) == "05_z"


def _makespan(deps, cost, use_cost):
    """Two workers running ``deps``' notebooks, each taking its ``cost``, in the runner's order
    (by cost when ``use_cost``, else in reading order)."""
    pending, finished, running, clock = list(deps), set(), {}, 0.0
    while pending or running:
        while len(running) < 2 and (nb := next_ready(pending, finished, deps, cost if use_cost else None)):
            pending.remove(nb)
            running[nb] = clock + cost[nb]
        nb = min(running, key=running.get)
        clock = running.pop(nb)
        finished.add(nb)
    return clock


def test_a_schedule_by_cost_beats_reading_order_where_the_order_matters():
    """Two workers, the quick run's shape at d48debd (units measured then): reading order leaves
    06 and 07 for last in one lane; the critical-path order finishes sooner."""
    deps = {nb.stem: dependencies(nb) for nb in runner.notebook_paths() if nb.stem < "08"}  # the eight of that run
    then = dict(zip(sorted(deps), (124, 4792, 1165, 962, 2766, 4860, 5451, 3828)))
    assert _makespan(deps, then, True) < _makespan(deps, then, False)


def test_the_committed_estimates_schedule_close_to_an_even_split():
    deps = {nb.stem: dependencies(nb) for nb in runner.notebook_paths()}
    cost = {nb.stem: expected_cost(nb) for nb in runner.notebook_paths()}
    assert _makespan(deps, cost, True) <= 1.1 * sum(cost.values()) / 2


def test_malformed_cost_is_refused(tmp_path):
    nb = tmp_path / "02_x.ipynb"
    nb.write_text(json.dumps({"cells": [], "metadata": {"mialib": {"expected_units": "big"}}}))
    with pytest.raises(ValueError, match="expected_units must be a positive number"):
        expected_cost(nb)


@pytest.mark.parametrize("deps, match", [
    ({"a": ["b"]}, r"comes after \['b'\], which are not notebooks"),
    ({"a": ["b"], "b": ["c"], "c": ["a"]}, "cycle: a -> b -> c -> a"),
])
def test_bad_dependencies_are_refused(deps, match):
    with pytest.raises(ValueError, match=match):
        check_dependencies(deps)


def test_malformed_metadata_is_refused(tmp_path):
    nb = tmp_path / "02_x.ipynb"
    nb.write_text(json.dumps({"cells": [], "metadata": {"mialib": {"after": "01_t"}}}))
    with pytest.raises(ValueError, match="metadata.mialib.after must be a list"):
        dependencies(nb)


def test_threads_split_the_cpus_between_jobs():
    assert threads_per_job(2, cpus=2) == 1 and threads_per_job(2, cpus=16) == 8 and threads_per_job(4, cpus=2) == 1
    assert default_jobs(cpus=1) == 1 and default_jobs(cpus=2) == 2 and default_jobs(cpus=16) == 2


def _notebook(path, code, after=()):
    cells = [{"cell_type": "code", "id": "p", "metadata": {"tags": ["parameters"]}, "source": "seed: int = 0  # a seed",
              "outputs": [], "execution_count": None},
             {"cell_type": "code", "id": "c", "metadata": {}, "source": code, "outputs": [], "execution_count": None}]
    meta = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}
    if after:
        meta["mialib"] = {"after": list(after)}
    path.write_text(json.dumps({"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}))


@pytest.fixture
def tiny_repo(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "p.yaml").write_text("common:\n  seed: 0\n")
    monkeypatch.setenv("MIALIB_ROOT", str(tmp_path))
    return tmp_path


@pytest.mark.notebooks
def test_side_by_side_runs_each_after_what_it_needs_with_its_threads(tiny_repo, capsys):
    nbs = tiny_repo / "notebooks"
    _notebook(nbs / "01_t.ipynb", "import os, time; time.sleep(1); open('../t.txt', 'w').write(os.environ['OMP_NUM_THREADS'])")
    _notebook(nbs / "02_x.ipynb", "open('../x.txt', 'w').write(open('../t.txt').read())", after=["01_t"])
    _notebook(nbs / "03_y.ipynb", "open('../y.txt', 'w').write('y')")
    assert runner.main(["p", "--jobs", "2", "--no-html", "--output-dir", str(tiny_repo / "build" / "executed")]) == 0
    out = capsys.readouterr().out
    assert "up to 2 at once with" in out and out.count(".ipynb done in") == 3
    assert (tiny_repo / "x.txt").read_text() == str(threads_per_job(2))   # 02 ran after 01 wrote t.txt
    assert (tiny_repo / "y.txt").read_text() == "y"
    assert (tiny_repo / "build" / "logs" / "02_x.log").is_file()


@pytest.mark.notebooks
def test_side_by_side_reports_the_failing_notebook_and_stops_the_others(tiny_repo, capsys):
    nbs = tiny_repo / "notebooks"
    _notebook(nbs / "01_bad.ipynb", "raise ValueError('boom in the cell')")
    _notebook(nbs / "02_slow.ipynb", "import time; time.sleep(120); open('../slow.txt', 'w').write('x')")
    assert runner.main(["p", "--jobs", "2", "--no-html", "--output-dir", str(tiny_repo / "build" / "executed")]) == 1
    err = capsys.readouterr().err
    assert "FAILED 01_bad.ipynb" in err and "boom in the cell" in err
    assert not (tiny_repo / "slow.txt").exists()


def test_jobs_must_be_positive(capsys):
    assert runner.main(["smoke", "--jobs", "0"]) == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err


def test_a_lane_refuses_bad_arguments_before_starting_a_kernel(tmp_path, capsys):
    nb = tmp_path / "01_t.ipynb"
    _notebook(nb, "x = 1")
    assert lane.main([str(nb)]) == 2 and "usage:" in capsys.readouterr().err
    assert lane.main([str(nb), str(tmp_path / "out.ipynb"), str(tmp_path / "missing.json")]) == 2
    assert "cannot read the parameters of 01_t.ipynb" in capsys.readouterr().err
    bad = tmp_path / "p.json"
    bad.write_text("[1, 2]")
    assert lane.main([str(nb), str(tmp_path / "out.ipynb"), str(bad)]) == 2
    assert "a JSON object of parameters, got" in capsys.readouterr().err
    assert not (tmp_path / "out.ipynb").exists()


def test_a_lane_runs_with_the_planned_parameters_without_checking_the_profile_again(tmp_path):
    """The runner checks the profile once; its lanes import neither the attacks' settings nor
    diffusers (seconds per notebook), and the settings themselves import no diffusers."""
    params = lane.write_parameters(tmp_path / "logs" / "01_t.parameters.json", {"seed": 3})
    assert json.loads(params.read_text()) == {"seed": 3}
    cmd = lane.command(tmp_path / "01_t.ipynb", tmp_path / "out" / "01_t.ipynb", params)
    assert cmd[1:3] == ["-m", "mialib.notebook.lane"] and cmd[-1] == str(params.resolve())
    probe = ("import sys, mialib.notebook.lane, mialib.notebook.runner as r; "
             "assert not [m for m in sys.modules if m.startswith(('mialib.attacks', 'torch'))], 'lane imports too much'; "
             "import mialib.attacks.registry, mialib.experiments.membership; "
             "assert 'diffusers' not in sys.modules, 'the settings import diffusers'")
    subprocess.run([sys.executable, "-c", probe], check=True)
