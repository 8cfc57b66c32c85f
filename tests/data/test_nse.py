"""The NSE builder on a slice of the real exchange files: features from the past only, labels
hand-checked against raw rows and against NSE's own band-hitter list, bad input refused whole.

No label of a session or event dated on or after 2026-05-01 is looked at here: the July-August
2026 results season is the project's final holdout (events' features are compared, never labels).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.data import nse_slice
from tests.data.nse_slice import date_of
from tests.shared import REAL_DATA, needs
from uctune.cli.main import main
from uctune.data.nse import FEATURES, HOLDOUT_START, build, sample_daily
from uctune.data.schema import validate_table
from uctune.errors import ConfigError

pytestmark = needs(REAL_DATA, "the real NSE files")


@pytest.fixture(scope="module")
def lines() -> dict[str, tuple[bytes, list[bytes]]]:
    return nse_slice.bhavcopy_lines()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, lines) -> Path:
    root = tmp_path_factory.mktemp("nse")
    source = nse_slice.write_source(root / "source", lines)
    calendar = root / "calendar.csv"
    # Q3 FY26 results of slice symbols (before the holdout): a Saturday, a weekday, a name only.
    pd.DataFrame(
        {
            "symbol": ["SHIVAMILLS", "HYBRIDFIN", ""],
            "company": ["", "", "Ajmera Realty & Infra India Ltd."],
            "results_date": ["2026-01-31", "2026-02-10", "2026-02-05"],
        }
    ).to_csv(calendar, index=False)
    build(source, root / "out", calendar=calendar)
    build(source, root / "out_mc", calendar=nse_slice.CALENDAR)
    return root


def _daily(built: Path) -> pd.DataFrame:
    daily = pd.read_parquet(built / "out" / "daily.parquet")
    meta = pd.read_parquet(built / "out" / "daily.meta.parquet")
    assert (daily["symbol"].to_numpy() == meta["symbol"].to_numpy()).all()
    return daily.assign(label_status=meta["label_status"].astype(str).to_numpy())


def _row(daily: pd.DataFrame, symbol: str, day: str) -> pd.Series:
    found = daily[(daily["symbol"] == symbol) & (daily["session_date"] == pd.Timestamp(day))]
    assert len(found) == 1, (symbol, day)
    return found.iloc[0]


def test_tables_follow_uctunes_schema(built: Path) -> None:
    daily = pd.read_parquet(built / "out" / "daily.parquet")
    assert list(daily.columns) == ["symbol", "session_date", *FEATURES, "upper_circuit"]
    assert daily.groupby(["symbol", "session_date"]).size().max() == 1
    daily = daily[daily["session_date"] < HOLDOUT_START]  # never a holdout label
    labels = daily["upper_circuit"]
    assert set(labels.dropna().unique()) == {0.0, 1.0}
    # Unlabelled rows stay NaN, never 0: every F&O (No Band) row of RELIANCE.
    assert daily.loc[daily["symbol"] == "RELIANCE", "upper_circuit"].isna().all()
    table = validate_table(daily[labels.notna()], source="daily")
    assert table.date_column == "session_date" and "session_date" not in table.features
    events = pd.read_parquet(built / "out" / "events.parquet")
    assert list(events.columns) == ["symbol", "announcement_date", *FEATURES, "upper_circuit"]
    card = (built / "out" / "NSE.md").read_text()
    assert "## This build" in card and "upper_circuit" in card


def test_features_hand_computed_from_raw_rows(built: Path, lines) -> None:
    daily = _daily(built)
    raw = nse_slice.raw_rows(lines, "SHIVAMILLS")
    day = pd.Timestamp("2026-04-10")
    t = int(np.flatnonzero(raw["DATE1"] == day)[0])
    past = raw.iloc[:t]  # rows strictly before the session
    # In these 30 rows each PREV_CLOSE is the row before's close (no split, no session missing
    # from the archive, unlike 2 Feb 2026): raw volumes need no adjustment.
    window = past.iloc[-30:]
    assert np.allclose(window["PREV_CLOSE"].iloc[1:], window["CLOSE_PRICE"].iloc[:-1].to_numpy())
    ret = past["CLOSE_PRICE"] / past["PREV_CLOSE"] - 1
    row = _row(daily, "SHIVAMILLS", "2026-04-10")
    assert row["ret_1d_pct"] == pytest.approx(100 * ret.iloc[-1], abs=1e-3)
    assert row["ret_5d_pct"] == pytest.approx(100 * ((1 + ret.iloc[-5:]).prod() - 1), abs=1e-3)
    qty = past["TTL_TRD_QNTY"]
    assert row["volume_ratio_30"] == pytest.approx(qty.iloc[-1] / qty.iloc[-30:].mean(), rel=1e-5)
    assert row["delivery_pct"] == pytest.approx(past["DELIV_PER"].iloc[-1], abs=1e-4)
    assert row["delivery_pct_mean_20"] == pytest.approx(
        past["DELIV_PER"].iloc[-20:].mean(), rel=1e-5
    )
    assert row["turnover_mean_20_lakh"] == pytest.approx(
        past["TURNOVER_LACS"].iloc[-20:].mean(), rel=1e-5
    )
    gains, losses = ret.iloc[-14:].clip(lower=0), (-ret.iloc[-14:]).clip(lower=0)
    assert row["rsi_14"] == pytest.approx(
        100 * gains.mean() / (gains.mean() + losses.mean()), abs=1e-3
    )
    tr = (
        np.maximum(past["HIGH_PRICE"], past["PREV_CLOSE"])
        - np.minimum(past["LOW_PRICE"], past["PREV_CLOSE"])
    ) / past["PREV_CLOSE"]
    assert row["atr_14_pct"] == pytest.approx(100 * tr.iloc[-14:].mean(), abs=1e-3)
    assert row["volatility_20_pct"] == pytest.approx(100 * ret.iloc[-20:].std(ddof=1), abs=1e-3)
    assert row["sessions_listed"] == t
    assert row["circuit_band"] == 5.0  # the symbol's earliest snapshot (7 Jul 2026)


def test_returns_span_a_session_missing_from_the_archive(built: Path, lines) -> None:
    """The Sunday budget session of 1 Feb 2026 is not in the archive: 2 Feb's PREV_CLOSE is its
    close. The return shown on 3 Feb spans both sessions, from 30 Jan's close."""
    daily = _daily(built)
    for symbol in ("SHIVAMILLS", "HYBRIDFIN", "20MICRONS"):
        raw = nse_slice.raw_rows(lines, symbol).set_index("DATE1")
        jan30, feb2 = raw.loc["2026-01-30"], raw.loc["2026-02-02"]
        assert feb2["PREV_CLOSE"] != jan30["CLOSE_PRICE"]
        row = _row(daily, symbol, "2026-02-03")
        expected = 100 * (feb2["CLOSE_PRICE"] / jan30["CLOSE_PRICE"] - 1)
        assert row["ret_1d_pct"] == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("symbol", ["SHIVAMILLS", "20MICRONS"])
def test_price_level_features_hand_computed(built: Path, lines, symbol: str) -> None:
    """Over 60 rows whose PREV_CLOSE is each time the row before's close, the price index is
    proportional to the close: its 50-row mean and 10/60-row ranges can be read off raw prices."""
    daily = _daily(built)
    raw = nse_slice.raw_rows(lines, symbol)
    clean = (raw["PREV_CLOSE"] - raw["CLOSE_PRICE"].shift(1)).abs() < 1e-6
    # the last session before 2026-05-01 whose 60 previous rows are all continuous
    runs = clean.astype(int).groupby((~clean).cumsum()).cumsum()
    ok = raw.index[(runs.shift(1) >= 60) & (raw["DATE1"] < HOLDOUT_START)]
    assert len(ok), "no 60-row continuous window in the slice"
    t = int(ok[-1])
    past = raw.iloc[t - 60 : t]
    row = _row(daily, symbol, str(raw.loc[t, "DATE1"].date()))
    close = past["CLOSE_PRICE"]
    assert row["dist_sma50_pct"] == pytest.approx(
        100 * (close.iloc[-1] / close.iloc[-50:].mean() - 1), abs=1e-3
    )
    last10 = past.iloc[-10:]
    r10 = last10["HIGH_PRICE"].max() - last10["LOW_PRICE"].min()
    r60 = past["HIGH_PRICE"].max() - past["LOW_PRICE"].min()
    assert row["vcp_ratio_10_60"] == pytest.approx(r10 / r60, rel=1e-5)


def test_split_day_is_a_price_gap_and_returns_stay_continuous(built: Path, lines) -> None:
    daily = _daily(built)
    raw = nse_slice.raw_rows(lines, "AJMERA").set_index("DATE1")
    split = _row(daily, "AJMERA", "2026-01-14")  # PREV_CLOSE 910.05, open 182.90 (1:5 split)
    assert math.isnan(split["upper_circuit"]) and split["label_status"].startswith("price gap")
    next_day = raw.index[raw.index > pd.Timestamp("2026-01-14")][0]
    after = _row(daily, "AJMERA", str(next_day.date()))
    day = raw.loc["2026-01-14"]
    assert after["ret_1d_pct"] == pytest.approx(
        100 * (day["CLOSE_PRICE"] / day["OPEN_PRICE"] - 1), abs=1e-3
    )
    # Five sessions later the 5-session return compounds through the split, not a -80 % drop.
    sixth = raw.index[raw.index > pd.Timestamp("2026-01-14")][4]
    later = _row(daily, "AJMERA", str(sixth.date()))
    window = raw.loc[:sixth].iloc[-6:-1]  # the five sessions before, the split day first
    ref = np.where(
        window.index == pd.Timestamp("2026-01-14"), window["OPEN_PRICE"], window["PREV_CLOSE"]
    )
    expected = 100 * ((window["CLOSE_PRICE"] / ref).prod() - 1)
    assert later["ret_5d_pct"] == pytest.approx(expected, abs=1e-3)
    assert abs(later["ret_5d_pct"]) < 30


@pytest.mark.parametrize("symbol", ["SHIVAMILLS", "HYBRIDFIN", "SAHASRA", "20MICRONS"])
def test_labels_hand_computed_from_raw_rows(built: Path, lines, symbol: str) -> None:
    daily = _daily(built)
    raw = nse_slice.raw_rows(lines, symbol)
    band = {"SHIVAMILLS": 5, "HYBRIDFIN": 5, "SAHASRA": 2, "20MICRONS": 20}[symbol]
    raw = raw[(raw["DATE1"] >= "2026-01-01") & (raw["DATE1"] < "2026-03-01")]
    assert len(raw) > 20
    for _, r in raw.iterrows():
        # 2026: 1 paisa under Rs 250, 5 paise to Rs 1,000, 10 paise to Rs 5,000 (floored).
        tick = 0.01 if r["PREV_CLOSE"] < 250 else 0.05 if r["PREV_CLOSE"] <= 1000 else 0.10
        limit = math.floor(round(r["PREV_CLOSE"] * (1 + band / 100) / tick, 6)) * tick
        limit = max(limit, r["PREV_CLOSE"] + tick)
        expected = float(r["HIGH_PRICE"] >= limit - 1e-9)
        got = _row(daily, symbol, str(r["DATE1"].date()))["upper_circuit"]
        assert got == expected, (symbol, r["DATE1"], r["PREV_CLOSE"], r["HIGH_PRICE"], limit)


def test_first_row_is_unlabelled(built: Path) -> None:
    daily = _daily(built)
    first = daily.groupby("symbol").head(1)
    assert first["upper_circuit"].isna().all()
    assert (first["label_status"] == "first row (listing)").all()


def _labels_vs_nse(built: Path) -> tuple[float, float, int]:
    daily = _daily(built)
    days = daily[daily["session_date"].between("2025-12-16", "2025-12-18")]
    official = nse_slice.band_hitters(built).assign(official=1.0)
    merged = days.merge(official[["symbol", "session_date", "official"]], how="left")
    merged["official"] = merged["official"].fillna(0.0)
    labelled = merged[merged["upper_circuit"].notna()]
    predicted, listed = labelled["upper_circuit"] == 1, labelled["official"] == 1
    precision = float((predicted & listed).sum() / predicted.sum())
    recall = float((predicted & listed).sum() / listed.sum())
    return precision, recall, int(listed.sum())


def test_label_rule_against_nse_band_hitters(built: Path, capsys) -> None:
    precision, recall, listed = _labels_vs_nse(built)
    with capsys.disabled():  # shown in every run's output, not only on failure
        print(
            f"\nlabel rule vs NSE's band hitters, 16-18 Dec 2025 ({listed} listed and labelled): "
            f"precision {precision:.2f}, recall {recall:.2f}"
        )
    # Bands before July 2026 are the symbol's earliest snapshot (7 Jul 2026), so a stock whose
    # band changed since December is mislabelled: NOTES.md measured about 0.4 / 0.6 for that
    # approximation. The floors sit below those figures yet far above what the price data alone
    # give: a band guessed from the move ("high within a tick of +2/5/10/20 %") has precision 0.19
    # (SOURCES.md). A regression in the limit price (tick, flooring, the D+1 band rule) or in the
    # session keys drops both below them.
    assert listed >= 150
    assert precision >= 0.30
    assert recall >= 0.45


def test_events_features_equal_the_daily_row_of_the_reaction_day(built: Path) -> None:
    daily = _daily(built)
    events = pd.read_parquet(built / "out" / "events.parquet")
    meta = pd.read_parquet(built / "out" / "events.meta.parquet")
    assert (events["announcement_date"] < HOLDOUT_START).all()  # these labels may be read
    assert list(events["symbol"]) == ["SHIVAMILLS", "HYBRIDFIN", "AJMERA"]
    assert meta.loc[2, "matched_by"] == "sec_list name"
    sat = meta.iloc[0]
    assert sat["reaction_date"] == pd.Timestamp("2026-02-02")  # Saturday 31 Jan -> Monday
    for i, m in meta.iterrows():
        d0 = _row(daily, m["symbol"], str(m["reaction_date"].date()))
        d1 = _row(daily, m["symbol"], str(m["next_session"].date()))
        for name in FEATURES:
            a, b = events.loc[i, name], d0[name]
            assert (np.isnan(a) and np.isnan(b)) or a == pytest.approx(b), (m["symbol"], name)
        assert events.loc[i, "upper_circuit"] == max(d0["upper_circuit"], d1["upper_circuit"])
        assert meta.loc[i, "upper_circuit_d0"] == d0["upper_circuit"]


def test_truncation_leaves_event_features_unchanged(built: Path, lines, tmp_path: Path) -> None:
    """Delete every price row on or after an event's reaction day and every band file dated on or
    after it: the event's features are identical (its label is never read: final holdout)."""
    full = pd.read_parquet(built / "out_mc" / "events.parquet").set_index("symbol")
    meta = pd.read_parquet(built / "out_mc" / "events.meta.parquet").set_index("symbol")
    calendar_symbols = sorted(set(full.index) & nse_slice.SYMBOLS)
    assert {"TITAN", "TCS", "RELIANCE"} <= set(calendar_symbols)
    for symbol in ("TITAN", "TCS"):
        cut = meta.loc[symbol, "reaction_date"]
        source = nse_slice.write_source(
            tmp_path / symbol / "source",
            lines,
            keep_row=lambda row, cut=cut: date_of(row) < cut,
            keep_band=lambda day, cut=cut: day < cut,
        )
        build(source, tmp_path / symbol / "out", calendar=nse_slice.CALENDAR)
        cut_events = pd.read_parquet(tmp_path / symbol / "out" / "events.parquet").set_index(
            "symbol"
        )
        before, after = full.loc[symbol, list(FEATURES)], cut_events.loc[symbol, list(FEATURES)]
        pd.testing.assert_series_equal(before, after, check_names=False)


def test_daily_features_ignore_the_session_and_later(built: Path, lines, tmp_path: Path) -> None:
    """Session t's features survive deleting every later row and scrambling row t's own prices."""
    cut = pd.Timestamp("2026-02-20")

    def keep(row: bytes) -> bool:
        return date_of(row) <= cut

    scrambled = {
        name: (header, [r.replace(b", 1", b", 9") if date_of(r) == cut else r for r in rows])
        for name, (header, rows) in lines.items()
    }
    source = nse_slice.write_source(tmp_path / "source", scrambled, keep_row=keep)
    build(source, tmp_path / "out")
    full = _daily(built)
    cut_daily = pd.read_parquet(tmp_path / "out" / "daily.parquet")
    for symbol in ("SHIVAMILLS", "HYBRIDFIN", "AJMERA"):
        a = _row(full, symbol, "2026-02-20")[list(FEATURES)].astype(float)
        b = _row(cut_daily, symbol, "2026-02-20")[list(FEATURES)].astype(float)
        pd.testing.assert_series_equal(a, b, check_names=False)


def test_summary_withholds_holdout_label_statistics(built: Path, lines, tmp_path: Path) -> None:
    source = nse_slice.write_source(tmp_path / "source", lines)
    summary = build(source, tmp_path / "out", calendar=nse_slice.CALENDAR)
    text = "\n".join(summary.lines())
    assert "label statistics withheld" in text and "labels withheld" in text
    assert summary.events_before == 0 and summary.events_labelled_before == 0
    assert summary.daily_rows_holdout > 0
    before = pd.read_parquet(tmp_path / "out" / "daily.parquet")
    before = before[before["session_date"] < HOLDOUT_START]
    assert summary.daily_labelled_before == int(before["upper_circuit"].notna().sum())


def test_sample_draws_labelled_rows_before_the_holdout(built: Path, tmp_path: Path) -> None:
    out = tmp_path / "sample.parquet"
    status = main(
        [
            "data",
            "sample",
            "--data",
            str(built / "out" / "daily.parquet"),
            "--rows",
            "500",
            "--seed",
            "3",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    sample = pd.read_parquet(out)
    assert len(sample) == 500 and sample["upper_circuit"].isin([0, 1]).all()
    assert (sample["session_date"] < HOLDOUT_START).all()
    assert main(["data", "validate", str(out), "--folds", "2"]) == 0
    with pytest.raises(ConfigError, match="final holdout"):
        sample_daily(built / "out" / "daily.parquet", rows=10, before=pd.Timestamp("2026-07-02"))


def test_sample_refuses_a_date_inside_the_holdout(built: Path, tmp_path: Path, capsys) -> None:
    status = main(
        [
            "data",
            "sample",
            "--data",
            str(built / "out" / "daily.parquet"),
            "--rows",
            "5",
            "--before",
            "2026-08-01",
            "--out",
            str(tmp_path / "s.parquet"),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and "final holdout" in err[0]
    assert not (tmp_path / "s.parquet").exists()


def test_events_rows_are_accepted_by_predict_as_they_are(built: Path) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    from uctune.scoring import prepare_features, score

    events = pd.read_parquet(built / "out_mc" / "events.parquet")
    X = prepare_features(events, FEATURES)
    assert list(X.columns) == list(FEATURES) and "upper_circuit" not in X.columns
    # Scoring reads the features only: the holdout's labels are neither used nor passed on.
    daily = pd.read_parquet(built / "out" / "daily.parquet")
    train = daily[(daily["session_date"] < HOLDOUT_START) & daily["upper_circuit"].notna()]
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0)
    model.fit(train[list(FEATURES)], train["upper_circuit"].astype(int))
    scores = score(model, events, features=FEATURES, threshold=0.5, reasons=0)
    scrambled = score(
        model, events.assign(upper_circuit=1.0), features=FEATURES, threshold=0.5, reasons=0
    )
    assert list(scores.columns) == [
        "symbol",
        "announcement_date",
        "probability",
        "decision",
        "confidence",
    ]
    pd.testing.assert_frame_equal(scores, scrambled)


def _bad_build(args: list[str], out: Path, capsys) -> str:
    status = main(["data", "nse", *args, "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(err) == 1 and err[0].startswith("uctune: error: ")
    return err[0]


def test_missing_folder_is_one_line_and_writes_nothing(tmp_path: Path, capsys) -> None:
    (tmp_path / "src" / "nse_sec_bhavdata_full").mkdir(parents=True)
    out = tmp_path / "out"
    line = _bad_build(["--source", str(tmp_path / "src")], out, capsys)
    assert "nse_sec_bhavdata_full" in line and "holds no" in line
    line = _bad_build(["--source", str(tmp_path / "nowhere")], out, capsys)
    assert str(tmp_path / "nowhere") in line and "does not exist" in line
    assert not out.exists() and list(tmp_path.iterdir()) == [tmp_path / "src"]


def test_calendar_without_a_date_column_is_refused(built: Path, tmp_path: Path, capsys) -> None:
    calendar = tmp_path / "cal.csv"
    calendar.write_text("symbol,company\nTCS,Tata Consultancy\n")
    out = tmp_path / "out"
    line = _bad_build(["--source", str(built / "source"), "--calendar", str(calendar)], out, capsys)
    assert str(calendar) in line and "no date column" in line
    assert not out.exists()


def test_an_archive_that_is_not_a_bhavcopy_leaves_the_old_output(
    built: Path, tmp_path: Path, capsys
) -> None:
    import shutil
    import tarfile

    source = tmp_path / "source"
    shutil.copytree(built / "source", source)
    bogus = source / "nse_sec_bhavdata_full" / "sec_bhavdata_full_2027.tar.xz"
    with tarfile.open(bogus, mode="w:xz") as tar:
        tar.add(nse_slice.CALENDAR / "tickers.json", arcname="data/tickers.csv")
    out = tmp_path / "out"
    shutil.copytree(built / "out", out)
    before = sorted(p.name for p in out.iterdir())
    line = _bad_build(["--source", str(source)], out, capsys)
    assert str(bogus) in line and "not an NSE bhavcopy" in line
    assert sorted(p.name for p in out.iterdir()) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
