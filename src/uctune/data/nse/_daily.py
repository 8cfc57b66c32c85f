"""The daily table: one row per stock and session, features from the stock's earlier rows only,
and the label "the session's high reached the upper band in force that day".

Every window below counts the stock's own rows (sessions it traded), sorted by date; all of it is
column arithmetic over the whole archive at once (cumulative sums, shifted indices, pandas'
rolling max/min), never a Python loop per row or per stock.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from uctune.data.nse._read import EQUITY_SERIES

__all__ = [
    "FEATURES",
    "STATE_FEATURES",
    "Prices",
    "clean_prices",
    "compute_state",
    "band_in_force",
    "label_sessions",
    "upper_limit_paise",
    "tick_paise",
    "GAP_LOW",
    "GAP_HIGH",
]

# An open outside PREV_CLOSE x [0.79, 1.21] is impossible under any band (20 % is the widest a
# share normally gets): the PREV_CLOSE was not adjusted for a split or bonus (NOTES.md).
GAP_LOW, GAP_HIGH = 0.79, 1.21
_RIGHTS = r"-RE\d*$"  # rights entitlements (SYMBOL-RE, -RE1, ...) are not shares
# Fund symbols end in ETF (ETFADD, EBBETF0425), BEES, or start with NETF; JETFREIGHT is a share.
_ETF_SYMBOL = r"(?:ETF(?:ADD|\d{4})?$|BEES$|^NETF)"
_ETF_NAME = r"(?:\bETF\b|EXCHANGE TRADED)"
_TICK_2024 = pd.Timestamp("2024-06-10")  # 1 paisa under Rs 250 from here
_TICK_2025 = pd.Timestamp("2025-04-15")  # price-based ticks from here

# Features computed from a stock's rows up to and including a session's close; the daily table
# shows, for session t, the values as of the close of the stock's previous row.
STATE_FEATURES = (
    "ret_1d_pct",
    "ret_5d_pct",
    "ret_20d_pct",
    "rsi_14",
    "volume_ratio_30",
    "delivery_pct",
    "delivery_pct_mean_20",
    "dist_sma50_pct",
    "volatility_20_pct",
    "atr_14_pct",
    "uc_hits_126",
    "vcp_ratio_10_60",
    "turnover_mean_20_lakh",
    "trade_for_trade",
    "sme",
)
FEATURES = (*STATE_FEATURES, "sessions_listed", "circuit_band", "etf")


@dataclass
class Prices:
    """The cleaned price rows (sorted by symbol, then date) and what cleaning dropped."""

    frame: pd.DataFrame
    funnel: list[tuple[str, int]]


def clean_prices(raw: pd.DataFrame) -> Prices:
    """Deduplicate on DATE1, keep share series, drop rights entitlements, one row per stock and
    session; sorted by symbol and date, with ``pos`` (the row's index within its symbol)."""
    funnel: list[tuple[str, int]] = [("bhavcopy rows read", len(raw))]
    n = len(raw)
    frame = raw.drop_duplicates(["SYMBOL", "SERIES", "DATE1"])
    funnel.append(("dropped: same SYMBOL, SERIES, DATE1 in two files", n - len(frame)))
    n = len(frame)
    frame = frame[frame["SERIES"].isin(EQUITY_SERIES)]
    funnel.append((f"dropped: series other than {'/'.join(EQUITY_SERIES)}", n - len(frame)))
    n = len(frame)
    frame = frame[~frame["SYMBOL"].str.contains(_RIGHTS, regex=True)]
    funnel.append(("dropped: rights entitlements (SYMBOL-RE*)", n - len(frame)))
    n = len(frame)
    rank = frame["SERIES"].map({s: i for i, s in enumerate(EQUITY_SERIES)}).astype(np.int8)
    frame = (
        frame.assign(_rank=rank)
        .sort_values(["SYMBOL", "DATE1", "_rank"], kind="stable")
        .drop_duplicates(["SYMBOL", "DATE1"])
        .drop(columns="_rank")
        .reset_index(drop=True)
    )
    funnel.append(("dropped: a second series of the same stock and session", n - len(frame)))
    frame["pos"] = frame.groupby("SYMBOL", sort=False).cumcount().to_numpy()
    funnel.append(("stock-sessions kept", len(frame)))
    return Prices(frame=frame, funnel=funnel)


def _group_start(pos: np.ndarray) -> np.ndarray:
    return np.arange(len(pos)) - pos


def _window_sum(values: np.ndarray, pos: np.ndarray, window: int) -> np.ndarray:
    """Sum of ``values`` over each row's last ``window`` rows of its own symbol (fewer at the
    start of a symbol), NaN counted as 0."""
    csum = np.concatenate(([0.0], np.cumsum(np.nan_to_num(values, nan=0.0))))
    idx = np.arange(len(values))
    lower = np.maximum(idx + 1 - window, _group_start(pos))
    return csum[idx + 1] - csum[lower]


def _window_mean(values: np.ndarray, pos: np.ndarray, window: int, min_rows: int) -> np.ndarray:
    """Mean of the non-NaN ``values`` over the last ``window`` rows of the symbol; NaN when
    fewer than ``min_rows`` of them are numbers."""
    present = (~np.isnan(values)).astype(float)
    count = _window_sum(present, pos, window)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = _window_sum(values, pos, window) / count
    return np.where(count >= min_rows, mean, np.nan)


def _window_extreme(values: np.ndarray, pos: np.ndarray, window: int, how: str) -> np.ndarray:
    rolled = pd.Series(values).rolling(window, min_periods=window)
    out = (rolled.max() if how == "max" else rolled.min()).to_numpy()
    return np.where(pos >= window - 1, out, np.nan)  # the window must not reach another symbol


def compute_state(prices: pd.DataFrame, hits: np.ndarray, after_gap: np.ndarray) -> pd.DataFrame:
    """Each row's features as of that session's close (the row itself included); ``hits`` is
    each row's label with NaN as 0 (for ``uc_hits_126``), ``after_gap`` marks the rows of a
    session whose previous session is missing from the archive."""
    pos = prices["pos"].to_numpy()
    pc = prices["PREV_CLOSE"].to_numpy(dtype=float)
    op = prices["OPEN_PRICE"].to_numpy(dtype=float)
    hi = prices["HIGH_PRICE"].to_numpy(dtype=float)
    lo = prices["LOW_PRICE"].to_numpy(dtype=float)
    cl = prices["CLOSE_PRICE"].to_numpy(dtype=float)
    qty = prices["TTL_TRD_QNTY"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = (op < pc * GAP_LOW) | (op > pc * GAP_HIGH)
        # A gap row's PREV_CLOSE is on the old share count: measure its session from the open.
        session_ref = np.where(gap, op, pc)
        # After sessions missing from the archive, PREV_CLOSE is the missing session's close: span
        # the gap from the stock's last close in the archive, unless the two differ by more than
        # a factor 2 (a corporate action, whose adjusted PREV_CLOSE is then the right reference).
        last_close = np.concatenate(([np.nan], cl[:-1]))
        spans = after_gap & (pos > 0) & ~gap & (pc / last_close > 0.5) & (pc / last_close < 2.0)
        ref = np.where(spans, last_close, session_ref)
        ref = np.where(ref > 0, ref, np.nan)
        session_ref = np.where(session_ref > 0, session_ref, np.nan)
        ret = cl / ref - 1.0
        ret[pos == 0] = np.nan  # a listing day's PREV_CLOSE is the issue price
        logr = np.where(np.isnan(ret), 0.0, np.log1p(ret))
        # A continuous price index per symbol (1 on its first row): survives unadjusted PREV_CLOSE.
        csum = np.cumsum(logr)
        level = csum - (csum - logr)[_group_start(pos)]
        index = np.exp(level)
        factor = np.where(cl > 0, index / cl, np.nan)  # raw price -> index units
        adj_high, adj_low = hi * factor, lo * factor
        adj_qty = qty / factor
        true_range = (np.maximum(hi, session_ref) - np.minimum(lo, session_ref)) / session_ref
        true_range[pos == 0] = np.nan

    out: dict[str, np.ndarray] = {}
    out["ret_1d_pct"] = 100 * ret
    for k in (5, 20):
        back = np.arange(len(pos)) - k
        past = np.where(pos >= k, level[np.maximum(back, 0)], np.nan)
        out[f"ret_{k}d_pct"] = 100 * np.expm1(level - past)
    gains = np.where(np.isnan(ret), np.nan, np.clip(ret, 0, None))
    losses = np.where(np.isnan(ret), np.nan, np.clip(-ret, 0, None))
    up = _window_mean(gains, pos, 14, 14)
    down = _window_mean(losses, pos, 14, 14)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["rsi_14"] = np.where(up + down > 0, 100 * up / (up + down), 50.0)
        out["rsi_14"] = np.where(np.isnan(up + down), np.nan, out["rsi_14"])
        out["volume_ratio_30"] = adj_qty / _window_mean(adj_qty, pos, 30, 30)
        out["delivery_pct"] = prices["DELIV_PER"].to_numpy(dtype=float)
        out["delivery_pct_mean_20"] = _window_mean(out["delivery_pct"], pos, 20, 10)
        out["dist_sma50_pct"] = 100 * (index / _window_mean(index, pos, 50, 50) - 1)
        mean_r = _window_mean(ret, pos, 20, 20)
        mean_r2 = _window_mean(ret * ret, pos, 20, 20)
        var = np.clip((mean_r2 - mean_r**2) * 20 / 19, 0, None)  # sample variance (ddof 1)
        out["volatility_20_pct"] = 100 * np.sqrt(var)
        out["atr_14_pct"] = 100 * _window_mean(true_range, pos, 14, 14)
        out["uc_hits_126"] = _window_sum(hits, pos, 126)
        range10 = _window_extreme(adj_high, pos, 10, "max") - _window_extreme(
            adj_low, pos, 10, "min"
        )
        range60 = _window_extreme(adj_high, pos, 60, "max") - _window_extreme(
            adj_low, pos, 60, "min"
        )
        out["vcp_ratio_10_60"] = np.where(range60 > 0, range10 / range60, np.nan)
    out["turnover_mean_20_lakh"] = _window_mean(
        prices["TURNOVER_LACS"].to_numpy(dtype=float), pos, 20, 20
    )
    series = prices["SERIES"]
    out["trade_for_trade"] = series.isin(("BE", "BZ", "ST")).to_numpy(dtype=float)
    out["sme"] = series.isin(("SM", "ST")).to_numpy(dtype=float)
    state = pd.DataFrame(out, index=prices.index)
    state["gap"] = gap
    return state


def band_in_force(keys: pd.DataFrame, bands: pd.DataFrame, *, date_column: str) -> pd.DataFrame:
    """The band for each (``symbol``, date) row of ``keys``: from the latest ``sec_list``
    snapshot dated strictly before the date (its bands apply from the next session), else the
    symbol's earliest snapshot (an approximation). Returns ``circuit_band`` (NaN for No Band) and
    ``band_source`` (``snapshot``, ``earliest_snapshot`` or ``none``), aligned with ``keys``."""
    left = pd.DataFrame(
        {
            "symbol": keys["symbol"].to_numpy(),
            "date": keys[date_column].to_numpy().astype("datetime64[ns]"),
        }
    )
    left["_row"] = np.arange(len(left))
    right = bands[["symbol", "band_date", "band"]].sort_values("band_date")
    right = right.astype({"band_date": "datetime64[ns]"})
    asof = pd.merge_asof(
        left.sort_values("date"),
        right,
        left_on="date",
        right_on="band_date",
        by="symbol",
        allow_exact_matches=False,
    ).sort_values("_row")
    earliest = right.drop_duplicates("symbol", keep="first").set_index("symbol")["band"]
    found = asof["band_date"].notna().to_numpy()
    known = left["symbol"].isin(earliest.index).to_numpy()
    band = np.where(found, asof["band"].to_numpy(), left["symbol"].map(earliest).to_numpy())
    source = np.where(found, "snapshot", np.where(known, "earliest_snapshot", "none"))
    return pd.DataFrame(
        {"circuit_band": band.astype(float), "band_source": source}, index=keys.index
    )


def tick_paise(dates: np.ndarray, prev_close: np.ndarray) -> np.ndarray:
    """NSE's tick size in paise for a session's limit price: 5 paise, 1 paisa under Rs 250 from
    2024-06-10, and price-based ticks from 2025-04-15 (NOTES.md)."""
    dates = np.asarray(dates, dtype="datetime64[ns]")
    under_250 = prev_close < 250
    tick = np.where((dates >= np.datetime64(_TICK_2024)) & under_250, 1, 5)
    price_based = np.select(
        [
            under_250,
            prev_close <= 1000,
            prev_close <= 5000,
            prev_close <= 10000,
            prev_close <= 20000,
        ],
        [1, 5, 10, 50, 100],
        500,
    )
    return np.where(dates >= np.datetime64(_TICK_2025), price_based, tick).astype(np.int64)


def upper_limit_paise(prev_close: np.ndarray, band: np.ndarray, tick: np.ndarray) -> np.ndarray:
    """``PREV_CLOSE x (1 + band/100)`` floored to the tick (at least one tick above
    ``PREV_CLOSE``), in paise (NaN where no band)."""
    pc_paise = np.round(prev_close * 100)
    raw = pc_paise * (100 + band) / 100
    limit = np.floor(raw / tick + 1e-9) * tick
    # A penny stock's band can be narrower than a tick: the limit is then one tick up, not the
    # previous close itself (which every session's high would "reach").
    return np.maximum(limit, pc_paise + tick)


_STATUS = (
    "labelled",
    "first row (listing)",
    "price gap (unadjusted PREV_CLOSE)",
    "No Band (F&O)",
    "band unknown (symbol in no sec_list snapshot)",
    "no usable price",
)


def label_sessions(prices: pd.DataFrame, band: pd.DataFrame) -> pd.DataFrame:
    """Each session's label: ``upper_circuit`` (1.0 when the high reached the upper limit, 0.0
    when not, NaN where no band applies), ``locked`` (the close was at the limit too), and
    ``label_status`` (why a label is missing)."""
    pc = prices["PREV_CLOSE"].to_numpy(dtype=float)
    op = prices["OPEN_PRICE"].to_numpy(dtype=float)
    hi = prices["HIGH_PRICE"].to_numpy(dtype=float)
    cl = prices["CLOSE_PRICE"].to_numpy(dtype=float)
    b = band["circuit_band"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        gap = (op < pc * GAP_LOW) | (op > pc * GAP_HIGH)
        bad = ~(pc > 0) | np.isnan(hi) | np.isnan(cl)
    status = np.select(
        [
            prices["pos"].to_numpy() == 0,
            bad,
            gap,
            (band["band_source"].to_numpy() == "none"),
            np.isnan(b),
        ],
        [_STATUS[1], _STATUS[5], _STATUS[2], _STATUS[4], _STATUS[3]],
        _STATUS[0],
    )
    tick = tick_paise(prices["DATE1"].to_numpy(), pc)
    limit = upper_limit_paise(pc, b, tick)
    hi_paise, cl_paise = np.round(hi * 100), np.round(cl * 100)
    ok = status == _STATUS[0]
    hit = np.where(ok, (hi_paise >= limit).astype(float), np.nan)
    locked = np.where(ok, ((hi_paise >= limit) & (cl_paise == hi_paise)).astype(float), np.nan)
    return pd.DataFrame(
        {"upper_circuit": hit, "locked": locked, "label_status": status}, index=prices.index
    )


def etf_symbols(prices: pd.DataFrame, bands: pd.DataFrame) -> set[str]:
    """Symbols that are exchange-traded funds, by their sec_list name or the symbol's pattern."""
    by_name = bands.loc[bands["name"].str.upper().str.contains(_ETF_NAME, regex=True), "symbol"]
    symbols = pd.Series(prices["SYMBOL"].unique())
    by_symbol = symbols[symbols.str.upper().str.contains(_ETF_SYMBOL, regex=True)]
    return set(by_name) | set(by_symbol)


def status_counts(status: pd.Series) -> Counter[str]:
    return Counter(status.value_counts().to_dict())
