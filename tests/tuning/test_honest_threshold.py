"""Honest CV scores: each fold scored at a threshold chosen without it (issue 12, item 7)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from uctune.calibration import fit_calibrator
from uctune.errors import ConfigError
from uctune.metrics import (
    FALLBACK_THRESHOLD,
    allowed_folds,
    classification_metrics,
    cross_fitted_metrics,
    cross_fitted_thresholds,
    f1_optimal_threshold,
    honest_objective,
)
from uctune.splits import CVScheme
from uctune.training import FitSettings, fit_and_predict, make_split, train_families, training_folds
from uctune.tuning import cv_score


def _folds(seed: int, sizes=(40, 40, 40, 40), signal: float = 1.0):
    """Folds of labels and scores that carry ``signal`` about the labels (0: pure noise)."""
    rng = np.random.default_rng(seed)
    ys, ps = [], []
    for n in sizes:
        y = (rng.random(n) < 0.25).astype(int)
        ps.append(1 / (1 + np.exp(-(signal * (2 * y - 1) + rng.normal(size=n)))))
        ys.append(y)
    return ys, ps


def test_other_folds_threshold_is_f1_optimal_on_the_other_folds_only():
    ys, ps = _folds(1)
    thresholds = cross_fitted_thresholds(ys, ps, source="other_folds")
    for k in range(len(ys)):
        others = [j for j in range(len(ys)) if j != k]
        expected = f1_optimal_threshold(
            np.concatenate([ys[j] for j in others]), np.concatenate([ps[j] for j in others])
        )
        assert thresholds[k] == pytest.approx(expected)


def test_a_folds_labels_never_move_its_own_threshold():
    ys, ps = _folds(2)
    before = cross_fitted_thresholds(ys, ps, source="other_folds")
    flipped = [y.copy() for y in ys]
    flipped[2] = 1 - flipped[2]
    after = cross_fitted_thresholds(flipped, ps, source="other_folds")
    assert after[2] == before[2]
    assert after != before  # the other folds do see fold 2's labels


def test_earlier_folds_threshold_sees_only_the_past():
    ys, ps = _folds(3)
    thresholds = cross_fitted_thresholds(ys, ps, source="earlier_folds")
    assert thresholds[0] == FALLBACK_THRESHOLD  # no earlier block: the balanced default
    assert thresholds[1] == pytest.approx(f1_optimal_threshold(ys[0], ps[0]))
    assert thresholds[3] == pytest.approx(
        f1_optimal_threshold(np.concatenate(ys[:3]), np.concatenate(ps[:3]))
    )
    # Changing a later block (labels and scores) changes no earlier block's threshold.
    later_y, later_p = [y.copy() for y in ys], [p.copy() for p in ps]
    later_y[3], later_p[3] = 1 - later_y[3], 1 - later_p[3]
    assert cross_fitted_thresholds(later_y, later_p, source="earlier_folds") == thresholds


def test_folds_with_one_class_fall_back_to_the_balanced_threshold():
    ys = [np.zeros(5, int), np.array([0, 1, 0, 1]), np.zeros(3, int)]
    ps = [np.full(5, 0.2), np.array([0.1, 0.8, 0.3, 0.6]), np.full(3, 0.4)]
    assert cross_fitted_thresholds(ys, ps, source="earlier_folds")[1] == FALLBACK_THRESHOLD
    assert f1_optimal_threshold(ys[0], ps[0]) == FALLBACK_THRESHOLD


def test_pooled_metrics_predict_each_fold_at_its_own_threshold():
    ys = [np.array([1, 0, 1, 0]), np.array([1, 0, 0])]
    ps = [np.array([0.6, 0.55, 0.3, 0.1]), np.array([0.45, 0.5, 0.2])]
    m = cross_fitted_metrics(ys, ps, [0.5, 0.4])
    # fold 1 at 0.5: 0.6 P (tp), 0.55 N (fp), 0.3 P (fn); fold 2 at 0.4: 0.45 P (tp), 0.5 N (fp)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (2, 2, 1, 2)
    assert m["f1"] == pytest.approx(2 * 2 / (2 * 2 + 2 + 1))
    assert "threshold" not in m  # there is no single one
    pooled = classification_metrics(np.concatenate(ys), np.concatenate(ps))
    assert m["roc_auc"] == pooled["roc_auc"] and m["pr_auc"] == pooled["pr_auc"]


def test_honest_objective_is_f1_at_cross_fitted_thresholds():
    ys, ps = _folds(4)
    pooled, each = honest_objective("f1", ys, ps, source="other_folds")
    thresholds = cross_fitted_thresholds(ys, ps, source="other_folds")
    assert pooled == pytest.approx(cross_fitted_metrics(ys, ps, thresholds)["f1"])
    assert each == pytest.approx(
        [f1_score(y, p >= t) for y, p, t in zip(ys, ps, thresholds, strict=True)]
    )
    with pytest.raises(ConfigError, match="got 'accuracy'"):
        honest_objective("accuracy", ys, ps)  # type: ignore[arg-type]


def test_the_in_sample_threshold_is_optimistic_and_the_honest_one_is_not():
    """On scores that know nothing of the labels, F1 at the threshold chosen on the same
    predictions beats what any rule can really reach; the honest F1 does not."""
    in_sample, honest = [], []
    for seed in range(30):
        ys, ps = _folds(seed, sizes=(30,) * 5, signal=0.0)
        y, p = np.concatenate(ys), np.concatenate(ps)
        in_sample.append(classification_metrics(y, p, f1_optimal_threshold(y, p))["f1"])
        honest.append(honest_objective("f1", ys, ps)[0])
    # Flagging every row scores F1 = 2r/(1+r) at base rate r = 0.25: 0.4. No-skill F1 stays near it.
    assert np.mean(honest) < 0.42
    assert np.mean(in_sample) > np.mean(honest) + 0.02


@pytest.fixture(scope="module")
def split(tiny_table):
    return make_split(tiny_table, seed=11)


def _folds_by_hand(tiny_table, split, cv):
    """Each fold's labels and raw out-of-fold probabilities, refitted by hand on the same folds."""
    train, y = split.train_index, tiny_table.y
    ys, ps = [], []
    for k, (a, b) in enumerate(
        training_folds(tiny_table, split, FitSettings(n_folds=3, seed=11, cv=cv))
    ):
        out = fit_and_predict(
            "lr", {}, tiny_table.X, y, train[a], train[b], fold=k, random_state=11
        )
        ys.append(y[train[b]])
        ps.append(out.proba)
    return ys, ps


@pytest.mark.parametrize("method", ["stratified", "walk_forward"])
def test_train_stage_scores_each_fold_at_a_threshold_chosen_without_it(tiny_table, split, method):
    cv = CVScheme(method=method)
    result = train_families(
        tiny_table,
        split,
        families=["lr"],
        backend="sequential",
        # the raw probabilities; calibrated: the next test
        fit=FitSettings(n_folds=3, seed=11, cv=cv, calibration="none"),
    ).results["logistic_regression"]
    # The folds' predictions, rebuilt by hand with the same folds.
    ys, ps = _folds_by_hand(tiny_table, split, cv)
    expected = cross_fitted_thresholds(ys, ps, source=cv.threshold_from)
    assert [row["threshold"] for row in result.cv_folds] == pytest.approx(expected)
    if method == "walk_forward":
        assert expected[0] == FALLBACK_THRESHOLD
        assert expected[2] == pytest.approx(
            f1_optimal_threshold(np.concatenate(ys[:2]), np.concatenate(ps[:2]))
        )
    for row, fy, fp, t in zip(result.cv_folds, ys, ps, expected, strict=True):
        assert row["f1"] == pytest.approx(classification_metrics(fy, fp, t)["f1"])
    assert result.oof == pytest.approx(cross_fitted_metrics(ys, ps, expected))
    # The model's own threshold uses every out-of-fold prediction; scoring those same predictions
    # at it is the optimistic number, kept under its own name.
    final = f1_optimal_threshold(np.concatenate(ys), np.concatenate(ps))
    assert result.threshold == pytest.approx(final)
    assert result.oof_in_sample["f1"] >= result.oof["f1"]
    summary = result.to_dict()["cv"]
    assert summary["threshold_from"] == cv.threshold_from
    assert "optimistic" in summary["oof_in_sample_is"]


@pytest.mark.parametrize("method", ["stratified", "walk_forward"])
def test_calibrated_folds_are_mapped_and_cut_without_their_own_rows(tiny_table, split, method):
    cv = CVScheme(method=method)
    result = train_families(
        tiny_table,
        split,
        families=["lr"],
        backend="sequential",
        fit=FitSettings(n_folds=3, seed=11, cv=cv, calibration="sigmoid"),
    ).results["logistic_regression"]
    ys, ps = _folds_by_hand(tiny_table, split, cv)
    # By hand: fold k's map and cut are learnt on the folds it may learn from, never on itself.
    for k, row in enumerate(result.cv_folds):
        allowed = allowed_folds(k, 3, cv.threshold_from)
        if not allowed:  # the first walk-forward block: raw probabilities, the fallback cut
            assert row["threshold"] == FALLBACK_THRESHOLD
            assert row["f1"] == pytest.approx(classification_metrics(ys[k], ps[k], 0.5)["f1"])
            continue
        y_a = np.concatenate([ys[j] for j in allowed])
        p_a = np.concatenate([ps[j] for j in allowed])
        mapping = fit_calibrator("sigmoid", p_a, y_a)
        cut = f1_optimal_threshold(y_a, mapping.predict(p_a))
        assert row["threshold"] == pytest.approx(cut)
        scores = classification_metrics(ys[k], mapping.predict(ps[k]), cut)
        assert row["f1"] == pytest.approx(scores["f1"])
        assert row["pr_auc"] == pytest.approx(scores["pr_auc"])
    # The stored model: the map fitted on every fold, the cut chosen after it.
    pooled_y, pooled_p = np.concatenate(ys), np.concatenate(ps)
    final = fit_calibrator("sigmoid", pooled_p, pooled_y)
    assert result.threshold == pytest.approx(
        f1_optimal_threshold(pooled_y, final.predict(pooled_p))
    )
    X_test = tiny_table.X.iloc[split.test_index]
    raw = result.model.estimator.raw_proba(X_test)
    np.testing.assert_allclose(result.model.predict_proba(X_test)[:, 1], final.predict(raw))


@pytest.mark.parametrize("method", ["stratified", "walk_forward"])
def test_trial_objective_equals_the_train_stage_honest_score(tiny_table, split, method):
    """A tuning trial's value is the train stage's honest out-of-fold F1 for the same params."""
    cv = CVScheme(method=method)
    trained = train_families(
        tiny_table,
        split,
        families=["lr"],
        backend="sequential",
        fit=FitSettings(n_folds=3, seed=11, cv=cv),
    ).results["logistic_regression"]
    train = split.train_index
    folds = training_folds(tiny_table, split, FitSettings(n_folds=3, seed=11, cv=cv))
    X, y = tiny_table.X.iloc[train], tiny_table.y[train]
    steps = cv_score("lr", {}, X, y, folds, fit=FitSettings(seed=11, cv=cv))
    assert steps[-1].score == pytest.approx(trained.oof["f1"])
    assert steps[-1].fold_scores == pytest.approx(tuple(r["f1"] for r in trained.cv_folds))
    if method == "walk_forward":
        # With thresholds from earlier blocks only, a fold's score is final once it is reported:
        # later blocks (the future) never revise it.
        for k, step in enumerate(steps):
            assert step.fold_scores == pytest.approx(steps[-1].fold_scores[: k + 1])
