"""A slice of the real NSE files for the tests: a few symbols over a few months, plus every symbol on
12-18 Dec 2025 (the days NSE's own band-hitter list covers), in the layout of ``shared/data/real``.

The real files are read at test time from ``$UCTUNE_SHARED/data/real`` (:mod:`tests.shared`; CI has
them); nothing from them is committed.
"""

from __future__ import annotations

import io
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from tests.shared import REAL_DATA

REPO_ROOT = Path(__file__).resolve().parents[2]
REAL = REAL_DATA
BHAV = REAL / "nse_sec_bhavdata_full"
BANDS = REAL / "nse_price_bands"
CALENDAR = REAL / "moneycontrol_q1fy27_results_calendar"
PR_BUNDLE = REAL / "nse_pr_bundle_samples" / "nse_pr_bundle_2025-12-16_to_18.tar.xz"

# SHIVAMILLS/HYBRIDFIN: 5 % band, many hits; SAHASRA: SME; AJMERA: 1:5 split on 2026-01-14 with an
# unadjusted PREV_CLOSE; RELIANCE/TCS/TITAN: F&O (No Band), with results in the Q1 FY27 calendar.
SYMBOLS = frozenset(
    {"SHIVAMILLS", "HYBRIDFIN", "SAHASRA", "AJMERA", "20MICRONS", "RELIANCE", "TCS", "TITAN"}
)
FIRST = pd.Timestamp("2025-10-01")
ALL_SYMBOLS_DAYS = (pd.Timestamp("2025-12-12"), pd.Timestamp("2025-12-18"))

Keep = Callable[[bytes, pd.Timestamp], bool]


def date_of(line: bytes) -> pd.Timestamp:
    return pd.Timestamp(line.split(b",")[2].strip().decode())


def _default_keep(line: bytes, file_date: pd.Timestamp) -> bool:
    if ALL_SYMBOLS_DAYS[0] <= file_date <= ALL_SYMBOLS_DAYS[1]:
        return True
    return line.split(b",", 1)[0].decode() in SYMBOLS


def _file_date(name: str) -> pd.Timestamp:
    stem = Path(name).stem.rsplit("_", 1)[-1]
    return pd.Timestamp(int(stem[4:]), int(stem[2:4]), int(stem[:2]))


def bhavcopy_lines() -> dict[str, tuple[bytes, list[bytes]]]:
    """Member name -> (header, rows kept) of the 2025 (from October) and 2026 archives."""
    out: dict[str, tuple[bytes, list[bytes]]] = {}
    for year in (2025, 2026):
        with tarfile.open(BHAV / f"sec_bhavdata_full_{year}.tar.xz", mode="r|xz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                day = _file_date(member.name)
                handle = tar.extractfile(member)
                if day < FIRST or handle is None:
                    continue
                header, *rows = handle.read().rstrip(b"\n").split(b"\n")
                out[member.name] = (header, [r for r in rows if _default_keep(r, day)])
    return out


def write_source(
    dest: Path,
    lines: dict[str, tuple[bytes, list[bytes]]],
    *,
    keep_row: Callable[[bytes], bool] = lambda _row: True,
    keep_band: Callable[[pd.Timestamp], bool] = lambda _day: True,
) -> Path:
    """Write a source folder: the bhavcopy rows ``keep_row`` accepts, as one .tar.xz, and the
    sec_list snapshots whose date ``keep_band`` accepts, loose."""
    bhav = dest / "nse_sec_bhavdata_full"
    bhav.mkdir(parents=True)
    with tarfile.open(bhav / "sec_bhavdata_full_slice.tar.xz", mode="w:xz", preset=1) as tar:
        for name, (header, rows) in lines.items():
            kept = [r for r in rows if keep_row(r)]
            data = b"\n".join([header, *kept]) + b"\n"
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    bands = dest / "nse_price_bands" / "price_band_data"
    bands.mkdir(parents=True)
    with tarfile.open(next(BANDS.glob("*.tar.xz")), mode="r:xz") as tar:
        for member in tar.getmembers():
            if (
                member.isfile()
                and member.name.endswith(".csv")
                and keep_band(_file_date(member.name))
            ):
                handle = tar.extractfile(member)
                assert handle is not None
                (bands / Path(member.name).name).write_bytes(handle.read())
    return dest


def raw_rows(lines: dict[str, tuple[bytes, list[bytes]]], symbol: str) -> pd.DataFrame:
    """One symbol's rows of the slice, parsed plainly (pandas, spaces stripped), by date."""
    header = lines[next(iter(lines))][0]
    body = [r for _, rows in lines.values() for r in rows if r.split(b",", 1)[0] == symbol.encode()]
    frame = pd.read_csv(
        io.BytesIO(b"\n".join([header, *body])), skipinitialspace=True, na_values=["-"]
    )
    frame["DATE1"] = pd.to_datetime(frame["DATE1"], format="%d-%b-%Y")
    return (
        frame.drop_duplicates(["SYMBOL", "SERIES", "DATE1"])
        .sort_values("DATE1")
        .reset_index(drop=True)
    )


def band_hitters(dest: Path) -> pd.DataFrame:
    """NSE's own upper-band hitters (``bh`` files, ``H``) of 16-18 Dec 2025: symbol, session_date."""
    frames = []
    with tarfile.open(PR_BUNDLE, mode="r:xz") as tar:
        for member in tar.getmembers():
            name = Path(member.name).name
            if member.isfile() and name.startswith("bh") and name.endswith(".csv"):
                handle = tar.extractfile(member)
                assert handle is not None
                frame = pd.read_csv(handle, skipinitialspace=True)
                frame.columns = [c.strip() for c in frame.columns]
                frame["session_date"] = _file_date(name.replace("bh", "bh_"))
                frames.append(frame)
    hits = pd.concat(frames, ignore_index=True)
    hits = hits[hits["HIGH/LOW"].str.strip() == "H"]
    return hits.rename(columns={"SYMBOL": "symbol", "SERIES": "series"})[
        ["symbol", "series", "session_date"]
    ]


def copy_calendar(dest: Path) -> Path:
    target = dest / "calendar"
    shutil.copytree(CALENDAR, target)
    return target
