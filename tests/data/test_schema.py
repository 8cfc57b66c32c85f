from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from uctune.data import LABEL, fingerprint, load_feature_table, read_table, validate_table
from uctune.errors import DataError, NotFoundError


def frame(n: int = 40, positives: int = 10, **extra) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    data = {
        "symbol": [f"S{i}" for i in range(n)],
        "announcement_date": pd.date_range("2024-01-01", periods=n).strftime("%Y-%m-%d"),
        "sector": rng.choice(["IT", "Banks"], n),
        "circuit_band": rng.choice([5, 10, 20], n),
        "eps_qoq": rng.normal(size=n),
        LABEL: [1] * positives + [0] * (n - positives),
    }
    data.update(extra)
    return pd.DataFrame(data)


def test_valid_table_has_roles_and_types():
    table = validate_table(frame())
    assert table.features == ("sector", "circuit_band", "eps_qoq")
    assert table.categorical == ("sector",)
    assert isinstance(table.X["sector"].dtype, pd.CategoricalDtype)
    assert table.X["circuit_band"].dtype == np.float64
    assert table.y.tolist() == [1] * 10 + [0] * 30
    assert table.dates.dtype.kind == "M"


def test_nan_in_a_feature_is_allowed():
    df = frame()
    df.loc[3, "eps_qoq"] = np.nan
    assert np.isnan(validate_table(df).X["eps_qoq"].iloc[3])


def test_boolean_and_float_labels_are_accepted():
    df = frame()
    df[LABEL] = df[LABEL].astype(bool)
    assert validate_table(df).y.sum() == 10
    df[LABEL] = df[LABEL].astype(float)
    assert validate_table(df).y.sum() == 10


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.drop(columns=LABEL), r"label column 'upper_circuit' is missing"),
        (lambda d: d.assign(**{LABEL: [2] + [0] * 39}), r"must hold only 0/1, got values \{2\}"),
        (
            lambda d: d.assign(**{LABEL: ["yes"] + [1] * 9 + [0] * 30}),
            r"must hold only 0/1, got values \{'yes'\}",
        ),
        (lambda d: d.assign(**{LABEL: [np.nan] + [1] * 9 + [0] * 30}), r"1 missing or infinite"),
        (lambda d: d.assign(**{LABEL: [np.inf] + [1] * 9 + [0] * 30}), r"1 missing or infinite"),
        (lambda d: d.assign(**{LABEL: 0}), r"single class \(0\) in 40 rows"),
        (lambda d: d.iloc[0:0], r"is empty: it has no rows"),
        (
            lambda d: d.assign(guidance=["strong"] * 40),
            r"feature column 'guidance' is not numeric \(e.g. \{'strong'\}\) and is not a declared "
            r"categorical \(sector\)",
        ),
        (lambda d: d.assign(opm=np.nan), r"feature column 'opm' is entirely missing \(40 rows"),
        (lambda d: d.assign(opm=[np.inf] * 2 + [1.0] * 38), r"'opm' holds 2 infinite values"),
        (
            lambda d: d.assign(**{LABEL: [1] * 3 + [0] * 37}),
            r"class 1 of 'upper_circuit' has 3 rows, fewer than the 5 cross-validation folds",
        ),
        (
            lambda d: d.assign(announcement_date=["soon"] + ["2024-01-01"] * 39),
            r"'announcement_date' must hold dates \(YYYY-MM-DD\), got \{'soon'\}",
        ),
        (lambda d: d[["symbol", LABEL]], r"has no feature columns"),
    ],
)
def test_bad_tables_are_refused_with_one_line(mutate, message):
    with pytest.raises(DataError, match=message) as info:
        validate_table(mutate(frame()))
    assert "\n" not in str(info.value)


def test_too_many_bad_values_are_summarised():
    df = frame()
    df[LABEL] = list(range(2, 42))
    with pytest.raises(DataError, match=r"\{2, 3, 4, 5, 6, \.\.\. \(40 in all\)\}"):
        validate_table(df)


def test_fingerprint_tracks_content_not_index():
    a = frame()
    b = a.copy()
    b.index = b.index + 100
    assert fingerprint(a) == fingerprint(b)
    b.loc[b.index[0], "eps_qoq"] += 1e-9
    assert fingerprint(a) != fingerprint(b)


def test_read_csv_and_parquet_round_trip(tmp_path):
    df = frame()
    df.to_csv(tmp_path / "a.csv", index=False)
    df.to_parquet(tmp_path / "a.parquet", index=False)
    a = load_feature_table(tmp_path / "a.csv")
    b = load_feature_table(tmp_path / "a.parquet")
    pd.testing.assert_frame_equal(a.X, b.X)


def test_read_errors(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"is empty \(0 bytes\)"):
        read_table(tmp_path / "empty.csv")
    (tmp_path / "blank.csv").write_text("\n\n")
    with pytest.raises(DataError, match="is empty"):
        read_table(tmp_path / "blank.csv")
    (tmp_path / "x.xlsx").write_text("a")
    with pytest.raises(DataError, match=r"unsupported suffix '.xlsx'"):
        read_table(tmp_path / "x.xlsx")
    (tmp_path / "bad.parquet").write_text("not parquet at all")
    with pytest.raises(DataError, match="cannot be read as parquet"):
        read_table(tmp_path / "bad.parquet")


def test_header_only_file_is_empty(tmp_path):
    (tmp_path / "h.csv").write_text(f"symbol,eps_qoq,{LABEL}\n")
    with pytest.raises(DataError, match="no rows"):
        load_feature_table(tmp_path / "h.csv")


def test_embedded_dataset_loads():
    table = load_feature_table()
    assert table.n_rows >= 5000
    assert 0.05 <= table.n_positive / table.n_rows <= 0.10


def test_session_date_is_the_date_column_of_a_daily_table():
    daily = frame().rename(columns={"announcement_date": "session_date"})
    table = validate_table(daily)
    assert table.date_column == "session_date"
    assert "session_date" not in table.features
    assert table.dates.dtype.kind == "M"
    bad = daily.assign(session_date=["2024-13-45"] * len(daily))
    with pytest.raises(DataError, match="column 'session_date' must hold dates"):
        validate_table(bad)
    with pytest.raises(DataError, match="needs a date column"):
        _ = validate_table(daily.drop(columns="session_date")).dates


def test_repeated_symbol_and_dates_are_counted_in_a_warning(tiny_frame, caplog):
    frame = pd.concat([tiny_frame, tiny_frame.head(3)], ignore_index=True)
    with caplog.at_level(logging.WARNING, logger="uctune.data.schema"):
        table = validate_table(frame, source="events.csv")
    assert table.n_rows == len(tiny_frame) + 3  # kept, not dropped
    assert "events.csv: 3 rows repeat the (symbol, announcement_date" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="uctune.data.schema"):
        validate_table(tiny_frame)
    assert "repeat" not in caplog.text
