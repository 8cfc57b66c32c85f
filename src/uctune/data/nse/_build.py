"""``build``: raw NSE files -> ``daily.parquet``, ``events.parquet``, metadata, data card, summary.

Outputs are written to a temporary folder beside ``out`` and renamed into place at the end, so a
failed build leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from uctune.data.nse._daily import (
    FEATURES,
    band_in_force,
    clean_prices,
    compute_state,
    etf_symbols,
    label_sessions,
)
from uctune.data.nse._events import build_events, sessions
from uctune.data.nse._read import Progress, find_sources, read_bands, read_bhavcopy, read_calendar
from uctune.errors import ConfigError, DataError

__all__ = ["HOLDOUT_START", "BuildSummary", "build", "card_path", "sample_daily"]

# The July-August 2026 results events are the project's final holdout. No label statistic of a
# session on or after this date is computed for a summary, and `sample_daily` never draws one:
# May-June is a margin, so that no window of a training row reaches into the holdout season.
HOLDOUT_START = pd.Timestamp("2026-05-01")
LATEST_SAMPLE_BEFORE = pd.Timestamp("2026-07-01")
_FLOAT = np.float32  # features are measurements to a few digits; halves the files


def card_path() -> Path:
    """The data card, ``data/NSE.md`` of the checkout."""
    return Path(__file__).resolve().parents[4] / "data" / "NSE.md"


@dataclass
class BuildSummary:
    """What a build wrote; label statistics cover sessions/events before :data:`HOLDOUT_START`."""

    out: Path
    seconds: float = 0.0
    daily_rows: int = 0
    daily_rows_before: int = 0
    daily_labelled_before: int = 0
    daily_positive_before: int = 0
    daily_rows_holdout: int = 0
    first_session: str = ""
    last_session: str = ""
    symbols: int = 0
    missing_sessions: list[str] = field(default_factory=list)
    price_funnel: list[tuple[str, int]] = field(default_factory=list)
    label_funnel_before: list[tuple[str, int]] = field(default_factory=list)
    events_rows: int | None = None
    events_before: int = 0
    events_labelled_before: int = 0
    events_positive_before: int = 0
    events_holdout: int = 0
    events_funnel: list[tuple[str, int]] = field(default_factory=list)

    @property
    def base_rate_before(self) -> float:
        return self.daily_positive_before / max(self.daily_labelled_before, 1)

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["out"] = str(self.out)
        out["base_rate_before"] = self.base_rate_before
        out["holdout_start"] = HOLDOUT_START.date().isoformat()
        return out

    def lines(self) -> list[str]:
        cut = HOLDOUT_START.date().isoformat()
        text = [
            f"daily.parquet: {self.daily_rows:,} stock-sessions, {self.symbols:,} symbols, "
            f"{self.first_session} to {self.last_session}",
            f"  before {cut}: {self.daily_rows_before:,} rows, {self.daily_labelled_before:,} "
            f"labelled, {self.daily_positive_before:,} upper-band hits "
            f"(base rate {self.base_rate_before:.2%})",
            f"  on or after {cut}: {self.daily_rows_holdout:,} rows; label statistics withheld "
            "(they include the final holdout, the July-August 2026 results season)",
            "  price rows: " + "; ".join(f"{k} {v:,}" for k, v in self.price_funnel),
            f"  unlabelled before {cut}: "
            + (
                "; ".join(f"{k} {v:,}" for k, v in self.label_funnel_before if k != "labelled")
                or "none"
            ),
            "  missing sessions detected: "
            + (", ".join(self.missing_sessions[:6]) or "none")
            + (
                f", ... ({len(self.missing_sessions)} in all)"
                if len(self.missing_sessions) > 6
                else ""
            ),
        ]
        if self.events_rows is not None:
            text += [
                f"events.parquet: {self.events_rows:,} events",
                "  " + "; ".join(f"{k} {v:,}" for k, v in self.events_funnel),
                f"  dated before {cut}: {self.events_before:,} events, "
                f"{self.events_labelled_before:,} labelled, {self.events_positive_before:,} hits",
                f"  dated on or after {cut}: {self.events_holdout:,} events; labels withheld "
                "(final holdout: never train, tune or report on them)",
            ]
        return text


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    frame.to_parquet(path, index=False, compression="zstd")


def _as_float(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return frame.astype({c: _FLOAT for c in columns})


def build(
    source: Path,
    out: Path,
    *,
    calendar: Path | None = None,
    progress: Progress | None = None,
) -> BuildSummary:
    """Build the NSE tables from the raw files under ``source`` into the folder ``out``."""
    say = progress or (lambda _line: None)
    started = time.perf_counter()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {str(out)!r} is a file; give a folder")
    files = find_sources(source)
    cal = read_calendar(calendar) if calendar is not None else None  # fail before the long part
    summary = BuildSummary(out=out)

    raw = read_bhavcopy(files.bhavcopy, progress=say)
    bands = read_bands(files.bands)
    say(f"read {bands['band_date'].nunique()} sec_list snapshots ({len(bands):,} rows)")
    prices = clean_prices(raw)
    del raw
    frame = prices.frame
    summary.price_funnel = prices.funnel
    say(f"cleaned: {len(frame):,} stock-sessions of {frame['SYMBOL'].nunique():,} symbols")
    if frame.empty:
        raise DataError(f"no share rows ({', '.join(('EQ', 'BE', 'BZ', 'SM', 'ST'))}) in {source}")

    band = band_in_force(frame.rename(columns={"SYMBOL": "symbol"}), bands, date_column="DATE1")
    labels = label_sessions(frame, band)
    calendar_sessions = sessions(frame)
    after_gap = frame["DATE1"].isin(calendar_sessions.after_gap).to_numpy()
    state = compute_state(frame, labels["upper_circuit"].fillna(0.0).to_numpy(), after_gap)
    say("features computed")

    # The daily row of session t shows the state as of the stock's previous row.
    pos = frame["pos"].to_numpy()
    shifted = state[list(state.columns.drop("gap"))].shift(1)
    shifted.loc[pos == 0, :] = np.nan
    etf = etf_symbols(frame, bands)
    daily = pd.DataFrame({"symbol": frame["SYMBOL"].to_numpy(), "session_date": frame["DATE1"]})
    for name in FEATURES:
        if name == "sessions_listed":
            daily[name] = pos.astype(float)
        elif name == "circuit_band":
            daily[name] = band["circuit_band"].to_numpy()
        elif name == "etf":
            daily[name] = frame["SYMBOL"].isin(etf).to_numpy(dtype=float)
        else:
            daily[name] = shifted[name].to_numpy()
    daily["upper_circuit"] = labels["upper_circuit"].to_numpy()
    daily = _as_float(daily, list(FEATURES))
    meta = pd.DataFrame(
        {
            "symbol": daily["symbol"],
            "session_date": daily["session_date"],
            "series": frame["SERIES"].astype("category"),
            "band_source": band["band_source"].astype("category").to_numpy(),
            "locked": labels["locked"].to_numpy(),
            "label_status": labels["label_status"].astype("category").to_numpy(),
        }
    )

    before = (daily["session_date"] < HOLDOUT_START).to_numpy()
    summary.daily_rows = len(daily)
    summary.symbols = int(daily["symbol"].nunique())
    summary.first_session = str(daily["session_date"].min().date())
    summary.last_session = str(daily["session_date"].max().date())
    summary.daily_rows_before = int(before.sum())
    summary.daily_rows_holdout = int((~before).sum())
    y_before = daily["upper_circuit"].to_numpy()[before]
    summary.daily_labelled_before = int((~np.isnan(y_before)).sum())
    summary.daily_positive_before = int(np.nansum(y_before))
    counts = meta["label_status"][before].value_counts()
    summary.label_funnel_before = [(str(k), int(v)) for k, v in counts.items() if v]

    events = events_meta = None
    if cal is not None:
        events, events_meta, funnel = build_events(
            cal, frame, state, labels, bands, etf, calendar_sessions
        )
        events = _as_float(events, list(FEATURES))
        summary.events_rows = len(events)
        summary.events_funnel = funnel
        ev_before = (events["announcement_date"] < HOLDOUT_START).to_numpy()
        y_ev = events["upper_circuit"].to_numpy()[ev_before]
        summary.events_before = int(ev_before.sum())
        summary.events_labelled_before = int((~np.isnan(y_ev)).sum())
        summary.events_positive_before = int(np.nansum(y_ev))
        summary.events_holdout = int((~ev_before).sum())
    summary.missing_sessions = [d.date().isoformat() for d in calendar_sessions.missing]
    summary.seconds = time.perf_counter() - started

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        _write_parquet(daily, tmp / "daily.parquet")
        _write_parquet(meta, tmp / "daily.meta.parquet")
        if events is not None and events_meta is not None:
            _write_parquet(events, tmp / "events.parquet")
            _write_parquet(events_meta, tmp / "events.meta.parquet")
        card = card_path()
        text = card.read_text() if card.is_file() else "# NSE tables\n"
        text += "\n## This build\n\n```\n" + "\n".join(summary.lines()) + "\n```\n"
        (tmp / "NSE.md").write_text(text)
        (tmp / "summary.json").write_text(json.dumps(summary.as_dict(), indent=2) + "\n")
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / "previous")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    say(f"wrote {out} in {time.perf_counter() - started:.0f} s")
    return summary


def sample_daily(
    path: Path, *, rows: int, before: pd.Timestamp = HOLDOUT_START, seed: int = 0
) -> pd.DataFrame:
    """``rows`` labelled rows of a daily table dated strictly before ``before``, drawn without
    replacement (all of them when there are fewer), sorted by date and symbol."""
    from uctune.data.io import read_table

    if rows < 1:
        raise ConfigError(f"--rows must be at least 1, got {rows}")
    if before > LATEST_SAMPLE_BEFORE:
        raise ConfigError(
            f"--before must be on or before {LATEST_SAMPLE_BEFORE.date()}, got {before.date()}: "
            "the July-August 2026 results season is the final holdout and is never trained on"
        )
    frame = read_table(path)
    if "session_date" not in frame.columns or "upper_circuit" not in frame.columns:
        raise DataError(
            f"{str(path)!r} is not a daily NSE table: it needs 'session_date' and "
            f"'upper_circuit'; its columns are {list(frame.columns)[:8]}"
        )
    dates = pd.to_datetime(frame["session_date"])
    keep = frame[(dates < before).to_numpy() & frame["upper_circuit"].notna().to_numpy()]
    if keep.empty:
        raise DataError(f"{str(path)!r} has no labelled row dated before {before.date()}")
    if rows < len(keep):
        keep = keep.sample(n=rows, random_state=seed)
    keep = keep.sort_values(["session_date", "symbol"]).reset_index(drop=True)
    return keep.astype({"upper_circuit": np.int64})
