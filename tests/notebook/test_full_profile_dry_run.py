"""The full profile's code paths on a machine without a GPU: every notebook executed with the
full profile's shapes (32x32 images, the 64-128-256 UNet with attention, two ResNet blocks per
level, its sweeps and budgets' structure) but a handful of images and training steps."""

from __future__ import annotations

import json

import pytest
import yaml

from mialib.core import paths
from mialib.notebook import runner

# what the dry run shrinks (images, steps, resamples, sweeps, queries per image); shapes, widths and
# attention stay the full profile's. At 32x32 the time goes into model queries, so SecMI inverts to
# t_sec = 50 (6 queries, not 11) and noise aggregation collects K = 3 noises (not 5), and the sweeps
# keep two values each, none far beyond the attack's own (a t_sec of 500 alone would be 51 queries
# per image): the code paths do not depend on how many steps a walk takes.
SHRINK = {
    "common": {"target": {"n_members": 4, "n_nonmembers": 4, "n_calibration": 2, "train_steps": 3, "batch_size": 4},
               "attacks": {"secmi_nns": {"epochs": 1, "width": 8}, "blind_baseline": {"epochs": 1, "width": 8},
                           "secmi_stat": {"t_sec": 50}, "noise_aggregation": {"K": 3}},
               "budget_steps": [1, 3]},
    "01_train_target_model": {"n_samples": 2, "sample_steps": 2},
    "02_secmi": {"n_boot": 4, "external_n_boot": 2, "t_sec_sweep": [20, 50]},
    "03_noise_aggregation": {"n_boot": 4, "n_show": 1, "K_sweep": [2, 3], "t_sweep": [40, 80], "m_sweep": [20],
                             "sigma_sweep": [0.5]},
    "04_attack_comparison": {"n_boot": 4, "K_curve": [2, 3], "k_curve": [50],
                             "tuning_grid": {"naive_loss": [100], "pia_proximal": [200], "secmi_stat": [50],
                                             "noise_aggregation": {"t": [80], "sigma": [0.1, 0.2]}}},
    "05_property_inference": {"p_grid": [0.2, 0.8], "error_sizes": [4, 8], "gmm_components": 2,
                              "setup": {"n_train": 16, "train_steps": 2, "n_queries": 1, "n_per_query": 8,
                                        "sample_steps": 2}},
    "06_fairness_poisoning": {"alphas": {"label_flip": [0.4], "mi_greedy": [0.4]}, "seeds": [0],
                              "setup": {"n_train": 24, "train_steps": 2, "n_per_class": 10, "sample_steps": 2,
                                        "n_boot": 4, "n_permutations": 9}},
    "07_text_to_image": {"model": {"vae_steps": 2, "unet_steps": 2, "batch_size": 4}, "n_members": 6,
                         "n_nonmembers": 6, "sample_prompts": ["a red digit one"], "quality_samples": 8, "n_boot": 4},
    "08_defences": {"n_boot": 4, "defences": {"steps": 2, "early_stopping": [1], "dp_epsilons": [10.0], "dp_batch_size": 4,
                                              "n_samples": 2, "sample_steps": 2, "loss_draws": 1}},
}


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(base.get(k, {}), v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


@pytest.mark.notebooks
def test_every_notebook_runs_with_the_full_profiles_shapes(tmp_path, monkeypatch):
    full = runner.load_profile(runner.profile_path("full"))
    dry = _merge(full, SHRINK)
    dry["common"]["device"] = "cpu"
    path = tmp_path / "full_dry.yaml"
    path.write_text(yaml.safe_dump(dry))
    monkeypatch.setenv("MIALIB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("MIALIB_FIGURES", str(tmp_path / "figures"))
    assert runner.main([str(path), "--no-html", "--output-dir", str(tmp_path / "executed")]) == 0
    cmp = json.loads((tmp_path / "results" / "04_attack_comparison.json").read_text())
    assert cmp["parameters"]["target"]["image_size"] == 32
    assert cmp["parameters"]["target"]["attention"] == [False, True, True]
    trained = json.loads((tmp_path / "results" / "01_train_target_model.json").read_text())
    assert trained["metrics"]["n_parameters"] > 5_000_000  # the full UNet, not the quick one
    assert paths.results_dir() == tmp_path / "results"
