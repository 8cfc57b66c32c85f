"""scikit-learn's own conformance suite over every estimator and transformer uctune defines.

Each check a class is excused from is named, with its reason, in the class's ``conformance_excuses``;
the excuses are strict (a check that starts passing fails here, so the list stays true). The network
is checked with the network (its family's model is excluded below).
"""

from __future__ import annotations

import importlib
import pickle
import pkgutil

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import parametrize_with_checks

import uctune
from uctune.models import (
    SPECS,
    CalibratedClassifier,
    CategoryEncoder,
    EnsembleClassifier,
    EnsembleThresholdClassifier,
    NeuralNetworkThresholdClassifier,
    ThresholdedClassifier,
)

NETWORK = "neural_network"


def _family_model(name: str, **params: object) -> BaseEstimator:
    """The family's own classifier (its pipeline's ``model`` step) as the zoo builds it; 20 trees
    keep the suite fast without changing what is checked."""
    spec = SPECS[name]
    trees = {"n_estimators": 20} if "n_estimators" in spec.defaults else {}
    return spec.build({**trees, **params})["model"]


ESTIMATORS = [
    CategoryEncoder(),
    CalibratedClassifier(LogisticRegression(), cv=3),
    EnsembleClassifier(
        [("linear", LogisticRegression()), ("tree", DecisionTreeClassifier(max_depth=3))], cv=3
    ),
    EnsembleThresholdClassifier(LogisticRegression()),
    ThresholdedClassifier(LogisticRegression()),
    *(SPECS[name].threshold_class(_family_model(name)) for name in SPECS if name != NETWORK),
    # The wrapper's own contract; the network inside it is checked with the network.
    NeuralNetworkThresholdClassifier(LogisticRegression()),
    # The boosters a search builds (early stopping on a slice of their rows), checked alone.
    *(
        _family_model(name, early_stopping_rounds=5)
        for name in SPECS
        if "early_stopping_rounds" in SPECS[name].defaults
    ),
    # A bag of them: three members, each stopping on the fold it does not see.
    _family_model("xgboost", early_stopping_rounds=5, n_bags=3),
]


def _excuses(estimator: BaseEstimator) -> dict[str, str]:
    return dict(type(estimator).conformance_excuses)


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_excuses, xfail_strict=True)
def test_scikit_learn_conformance(estimator, check):
    check(estimator)


def test_every_estimator_uctune_defines_is_checked():
    defined = set()
    for info in pkgutil.walk_packages(uctune.__path__, "uctune."):
        if info.name.endswith("__main__"):  # runs the CLI on import
            continue
        module = importlib.import_module(info.name)
        defined |= {
            obj
            for obj in vars(module).values()
            if isinstance(obj, type)
            and issubclass(obj, BaseEstimator)
            and obj.__module__.startswith("uctune.")
        }
    # The network and the skorch net it drives inside fit: tests/models/test_network.py.
    network = {type(_family_model(NETWORK))} | {
        obj for obj in defined if obj.__module__ == type(_family_model(NETWORK)).__module__
    }
    assert defined - network <= {type(e) for e in ESTIMATORS}
    assert {type(e) for e in ESTIMATORS} >= {spec.threshold_class for spec in SPECS.values()}


def test_every_excuse_names_a_check_with_a_reason():
    for estimator in ESTIMATORS:
        for check, reason in _excuses(estimator).items():
            assert check.startswith("check_") and len(reason) > 20, (type(estimator), check)


# CategoryEncoder: what the zoo relies on, and the properties of the excused checks, compared as
# frames (the checks compare numbers).


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    sector = pd.Categorical(rng.choice(np.array(["Banks", "IT", "Pharma", None]), size=40))
    return pd.DataFrame(
        {"sector": sector, "grade": rng.choice([1, 2, 3], size=40)},
        index=pd.RangeIndex(100, 140),
    )


def test_category_encoder_fixes_categories_at_fit(frame):
    encoder = CategoryEncoder().fit(frame)
    assert encoder.n_features_in_ == 2
    assert list(encoder.feature_names_in_) == ["sector", "grade"]
    assert encoder.categories_ == [["Banks", "IT", "Pharma"], ["1", "2", "3"]]
    new = pd.DataFrame(
        {"sector": ["IT", "Space Mining", None], "grade": ["3", 4, np.nan]}, index=[7, 8, 9]
    )
    out = encoder.transform(new)
    assert list(out.columns) == ["sector", "grade"] and list(out.index) == [7, 8, 9]
    for col, cats in zip(out.columns, encoder.categories_, strict=True):
        assert isinstance(out[col].dtype, pd.CategoricalDtype)
        assert list(out[col].cat.categories) == cats
    # Unseen (and missing) values are missing, never another category's code.
    assert out["sector"].tolist()[0] == "IT" and out["sector"].isna().tolist() == [
        False,
        True,
        True,
    ]
    assert out["grade"].tolist()[0] == "3" and out["grade"].isna().tolist() == [False, True, True]
    assert list(encoder.get_feature_names_out()) == ["sector", "grade"]


def test_category_encoder_keeps_the_excused_checks_properties(frame):
    def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
        pd.testing.assert_frame_equal(a, b)

    encoder = CategoryEncoder().fit(frame)
    whole = encoder.transform(frame)
    # check_transformer_general / check_pipeline_consistency: fit_transform, a clone, a refit.
    same(CategoryEncoder().fit_transform(frame), whole)
    same(clone(encoder).fit(frame).transform(frame), whole)
    # check_fit_idempotent: a refit forgets the earlier fit.
    other = frame.assign(sector=pd.Categorical(["Auto"] * len(frame)))
    same(CategoryEncoder().fit(other).fit(frame).transform(frame), whole)
    # check_estimators_pickle.
    same(pickle.loads(pickle.dumps(encoder)).transform(frame), whole)
    # check_methods_subset_invariance / check_methods_sample_order_invariance.
    same(encoder.transform(frame.iloc[10:20]), whole.iloc[10:20])
    order = np.random.default_rng(1).permutation(len(frame))
    same(encoder.transform(frame.iloc[order]), whole.iloc[order])
    # check_transformer_data_not_an_array: a list of rows is read as the array it holds.
    rows = frame.astype(object).to_numpy()
    from_array = CategoryEncoder().fit(rows).transform(rows)
    from_list = CategoryEncoder().fit(rows.tolist()).transform(rows.tolist())
    same(from_list, from_array)
    assert list(from_array.columns) == ["x0", "x1"]
    assert from_array.astype(object).where(from_array.notna(), None).values.tolist() == (
        whole.astype(object).where(whole.notna(), None).values.tolist()
    )


def test_an_encoder_saved_before_n_features_in_still_transforms(frame):
    encoder = CategoryEncoder().fit(frame)
    # The state the encoder pickled before this class set n_features_in_.
    old = CategoryEncoder()
    old.__dict__.update(
        feature_names_in_=encoder.feature_names_in_, categories_=encoder.categories_
    )
    loaded = pickle.loads(pickle.dumps(old))
    assert loaded.n_features_in_ == 2
    pd.testing.assert_frame_equal(loaded.transform(frame), encoder.transform(frame))


def _rows(frame: pd.DataFrame) -> np.ndarray:
    return frame.to_numpy(dtype=object)


@pytest.mark.parametrize(
    ("fit_on", "bad", "error", "match"),
    [
        (
            None,
            lambda f: f[["sector"]],
            ValueError,
            "Feature names seen at fit time, yet now missing",
        ),
        (None, lambda f: f.rename(columns={"grade": "rating"}), ValueError, "should match"),
        (
            None,
            lambda f: f.iloc[:0],
            ValueError,
            r"needs at least 1 row and 1 column, got \(0, 2\)",
        ),
        (_rows, lambda f: _rows(f)[:, :1], ValueError, "X has 1 features, but .* is expecting 2"),
        (_rows, lambda f: sp.csr_matrix(np.ones((3, 2))), TypeError, "Sparse data was passed"),
        (_rows, lambda f: _rows(f)[:, 0], ValueError, "Expected 2D array, got 1D array"),
    ],
)
def test_category_encoder_refuses_bad_input(frame, fit_on, bad, error, match):
    encoder = CategoryEncoder().fit(frame if fit_on is None else fit_on(frame))
    with pytest.raises(error, match=match):
        encoder.transform(bad(frame))


def test_category_encoder_refuses_an_empty_fit(frame):
    with pytest.raises(ValueError, match="needs at least 1 row"):
        CategoryEncoder().fit(frame.iloc[:0])


# ThresholdedClassifier: what it adds to scikit-learn's FixedThresholdClassifier.


def test_a_thresholded_fit_refuses_one_class():
    model = SPECS["random_forest"].threshold_class(_family_model("random_forest"))
    X = np.random.default_rng(0).uniform(size=(10, 3))
    with pytest.raises(ValueError, match="needs y with two classes, got only one class: 1"):
        model.fit(X, np.ones(10, dtype=int))
    assert not hasattr(model, "estimator_")


def test_a_thresholded_model_takes_nan_as_its_estimator_does():
    for name in SPECS:
        if name == NETWORK:
            continue
        model = SPECS[name].threshold_class(_family_model(name))
        expected = get_tags(model.estimator).input_tags.allow_nan
        assert get_tags(model).input_tags.allow_nan is expected
    assert get_tags(SPECS["xgboost"].threshold_class(_family_model("xgboost"))).input_tags.allow_nan
    assert not get_tags(ThresholdedClassifier(LogisticRegression())).input_tags.allow_nan
