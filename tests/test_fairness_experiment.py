"""The fairness-poisoning experiment on tiny settings: the pool and test set, the sharers'
selections and models, and the receiver's outcome table."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from mialib.attacks.property import PropertyReader
from mialib.data.coloured import colour_rule, coloured_population
from mialib.experiments.fairness import (EXAMPLES, FairnessData, example_rows, FairnessParams, greedy_rules_table, label_of, outcome_table,
                                         receiver_outcome, train_poisoned_models)
from mialib.experiments.property import PropertyParams
from mialib.experiments.sharing import digit_quality, train_base_model


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MIALIB_CACHE", str(tmp_path / "cache"))


def test_pool_and_test_set_have_independent_ink_and_label():
    pop = coloured_population(seed=0)
    data = FairnessData.build(pop, n_codes=4)
    for ds in (data.pool, data.test):
        s, y = ds.attributes["colour"], ds.labels
        assert abs(s[y == 1].mean() - s[y == 0].mean()) < 0.01
    assert np.array_equal(data.pool.labels, label_of(pop.grey.labels[data.pool.attributes["digit_index"]]))
    # every test digit in both inks; none of them in the sharer's pool, the reader's data or the public
    # base model's training digits; as many test digits as half the receiver's pool, and the reader has all of it
    t = data.test.attributes["digit_index"]
    assert len(t) == 2 * len(np.unique(t)) and len(np.unique(t)) == len(pop.receiver_pool) // 2
    assert not set(t) & set(data.pool.attributes["digit_index"]) and not set(t) & set(data.auxiliary.attributes["digit_index"])
    assert not set(t) & set(pop.auxiliary(both_inks=True).attributes["digit_index"])
    assert sorted(data.auxiliary.attributes["digit_index"]) == sorted(pop.receiver_pool)
    assert len(data.pool.images) + len(np.unique(t)) == len(pop.sharer_pool)
    assert np.array_equal(FairnessData.build(pop, n_codes=4).test.images, data.test.images)  # seeded


def test_tiny_end_to_end():
    pop = coloured_population(seed=0)
    data = FairnessData.build(pop, n_codes=4)
    params = FairnessParams(n_train=30, train_steps=3, base_steps=2, n_per_class=12, sample_steps=2, n_boot=5,
                            n_permutations=9)
    runs = train_poisoned_models(data, [("none", 0.0), ("mi_greedy", 0.4)], params, [0], device="cpu", progress=False)
    assert runs[1].model.num_classes == 2 and runs[1].model.record["method"] == "mi_greedy"
    # every sharer fine-tunes the public base model, the very entry notebook 05's sharers start from
    base = train_base_model(pop, PropertyParams(base_steps=2), seed=0, device="cpu", progress=False)
    assert base.from_cache and base.num_classes is None
    assert {r.model.record["fine_tuned_from"] for r in runs} == {base.key}
    scratch = train_poisoned_models(data, [("none", 0.0)], replace(params, base_steps=0), [0], device="cpu", progress=False)
    assert "fine_tuned_from" not in scratch[0].model.record and scratch[0].model.key != runs[0].model.key
    reader = PropertyReader.fit(data.auxiliary.images, data.auxiliary.attributes["colour"], seed=0)
    quality = digit_quality(pop)
    outcomes = [receiver_outcome(r, data, reader, params, quality) for r in runs]
    table = outcome_table(runs, outcomes, data)
    assert list(table.method) == ["none", "mi_greedy"]
    assert outcomes[0].quality["n_samples"] == 24 and 0.0 <= table.loc[0, "sample_precision"] <= 1.0
    assert not table.sample_quality_passes.any()  # three training steps make no digits
    assert table.loc[0, "accuracy_change"] == 0.0 and table.loc[0, "accuracy_change_ci"] == [0.0, 0.0]
    assert 0.0 <= table.loc[1, "detection_p"] <= 1.0
    assert table.loc[1, "detection_statistic_change"] == pytest.approx(
        outcomes[1].detection["statistic"] - outcomes[0].detection["statistic"]) and table.loc[0, "detection_statistic_change"] == 0
    # the colour rule's reading of the same samples (drawn again with the receiver's seed), gap by hand
    requested = np.repeat([0, 1], params.n_per_class)
    again = runs[1].model.sample(len(requested), steps=params.sample_steps, eta=params.sample_eta, class_labels=requested,
                                 guidance_scale=params.guidance_scale, generator=torch.Generator().manual_seed(0), progress=False)
    ink = colour_rule(again)
    assert table.loc[1, "detection_rule_statistic"] == pytest.approx(abs(ink[requested == 1].mean() - ink[requested == 0].mean()))
    assert 0.0 < table.loc[1, "detection_rule_p"] <= 1.0
    assert table.loc[1, "i_sy_closed_form"] == pytest.approx(1 - 0.8812908992306927, abs=1e-9)
    # samples to look at: the first ones of each label, and the blue share the colour rule reads per label
    assert torch.equal(outcomes[1].examples[1], again[requested == 1][:EXAMPLES])
    assert outcomes[1].rule_blue_share == pytest.approx({y: ink[requested == y].mean() for y in (0, 1)})
    assert abs(outcomes[1].rule_blue_share[1] - outcomes[1].rule_blue_share[0]) == pytest.approx(
        table.loc[1, "detection_rule_statistic"])
    rows = example_rows(runs, outcomes)
    assert list(rows) == [f"none: label 1 ({outcomes[0].rule_blue_share[1]:.0%} blue)",
                          f"none: label 0 ({outcomes[0].rule_blue_share[0]:.0%} blue)",
                          f"mi_greedy, alpha 0.4: label 1 ({outcomes[1].rule_blue_share[1]:.0%} blue)",
                          f"mi_greedy, alpha 0.4: label 0 ({outcomes[1].rule_blue_share[0]:.0%} blue)"]
    assert all(len(x) == EXAMPLES for x in rows.values())


def test_greedy_rules_table_sets_the_official_rule_beside_the_one_direction_rule():
    pop = coloured_population(seed=0)
    data = FairnessData.build(pop, n_codes=4)
    table = greedy_rules_table(data, FairnessParams(n_train=200), 0.4, seeds=range(4))
    assert list(table.rule) == ["all_cells"] * 4 + ["one_direction"] * 4
    one = table[table.rule == "one_direction"]
    assert (one.p_label_equals_s > 0.6).all()  # the diagonal always fills up
    allc = table[table.rule == "all_cells"]   # the official rule follows the base's lean, whichever it is
    np.testing.assert_allclose(allc.p_label_equals_s, 0.6 * allc.base_p_label_equals_s + 0.4 * (allc.base_p_label_equals_s > 0.5))
    assert (table.utility_drift.abs() < 0.1).all()


def test_poisoning_plan_puts_the_unpoisoned_sharer_first():
    from mialib.experiments.fairness import poisoning_plan
    assert poisoning_plan({"label_flip": [0.4], "mi_greedy": [0.2, 0.4]}) == [
        ("none", 0.0), ("label_flip", 0.4), ("mi_greedy", 0.2), ("mi_greedy", 0.4)]
    assert poisoning_plan({}) == [("none", 0.0)]


@pytest.mark.parametrize("alphas, match", [
    ({"flip": [0.4]}, "each method of alphas must be one of"), ({"none": [0.1]}, "each method of alphas"),
    ({"mi_greedy": 0.4}, "non-empty list"), ({"mi_greedy": []}, "non-empty list"),
    ({"mi_greedy": [1.5]}, r"each alpha of mi_greedy"), ({"mi_greedy": ["0.4"]}, "must be a number"),
    ([("mi_greedy", 0.4)], "alphas must map")])
def test_poisoning_plan_refuses_bad_alphas(alphas, match):
    from mialib.experiments.fairness import poisoning_plan
    with pytest.raises(ValueError, match=match):
        poisoning_plan(alphas)


def test_sharer_runs_add_the_verdict_seeds_at_each_methods_largest_alpha():
    from mialib.experiments.fairness import poisoning_plan, sharer_runs
    plan = poisoning_plan({"label_flip": [0.2, 0.4], "mi_greedy": [0.4, 0.1]})
    assert sharer_runs(plan, [0]) == [("none", 0.0, 0), ("label_flip", 0.2, 0), ("label_flip", 0.4, 0),
                                      ("mi_greedy", 0.4, 0), ("mi_greedy", 0.1, 0)]
    runs = sharer_runs(plan, [0], [1, 2])
    assert runs[5:] == [("none", 0.0, 1), ("label_flip", 0.4, 1), ("mi_greedy", 0.4, 1),
                        ("none", 0.0, 2), ("label_flip", 0.4, 2), ("mi_greedy", 0.4, 2)]
    assert len(sharer_runs(plan, [0, 1])) == 10
    assert sharer_runs(plan, [0, 1, 2], [1, 2]) == sharer_runs(plan, [0, 1, 2])  # already full seeds: nothing more
    assert sharer_runs(plan, [0], [1], ["mi_greedy"])[5:] == [("none", 0.0, 1), ("mi_greedy", 0.4, 1)]
    assert sharer_runs(plan, [0], [1], [])[5:] == [("none", 0.0, 1)]
    with pytest.raises(ValueError, match="verdict method"):
        sharer_runs(plan, [0], [1], ["label_flipping"])
    for seeds, verdict in [([], [1]), ([0], [1, 1]), ([0, 0], []), ([0], [-1])]:
        with pytest.raises(ValueError, match="seed"):
            sharer_runs(plan, seeds, verdict)
