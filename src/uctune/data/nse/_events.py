"""The events table: one row per results announcement, features as of the close before the
reaction day, label "the band was hit on the reaction day or the next session"."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from uctune.data.nse._daily import FEATURES, STATE_FEATURES, band_in_force
from uctune.data.nse._read import normalise_name

__all__ = ["Sessions", "sessions", "build_events"]


@dataclass(frozen=True)
class Sessions:
    """The exchange's sessions as the archive shows them."""

    all: pd.DatetimeIndex  # bhavcopy dates and the missing sessions
    missing: pd.DatetimeIndex  # weekdays inside a gap of the archive
    after_gap: pd.DatetimeIndex  # bhavcopy dates whose previous session is not in the archive


def sessions(prices: pd.DataFrame) -> Sessions:
    """The exchange's sessions: every bhavcopy date, plus the weekdays inside a gap that the data
    show to be missing sessions rather than holidays (fewer than half of the stocks traded on
    both sides carry the earlier close as their PREV_CLOSE)."""
    dates = pd.DatetimeIndex(np.sort(prices["DATE1"].unique()))
    frame = prices[["DATE1", "PREV_CLOSE", "CLOSE_PRICE", "pos"]]
    prev_date = frame["DATE1"].shift(1)
    prev_close = frame["CLOSE_PRICE"].shift(1)
    order = pd.Series(np.arange(len(dates)), index=dates)
    day_before = pd.Series(dates[np.maximum(order.to_numpy() - 1, 0)], index=dates)
    consecutive = (frame["pos"] > 0) & (prev_date == frame["DATE1"].map(day_before))
    same = (frame["PREV_CLOSE"] - prev_close).abs() < 0.005
    share = same[consecutive].groupby(frame["DATE1"][consecutive]).mean()
    after_gap = pd.DatetimeIndex(share.index[share < 0.5])
    missing: list[pd.Timestamp] = []
    for after in after_gap:  # one entry per gap, not per row
        before = day_before[after]
        between = pd.bdate_range(before + pd.Timedelta(days=1), after - pd.Timedelta(days=1))
        missing.extend(between)
    gaps = pd.DatetimeIndex(sorted(missing))
    return Sessions(all=dates.union(gaps), missing=gaps, after_gap=after_gap)


def _match_symbols(calendar: pd.DataFrame, bands: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Each event's symbol: the calendar's own, else the one whose sec_list name normalises to the
    same key as the company's (when exactly one does); and how it was found."""
    names = bands.drop_duplicates("symbol", keep="last")[["symbol", "name"]]
    names = names.assign(key=names["name"].map(normalise_name))
    unique = names.drop_duplicates("key", keep=False).set_index("key")["symbol"]
    symbol = calendar["symbol"].fillna("").astype(str)
    by_name = calendar["company"].fillna("").astype(str).map(normalise_name).map(unique)
    use_name = (symbol == "") & by_name.notna()
    matched_by = np.where(symbol != "", "calendar symbol", np.where(use_name, "sec_list name", ""))
    symbol = symbol.where(~use_name, by_name).fillna("")
    return symbol, pd.Series(matched_by, index=calendar.index)


def build_events(
    calendar: pd.DataFrame,
    prices: pd.DataFrame,
    state: pd.DataFrame,
    labels: pd.DataFrame,
    bands: pd.DataFrame,
    etf: set[str],
    calendar_sessions: Sessions,
) -> tuple[pd.DataFrame, pd.DataFrame, list[tuple[str, int]]]:
    """(events table, its metadata, funnel). ``prices``/``state``/``labels`` are row-aligned;
    ``calendar_sessions`` is :func:`sessions` of ``prices``."""
    funnel: list[tuple[str, int]] = [("calendar rows", len(calendar))]
    symbol, matched_by = _match_symbols(calendar, bands)
    ev = calendar.assign(symbol=symbol, matched_by=matched_by)
    n = len(ev)
    ev = ev[ev["symbol"] != ""]
    funnel.append(("dropped: no NSE symbol (not in the symbol map or sec_list names)", n - len(ev)))
    n = len(ev)
    ev = ev[ev["symbol"].isin(set(prices["SYMBOL"].unique()))]
    funnel.append(("dropped: symbol not in the bhavcopy share series", n - len(ev)))
    n = len(ev)
    ev = ev.drop_duplicates(["symbol", "announcement_date"]).reset_index(drop=True)
    funnel.append(("dropped: repeated (symbol, date)", n - len(ev)))

    all_sessions, missing = calendar_sessions.all, calendar_sessions.missing
    at = all_sessions.searchsorted(ev["announcement_date"].to_numpy(), side="left")
    last = len(all_sessions)
    d0 = pd.Series(all_sessions[np.minimum(at, last - 1)], index=ev.index).where(at < last)
    d1 = pd.Series(all_sessions[np.minimum(at + 1, last - 1)], index=ev.index).where(at + 1 < last)
    ev = ev.assign(reaction_date=d0, next_session=d1)

    # Features: the state at the stock's last row strictly before the reaction day.
    rows = pd.DataFrame(
        {
            "symbol": prices["SYMBOL"].to_numpy(),
            "date": prices["DATE1"].to_numpy().astype("datetime64[ns]"),
        }
    ).assign(_row=np.arange(len(prices)))
    probe = ev[["symbol"]].assign(
        date=ev["reaction_date"].fillna(ev["announcement_date"]).astype("datetime64[ns]"),
        _event=np.arange(len(ev)),
    )
    asof = pd.merge_asof(
        probe.sort_values("date"),
        rows.sort_values("date"),
        on="date",
        by="symbol",
        allow_exact_matches=False,
    ).sort_values("_event")
    has_history = asof["_row"].notna().to_numpy()
    n = len(ev)
    ev, asof = ev[has_history].reset_index(drop=True), asof[has_history]
    funnel.append(("dropped: no price row before the reaction day", n - len(ev)))
    src = asof["_row"].to_numpy(dtype=np.int64)
    feats = state.iloc[src][list(STATE_FEATURES)].reset_index(drop=True)
    feats["sessions_listed"] = prices["pos"].to_numpy()[src] + 1.0
    band = band_in_force(
        ev.assign(date=ev["reaction_date"].fillna(ev["announcement_date"])),
        bands,
        date_column="date",
    )
    feats["circuit_band"] = band["circuit_band"].to_numpy()
    feats["etf"] = ev["symbol"].isin(etf).to_numpy(dtype=float)

    # Labels: the daily labels of the reaction day and the next session (NaN where the stock has
    # no row, the session is missing from the archive, or no band applies).
    keyed = pd.DataFrame(
        {
            "symbol": prices["SYMBOL"].to_numpy(),
            "date": prices["DATE1"].to_numpy(),
            "hit": labels["upper_circuit"].to_numpy(),
            "locked": labels["locked"].to_numpy(),
        }
    )

    def on(day: pd.Series) -> pd.DataFrame:
        probe = pd.DataFrame({"symbol": ev["symbol"], "date": day})
        return probe.merge(keyed, on=["symbol", "date"], how="left")

    l0, l1 = on(ev["reaction_date"]), on(ev["next_session"])

    def either(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = np.full(len(a), np.nan)
        out[(a == 0) & (b == 0)] = 0.0
        out[(a == 1) | (b == 1)] = 1.0
        return out

    hit0, hit1 = l0["hit"].to_numpy(), l1["hit"].to_numpy()
    status = np.select(
        [
            ev["reaction_date"].isna().to_numpy(),
            ev["reaction_date"].isin(missing).to_numpy(),
            np.isnan(hit0) & np.isnan(hit1),
            np.isnan(either(hit0, hit1)),
        ],
        [
            "reaction day after the archive's end",
            "reaction day missing from the archive",
            "no label on either day (no row, price gap or no band)",
            "one day unlabelled and no hit on the other",
        ],
        "labelled",
    )
    table = pd.concat(
        [
            ev[["symbol", "announcement_date"]].reset_index(drop=True),
            feats[list(FEATURES)],
            pd.DataFrame({"upper_circuit": either(hit0, hit1)}),
        ],
        axis=1,
    )
    meta = pd.DataFrame(
        {
            "symbol": ev["symbol"],
            "announcement_date": ev["announcement_date"],
            "company": ev["company"],
            "matched_by": ev["matched_by"],
            "reaction_date": ev["reaction_date"],
            "next_session": ev["next_session"],
            "features_as_of": prices["DATE1"].to_numpy()[src],
            "band_source": band["band_source"].to_numpy(),
            "upper_circuit_d0": hit0,
            "locked_d0_or_d1": either(l0["locked"].to_numpy(), l1["locked"].to_numpy()),
            "label_status": status,
        }
    )
    funnel.append(("events kept", len(table)))
    return table, meta, funnel
