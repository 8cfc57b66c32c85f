"""The seed's neural network: scikit-learn's own estimator checks, and what the seed promises of it."""

from __future__ import annotations

import io
import math

import joblib
import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.utils.estimator_checks import parametrize_with_checks
from torch import nn

from uctune.models import NeuralNetworkClassifier

# Small and quick to train, yet able to pass the checks' accuracy thresholds.
_CHECKED = NeuralNetworkClassifier(
    hidden_units=(16,), batch_size=32, learning_rate=1e-2, max_epochs=30, random_state=0
)


@parametrize_with_checks(
    [_CHECKED],
    expected_failed_checks=lambda estimator: dict(type(estimator).conformance_excuses),
    xfail_strict=True,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def rare_positives() -> tuple[np.ndarray, np.ndarray]:
    """500 rows, about 10 % positives, as in the upper-circuit table."""
    X, y = make_classification(
        n_samples=500, n_features=8, n_informative=4, weights=[0.9], flip_y=0.02, random_state=0
    )
    return X, y


def _small(**params) -> NeuralNetworkClassifier:
    defaults = {"hidden_units": (16, 8), "batch_size": 64, "max_epochs": 8, "random_state": 0}
    return NeuralNetworkClassifier(**{**defaults, **params})


def test_default_architecture_is_the_seeds(rare_positives):
    X, y = rare_positives
    model = NeuralNetworkClassifier(dropout=0.3, max_epochs=2, random_state=0).fit(X, y)
    layers = list(model.net_.module_.modules())
    linear = [m for m in layers if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linear] == [128, 64, 32, 2]
    assert linear[0].in_features == X.shape[1]
    # Every hidden layer is normalised, rectified and dropped out.
    assert [m.num_features for m in layers if isinstance(m, nn.BatchNorm1d)] == [128, 64, 32]
    assert sum(isinstance(m, nn.ReLU) for m in layers) == 3
    assert [m.p for m in layers if isinstance(m, nn.Dropout)] == [0.3, 0.3, 0.3]
    assert isinstance(model.net_.optimizer_, torch.optim.Adam)


def test_early_stopping_holds_out_a_slice_of_the_fit_rows(rare_positives):
    X, y = rare_positives
    model = _small(max_epochs=200, patience=3).fit(X, y)
    n_valid = math.ceil(0.1 * len(y))
    for epoch in model.net_.history:
        batches = epoch["batches"]
        trained = sum(b["train_batch_size"] for b in batches if "train_batch_size" in b)
        validated = sum(b["valid_batch_size"] for b in batches if "valid_batch_size" in b)
        # The net learns from 90 % of the rows it was given and stops on the other 10 %: no rows
        # but fit's own are in play, and the validation rows are never trained on.
        assert (trained, validated) == (len(y) - n_valid, n_valid)
    # It stopped early, and n_iter_ counts the epochs it ran.
    assert model.n_iter_ == len(model.net_.history) < 200
    losses = model.net_.history[:, "valid_loss"]
    assert min(losses) < losses[-1]


def test_the_best_epochs_weights_are_kept(rare_positives):
    X, y = rare_positives
    model = _small(max_epochs=200, patience=3).fit(X, y)
    best = int(np.argmin(model.net_.history[:, "valid_loss"]))
    assert model.net_.history[:, "valid_loss_best"][best]
    assert best < model.n_iter_ - 1  # the last epochs were worse, and were discarded


def test_class_weighting_changes_the_loss(rare_positives):
    X, y = rare_positives
    balanced = _small(max_epochs=60, learning_rate=1e-2).fit(X, y)
    plain = _small(max_epochs=60, learning_rate=1e-2, class_weight=None).fit(X, y)
    weight = balanced.net_.criterion_.weight
    assert plain.net_.criterion_.weight is None
    # "balanced": each class weighs inversely to its frequency, so a positive counts ~9 negatives.
    assert float(weight[1] / weight[0]) == pytest.approx((y == 0).sum() / (y == 1).sum(), rel=0.1)
    logits = torch.tensor([[0.0, 2.0], [0.0, 2.0]])  # both rows lean positive
    targets = torch.tensor([1, 0])
    per_row = nn.functional.cross_entropy(logits, targets, reduction="none")
    w = weight[targets]
    assert float(balanced.net_.criterion_(logits, targets)) == pytest.approx(
        float((w * per_row).sum() / w.sum())
    )
    assert float(plain.net_.criterion_(logits, targets)) == pytest.approx(float(per_row.mean()))
    # A net that weighs the rare class up predicts it far more often than one that does not.
    assert balanced.predict_proba(X)[:, 1].mean() > 2 * plain.predict_proba(X)[:, 1].mean()


def test_a_seed_fixes_the_fit(rare_positives):
    X, y = rare_positives
    first = _small(random_state=7).fit(X, y)
    again = _small(random_state=7).fit(X, y)
    other = _small(random_state=8).fit(X, y)
    np.testing.assert_array_equal(first.predict_proba(X), again.predict_proba(X))
    assert first.n_iter_ == again.n_iter_
    assert not np.allclose(first.predict_proba(X), other.predict_proba(X))


def test_torch_threads_are_the_fits_share_and_restored(rare_positives):
    X, y = rare_positives
    before = torch.get_num_threads()
    model = _small(n_jobs=1).fit(X, y)
    assert model.n_jobs == 1
    assert torch.get_num_threads() == before  # torch's pool is global: a fit must not keep it


def test_pickled_model_predicts_the_same_and_holds_no_training_rows(rare_positives):
    X, y = rare_positives
    model = _small().fit(X, y)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    loaded = joblib.load(buffer)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.net_.train_split is None


def test_predict_proba_is_two_columns_for_the_binary_task(rare_positives):
    X, y = rare_positives
    model = _small().fit(X, y.astype(bool))
    proba = model.predict_proba(X[:5])
    assert proba.shape == (5, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert model.classes_.tolist() == [False, True]
    assert model.n_features_in_ == X.shape[1]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"dropout": 1.5}, r"dropout must be in \[0, 1\), got 1.5"),
        ({"hidden_units": ()}, r"hidden_units must be one or more positive layer widths, got \(\)"),
        ({"class_weight": "equal"}, r"class_weight must be 'balanced'.*, got 'equal'"),
    ],
)
def test_bad_parameters_name_the_rule_and_the_value(params, message, rare_positives):
    X, y = rare_positives
    with pytest.raises(ValueError, match=message):
        _small(**params).fit(X, y)


def test_too_few_rows_of_a_class_for_the_validation_slice():
    X = np.arange(20, dtype=float).reshape(10, 2)
    y = np.array([0] * 9 + [1])
    with pytest.raises(
        ValueError, match=r"at least 2 rows of each class.*got class counts \[9, 1\]"
    ):
        _small().fit(X, y)


def test_dropout_drops_p_of_the_units_and_rescales_the_rest():
    from uctune.models._network import _Dropout

    dropout = _Dropout(0.3, np.random.default_rng(0))
    X = torch.ones(1000, 200)
    out = dropout(X)
    kept = out != 0
    # Each unit is dropped with probability p: 200,000 draws put the rate within 0.001 of 0.3 (1 sd)
    assert float(1 - kept.float().mean()) == pytest.approx(0.3, abs=0.005)
    # and the survivors are scaled by 1 / (1 - p), so a unit's expected output is its input.
    assert torch.allclose(out[kept], torch.full_like(out[kept], 1 / 0.7))
    assert not torch.equal(dropout(X), out)  # a new mask each step
    dropout.eval()
    assert dropout(X) is X
