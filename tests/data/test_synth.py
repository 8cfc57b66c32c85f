from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from uctune.data import LABEL, generate, validate_table
from uctune.data.synth import SECTORS
from uctune.errors import ConfigError

FEATURE_FAMILIES = {
    "fundamental": [
        "revenue_qoq",
        "revenue_yoy",
        "pat_qoq",
        "pat_yoy",
        "eps_qoq",
        "eps_yoy",
        "opm",
        "npm",
        "debt_to_equity",
    ],
    "technical": [
        "rsi_14",
        "volume_spike",
        "uc_count_6m",
        "price_change_1w",
        "log_market_cap",
        "dist_from_dma50",
    ],
    "qualitative": ["new_orders", "guidance_tone", "management_sentiment", "exceptional_items"],
    "seasonality": ["season_q1_avg", "season_q2_avg", "season_q3_avg"],
    "vcp": ["vcp_detected", "vcp_stage", "vcp_contraction_depth"],
    "market": ["nifty_change_1d", "sector_change_1d", "market_breadth"],
}


@pytest.fixture(scope="module")
def sample() -> tuple[pd.DataFrame, pd.DataFrame]:
    return generate(4000, seed=11)


def test_same_seed_same_table_and_truth():
    a, ta = generate(800, seed=5)
    b, tb = generate(800, seed=5)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(ta, tb)


def test_different_seed_different_table():
    a, _ = generate(800, seed=5)
    b, _ = generate(800, seed=6)
    assert not a.equals(b)


def test_columns_cover_every_feature_family(sample):
    frame, _ = sample
    for family, columns in FEATURE_FAMILIES.items():
        missing = set(columns) - set(frame.columns)
        assert not missing, f"{family} lacks {missing}"
    assert {"symbol", "announcement_date", "sector", "circuit_band", LABEL} <= set(frame.columns)


def test_rows_prevalence_bands_sectors_and_dates(sample):
    frame, _ = sample
    assert len(frame) == 4000
    assert 0.05 <= frame[LABEL].mean() <= 0.10
    assert set(frame["circuit_band"].unique()) == {5, 10, 20}
    assert frame["sector"].nunique() == len(SECTORS) == 12
    dates = pd.to_datetime(frame["announcement_date"])
    assert dates.min().year == 2022 and dates.max().year == 2026
    assert dates.dt.quarter.nunique() == 4
    assert (dates.dt.day_of_week < 5).all(), "results are announced on weekdays"
    assert not frame.duplicated(["symbol", "announcement_date"]).any()


def test_realistic_gaps_heavy_tails_and_correlation(sample):
    frame, _ = sample
    missing = frame.isna().mean()
    assert missing[LABEL] == 0
    assert 0.02 < missing["eps_yoy"] < 0.3
    # Contraction depth exists exactly when a VCP was detected.
    assert (frame["vcp_contraction_depth"].isna() == (frame["vcp_detected"] == 0)).all()
    # Heavy tails: PAT growth has far more extreme values than a normal would.
    pat = frame["pat_yoy"].dropna()
    kurtosis = ((pat - pat.mean()) ** 4).mean() / pat.var() ** 2
    assert kurtosis > 6
    assert frame[["pat_yoy", "eps_yoy"]].corr().iloc[0, 1] > 0.9


def test_truth_is_a_probability_that_ranks_the_labels(sample):
    from sklearn.metrics import roc_auc_score

    frame, truth = sample
    assert list(truth.columns) == ["symbol", "announcement_date", "true_probability"]
    assert truth[["symbol", "announcement_date"]].equals(frame[["symbol", "announcement_date"]])
    p = truth["true_probability"]
    assert p.between(0, 1).all()
    assert abs(p.mean() - frame[LABEL].mean()) < 0.02
    assert roc_auc_score(frame[LABEL], p) > 0.85
    assert "true_probability" not in frame.columns


def test_outcome_depends_on_band_and_drifts_over_time(sample):
    frame, truth = sample
    by_band = truth.groupby(frame["circuit_band"])["true_probability"].mean()
    assert by_band[5] > by_band[10] > by_band[20]
    by_year = truth.groupby(frame["announcement_date"].str[:4])["true_probability"].mean()
    assert by_year.max() - by_year.min() > 0.02


def test_generated_table_passes_validation(sample):
    table = validate_table(sample[0])
    assert table.categorical == ("sector",)
    assert "circuit_band" in table.features and "symbol" not in table.features
    assert np.isfinite(table.X.drop(columns="sector").to_numpy(dtype=float, na_value=0)).all()


def test_too_few_rows_is_refused():
    with pytest.raises(ConfigError, match="at least 100, got 10"):
        generate(10, seed=0)
