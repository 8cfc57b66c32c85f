"""Scoring: the input checked against the stored features, decisions at the stored threshold, the
PRD's confidence bands, and SHAP reasons written for people."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline

from uctune.data import LABEL
from uctune.errors import ConfigError, DataError
from uctune.explain import Explanation, Reason, explain, top_reasons
from uctune.models import get_spec
from uctune.scoring import (
    describe_reason,
    format_value,
    prepare_features,
    reason_columns,
    score,
)

REASON = re.compile(r"^\w+ .+ (raised|lowered) the probability by \d\.\d{2,3}$|barely moved")


@pytest.fixture(scope="module", params=["logistic_regression", "xgboost"])
def fitted(request, tiny_table):
    params = {"n_estimators": 20} if request.param == "xgboost" else {}
    pipeline = get_spec(request.param).build(params).fit(tiny_table.X, tiny_table.y)
    return FixedThresholdClassifier(pipeline, threshold=0.3).fit(tiny_table.X, tiny_table.y)


@pytest.fixture(scope="module")
def events(tiny_frame):
    """Twelve events to score as a user hands them over: ids and features, shuffled columns."""
    frame = tiny_frame.drop(columns=LABEL).head(12)
    return frame[list(reversed(frame.columns))]


def test_score_writes_ids_probability_decision_band_and_reasons(fitted, tiny_table, events):
    out = score(
        fitted,
        events,
        features=tiny_table.features,
        categorical=tiny_table.categorical,
        threshold=0.3,
        background=tiny_table.X.head(50),
    )
    assert list(out.columns) == [
        "symbol",
        "announcement_date",
        "probability",
        "decision",
        "confidence",
        *(f"reason_{i}" for i in range(1, 6)),
    ]
    expected = fitted.predict_proba(tiny_table.X.head(12))[:, 1]
    np.testing.assert_allclose(out["probability"], expected)
    np.testing.assert_array_equal(out["decision"], (expected >= 0.3).astype(int))
    assert out["decision"].tolist() == fitted.predict(tiny_table.X.head(12)).tolist()
    for p, band in zip(out["probability"], out["confidence"], strict=True):
        assert band == (
            "high" if p >= 0.9 else "medium" if p >= 0.7 else "low" if p >= 0.5 else "none"
        )
    for i in range(1, 6):
        assert out[f"reason_{i}"].map(lambda t: bool(REASON.search(t))).all(), out[f"reason_{i}"]
    assert out["symbol"].tolist() == events["symbol"].tolist()


def test_reasons_are_largest_first_and_optional(fitted, tiny_table, events):
    out = score(fitted, events, features=tiny_table.features, categorical=tiny_table.categorical)

    def size(text: str) -> float:
        found = re.search(r"by (\d\.\d+)$", text)
        return float(found.group(1)) if found else 0.0

    for _, row in out.iterrows():
        sizes = [size(row[f"reason_{i}"]) for i in range(1, 6)]
        assert sizes == sorted(sizes, reverse=True)
    bare = score(
        fitted, events, features=tiny_table.features, categorical=tiny_table.categorical, reasons=0
    )
    assert not [c for c in bare.columns if c.startswith("reason_")]
    with pytest.raises(ConfigError, match="the number of reasons must be 0 or more, got -1"):
        score(fitted, events, features=tiny_table.features, reasons=-1)


def test_without_id_columns_rows_are_numbered(fitted, tiny_table, events):
    out = score(
        fitted,
        events.drop(columns=["symbol", "announcement_date"]),
        features=tiny_table.features,
        categorical=tiny_table.categorical,
        reasons=0,
    )
    assert out["row"].tolist() == list(range(1, 13))


FEATURES = ("eps_qoq", "sector", "opm")


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            pd.DataFrame({"eps_qoq": [1.0], "sector": ["IT"]}),
            r"the input lacks 1 feature column\(s\) that the model needs: opm",
        ),
        (
            pd.DataFrame(
                {"eps_qoq": [1.0], "sector": ["IT"], "opm": [2.0], "notes": ["x"], "z": [1]}
            ),
            r"the input has column\(s\) the model was not trained on: notes, z; remove them "
            r"\(allowed besides the features: symbol, announcement_date, session_date, upper_circuit\)",
        ),
        (
            pd.DataFrame({"eps_qoq": ["12%"], "sector": ["IT"], "opm": [2.0]}),
            r"feature column 'eps_qoq' of the input must be numeric, got '12%'",
        ),
        (
            pd.DataFrame({"eps_qoq": [np.inf], "sector": ["IT"], "opm": [2.0]}),
            r"feature column 'eps_qoq' of the input holds 1 infinite value\(s\)",
        ),
        (
            pd.DataFrame({"eps_qoq": [], "sector": [], "opm": []}),
            "the input has no rows to score",
        ),
        (
            pd.DataFrame([[1.0, "IT", 2.0, 3.0]], columns=["eps_qoq", "sector", "opm", "opm"]),
            "the input has duplicated columns: opm",
        ),
    ],
)
def test_bad_inputs_name_the_columns(frame, message):
    with pytest.raises(DataError, match=message) as err:
        prepare_features(frame, FEATURES, ("sector",))
    assert "\n" not in str(err.value)


def test_prepare_restores_the_stored_order_and_types():
    frame = pd.DataFrame(
        {"opm": ["2.5", None], "symbol": ["A", "B"], "sector": ["IT", None], "eps_qoq": [1, 2]}
    )
    X = prepare_features(frame, FEATURES, ("sector",))
    assert list(X.columns) == list(FEATURES)
    assert X["opm"].dtype == np.float64 and np.isnan(X["opm"][1])
    assert isinstance(X["sector"].dtype, pd.CategoricalDtype)
    with pytest.raises(ConfigError, match="records no feature names"):
        prepare_features(frame, ())


@pytest.mark.parametrize(
    ("feature", "value", "text"),
    [
        ("eps_qoq", 45.2, "+45 %"),
        ("revenue_qoq", -3.21, "-3.2 %"),
        ("opm", 14.4, "14.4 %"),
        ("circuit_band", 20.0, "20 %"),
        ("new_orders", 1.0, "yes"),
        ("exceptional_items", 0.0, "no"),
        ("guidance_tone", 1.0, "positive"),
        ("guidance_tone", -1.0, "negative"),
        ("fiscal_quarter", 3.0, "Q3"),
        ("log_market_cap", np.log(2010.0), "₹2,010 cr"),
        ("volume_spike", 2.34, "2.3x"),
        ("rsi_14", 63.4, "63"),
        ("uc_count_6m", 2.0, "2"),
        ("management_sentiment", -0.5351, "-0.535"),
        ("sector", "Realty", "Realty"),
        ("my_own_feature", 123456.0, "123,456"),
        ("opm", float("nan"), "missing"),
    ],
)
def test_values_read_in_their_units(feature, value, text):
    assert format_value(feature, value) == text


def test_reason_sentences():
    assert describe_reason(Reason("eps_qoq", 45.0, 0.1234)) == (
        "eps_qoq +45 % raised the probability by 0.12"
    )
    assert describe_reason(Reason("rsi_14", 80.0, -0.004)) == (
        "rsi_14 80 lowered the probability by 0.004"
    )
    assert describe_reason(Reason("opm", 5.0, 0.0)) == "opm 5 % barely moved the probability"


def test_amounts_round_consistently():
    assert describe_reason(Reason("npm", 5.0, 0.0098)).endswith("by 0.01")
    assert describe_reason(Reason("npm", 5.0, 0.0094)).endswith("by 0.009")


# -- scoring at scale ----------------------------------------------------------------------------
def _per_row_reasons(model, X, k, background=None):
    """The reasons as predict wrote them before it scaled: explain, then one row at a time."""
    e = explain(model, X, background=background, max_rows=None)
    return [[describe_reason(r) for r in top_reasons(e, i, k)] for i in range(len(X))]


@pytest.fixture(scope="module", params=["random_forest", "xgboost", "lightgbm"])
def fixed_tree(request, tiny_table):
    params = {"n_estimators": 25}
    pipeline = get_spec(request.param).build(params).fit(tiny_table.X, tiny_table.y)
    return FixedThresholdClassifier(pipeline, threshold=0.3).fit(tiny_table.X, tiny_table.y)


def test_tree_reasons_are_unchanged_by_scaling(fixed_tree, tiny_table, tiny_frame):
    # Batched tree SHAP and vectorised texts give exactly the per-row sentences of before.
    frame = tiny_frame.drop(columns=LABEL)
    out = score(
        fixed_tree,
        frame,
        features=tiny_table.features,
        categorical=tiny_table.categorical,
        background=tiny_table.X.head(50),
    )
    expected = _per_row_reasons(fixed_tree, tiny_table.X, 5)
    got = out[[f"reason_{i}" for i in range(1, 6)]].to_numpy().tolist()
    assert got == expected


def test_vectorised_texts_match_format_value_everywhere(tiny_table):
    # Every formatting rule, edge values included: the texts of all rows at once equal those of
    # format_value and describe_reason one by one.
    rng = np.random.default_rng(0)
    edge = [np.nan, -0.0, 0.5, 1.5, 2.5, 9.95, 10.0, 999.9, 1000.0, 123456.7, -2.0, 0.4999]
    n = 600
    data = {}
    for name in tiny_table.features:
        if name in tiny_table.categorical:
            data[name] = pd.Categorical(rng.choice(["IT", "Realty", None], n))
        elif name == "log_market_cap":  # e^v rupees crore: a realistic range
            data[name] = np.concatenate([[np.nan, 0.0], rng.normal(8, 2, n - 2)])
        else:
            data[name] = np.concatenate([edge, rng.normal(0, 300, n - len(edge))])
    data["my_own_feature"] = np.concatenate([edge, rng.normal(0, 3000, n - len(edge))])
    X = pd.DataFrame(data)
    values = rng.normal(0, 0.02, (n, X.shape[1])) * rng.choice([0, 1e-4, 1], (n, X.shape[1]))
    e = Explanation(
        features=tuple(X.columns),
        data=X,
        values=values,
        base_probability=np.zeros(n),
        probability=values.sum(axis=1),
        raw_output="probability",
        method="given",
        seconds=0.0,
    )
    k = 8
    got = np.column_stack(reason_columns(e, k)).tolist()
    expected = [[describe_reason(r) for r in top_reasons(e, i, k)] for i in range(n)]
    assert got == expected


def test_reasons_of_a_model_without_an_exact_explainer(tiny_table, events):
    # A network: the sampled estimate, bounded, seeded, written as sentences.
    pipeline = get_spec("logistic_regression").build().fit(tiny_table.X, tiny_table.y)
    net = Pipeline(
        [("pre", pipeline[:-1]), ("model", MLPClassifier((16,), max_iter=300, random_state=0))]
    ).fit(tiny_table.X, tiny_table.y)
    kwargs = {"features": tiny_table.features, "categorical": tiny_table.categorical}
    out = score(net, events, background=tiny_table.X.head(40), samples=8, **kwargs)
    again = score(net, events, background=tiny_table.X.head(40), samples=8, **kwargs)
    pd.testing.assert_frame_equal(out, again)
    for i in range(1, 6):
        assert out[f"reason_{i}"].map(lambda t: bool(REASON.search(t))).all()
    with pytest.raises(ConfigError, match="an even number of at least 2, got 3"):
        score(net, events, samples=3, **kwargs)
