"""Reading NSE's raw files as they are published: bhavcopy archives, ``sec_list`` band snapshots and
a results calendar. Every problem is a one-line :class:`~uctune.errors.DataError` (or
:class:`~uctune.errors.NotFoundError`) that names the file."""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from uctune.errors import DataError, NotFoundError, first_line

__all__ = [
    "BHAV_DIR",
    "BANDS_DIR",
    "EQUITY_SERIES",
    "Sources",
    "find_sources",
    "read_bhavcopy",
    "read_bands",
    "read_calendar",
    "normalise_name",
]

BHAV_DIR = "nse_sec_bhavdata_full"
BANDS_DIR = "nse_price_bands"
# Share series: rolling settlement (EQ), trade-for-trade (BE, BZ), SME (SM, ST). Bonds, ETF units
# in other series, warrants and the like are not stocks.
EQUITY_SERIES = ("EQ", "BE", "BZ", "SM", "ST")

_NUMERIC = (
    "PREV_CLOSE",
    "OPEN_PRICE",
    "HIGH_PRICE",
    "LOW_PRICE",
    "LAST_PRICE",
    "CLOSE_PRICE",
    "AVG_PRICE",
    "TTL_TRD_QNTY",
    "TURNOVER_LACS",
    "NO_OF_TRADES",
    "DELIV_QTY",
    "DELIV_PER",
)
BHAV_COLUMNS = ("SYMBOL", "SERIES", "DATE1", *_NUMERIC)
_BAND_NAME = re.compile(r"(?:^|_)(\d{2})(\d{2})(\d{4})\.csv$")
_BAND_COLUMNS = ("Symbol", "Series", "Security Name", "Band")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Sources:
    """The raw files found under a source folder."""

    bhavcopy: tuple[Path, ...]
    bands: tuple[Path, ...]


def _files(folder: Path, what: str) -> tuple[Path, ...]:
    if not folder.is_dir():
        raise NotFoundError(f"the source has no folder {str(folder)!r} ({what})")
    found = tuple(
        sorted(
            p
            for p in folder.rglob("*")
            if p.is_file() and (p.name.endswith(".tar.xz") or p.name.lower().endswith(".csv"))
        )
    )
    if not found:
        raise NotFoundError(f"folder {str(folder)!r} holds no .tar.xz or .csv files ({what})")
    return found


def find_sources(source: Path) -> Sources:
    """Locate the bhavcopy and band files under ``source`` (laid out as ``shared/data/real``)."""
    if not source.is_dir():
        raise NotFoundError(f"source folder {str(source)!r} does not exist")
    bhav = _files(source / BHAV_DIR, "NSE bhavcopy archives sec_bhavdata_full_*")
    bands = tuple(
        p
        for p in _files(source / BANDS_DIR, "NSE sec_list price-band snapshots")
        if p.name.endswith(".tar.xz") or _BAND_NAME.search(p.name)
    )
    if not bands:
        raise NotFoundError(
            f"folder {str(source / BANDS_DIR)!r} holds no sec_list snapshot named DDMMYYYY.csv"
        )
    return Sources(bhavcopy=bhav, bands=bands)


def _members(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of each CSV in ``path``: the file itself, or the members of a .tar.xz."""
    if not path.name.endswith(".tar.xz"):
        yield path.name, path.read_bytes()
        return
    try:
        with tarfile.open(path, mode="r|xz") as tar:
            for member in tar:
                if not member.isfile() or not member.name.lower().endswith(".csv"):
                    continue
                handle = tar.extractfile(member)
                if handle is not None:
                    yield member.name, handle.read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(
            f"archive {str(path)!r} cannot be read as a .tar.xz: {first_line(exc)}"
        ) from None


def _parse_bhavcopy(chunks: list[bytes], label: str) -> pa.Table:
    data = b"\n".join(chunks).replace(b", ", b",")
    types = {c: pa.string() for c in ("SYMBOL", "SERIES", "DATE1")}
    types.update({c: pa.float64() for c in _NUMERIC})
    try:
        return pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=list(BHAV_COLUMNS), skip_rows=0),
            convert_options=pacsv.ConvertOptions(
                column_types=types, null_values=["-", ""], strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"{label} is not a readable bhavcopy: {first_line(exc)}") from None


def read_bhavcopy(paths: tuple[Path, ...], progress: Progress | None = None) -> pd.DataFrame:
    """Every row of every bhavcopy file, spaces stripped, as a DataFrame with NSE's column names
    (``DATE1`` parsed to a date, ``-`` read as NaN) plus ``FILE`` (a code for the file read)."""
    header = ",".join(BHAV_COLUMNS).encode()
    tables: list[pa.Table] = []
    n_files = 0
    for path in paths:
        chunks: list[bytes] = []
        for name, raw in _members(path):
            label = f"{str(path)!r}" + (f" (member {name!r})" if name != path.name else "")
            first, _, body = raw.partition(b"\n")
            if first.replace(b" ", b"").rstrip(b"\r") != header:
                raise DataError(
                    f"{label} is not an NSE bhavcopy (sec_bhavdata_full): its header is "
                    f"{first[:80].decode(errors='replace')!r}, expected {header.decode()!r}"
                )
            body = body.rstrip(b"\r\n")
            head, _, last = body.rpartition(b"\n")
            if last.count(b",") != len(BHAV_COLUMNS) - 1:
                # A truncated download ends mid-row (2022-05-04, 2024-11-18): keep whole rows.
                body = head
            if body.strip():
                chunks.append(body)
            n_files += 1
        if not chunks:
            raise DataError(f"{str(path)!r} holds no bhavcopy CSV (sec_bhavdata_full_DDMMYYYY.csv)")
        tables.append(_parse_bhavcopy(chunks, f"{str(path)!r}"))
        if progress:
            rows = sum(t.num_rows for t in tables)
            progress(f"read {path.name}: {n_files} files, {rows:,} rows so far")
    frame = pa.concat_tables(tables).to_pandas()
    dates = frame["DATE1"].astype("category")
    parsed = pd.to_datetime(dates.cat.categories, format="%d-%b-%Y", errors="coerce")
    if parsed.isna().any():
        bad = list(dates.cat.categories[parsed.isna()][:3])
        raise DataError(f"bhavcopy DATE1 must read DD-Mon-YYYY, got {bad} in {paths[0].parent}")
    frame["DATE1"] = pd.Series(
        np.asarray(parsed)[dates.cat.codes.to_numpy()], index=frame.index
    ).astype("datetime64[ns]")
    return frame


def _band_date(name: str, label: str) -> pd.Timestamp:
    match = _BAND_NAME.search(Path(name).name)
    if match is None:
        raise DataError(f"{label}: a sec_list snapshot must be named DDMMYYYY.csv, got {name!r}")
    day, month, year = match.groups()
    try:
        return pd.Timestamp(int(year), int(month), int(day))
    except ValueError:
        raise DataError(f"{label}: {name!r} does not name a date (DDMMYYYY)") from None


def read_bands(paths: tuple[Path, ...]) -> pd.DataFrame:
    """All ``sec_list`` snapshots: ``symbol``, ``series``, ``name``, ``band`` (percent, NaN for
    ``No Band``), ``remarks`` and ``band_date`` (the file's date: its bands apply from the next
    session on)."""
    frames = []
    for path in paths:
        for name, raw in _members(path):
            label = f"{str(path)!r}" + (f" (member {name!r})" if name != path.name else "")
            if not _BAND_NAME.search(Path(name).name):
                continue
            try:
                snap = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
                raise DataError(
                    f"{label} is not a readable sec_list CSV: {first_line(exc)}"
                ) from None
            snap.columns = [str(c).strip() for c in snap.columns]
            missing = [c for c in _BAND_COLUMNS if c not in snap.columns]
            if missing:
                raise DataError(
                    f"{label} is not an NSE sec_list snapshot: it lacks column(s) {missing}"
                )
            band_text = snap["Band"].str.strip()
            band = pd.to_numeric(band_text, errors="coerce")
            odd = band_text[band.isna() & (band_text.str.lower() != "no band")]
            if len(odd):
                raise DataError(
                    f"{label}: Band must be a number or 'No Band', got {sorted(set(odd))[:3]}"
                )
            frames.append(
                pd.DataFrame(
                    {
                        "symbol": snap["Symbol"].str.strip(),
                        "series": snap["Series"].str.strip(),
                        "name": snap["Security Name"].str.strip(),
                        "band": band.astype(float),
                        "remarks": snap.get("Remarks", pd.Series("", index=snap.index)).str.strip(),
                        "band_date": _band_date(name, label),
                    }
                )
            )
    if not frames:
        raise NotFoundError(f"no sec_list snapshot (DDMMYYYY.csv) found in {str(paths[0])!r}")
    bands = pd.concat(frames, ignore_index=True).astype({"band_date": "datetime64[ns]"})
    # A symbol listed twice in one file (two series): keep the share series' row.
    rank = bands["series"].map({s: i for i, s in enumerate(EQUITY_SERIES)}).fillna(99)
    bands = bands.assign(_rank=rank).sort_values(["band_date", "symbol", "_rank"])
    bands = bands.drop_duplicates(["band_date", "symbol"]).drop(columns="_rank")
    return bands.reset_index(drop=True)


def normalise_name(name: str) -> str:
    """A company name as the Moneycontrol calendar keys it: lower case, ``&`` as ``and``, without
    brackets, ``ltd``/``limited``/``the`` and punctuation."""
    text = name.lower().replace("&", " and ")
    text = re.sub(r"[()\[\]{}]", " ", text)
    text = re.sub(r"[^a-z0-9 ]", " ", text)
    words = [w for w in text.split() if w not in {"ltd", "limited", "the"}]
    return "".join(words)


_DATE_COLUMNS = ("results_date", "announcement_date", "date", "result_date")
_SYMBOL_COLUMNS = ("symbol", "nse_symbol", "ticker")
_NAME_COLUMNS = ("company", "company_name", "name", "security_name")


def _calendar_csv(path: Path) -> pd.DataFrame:
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(
            f"calendar {str(path)!r} cannot be read as CSV: {first_line(exc)}"
        ) from None
    columns = {str(c).strip().lower(): c for c in raw.columns}
    date_col = next((columns[c] for c in _DATE_COLUMNS if c in columns), None)
    if date_col is None:
        raise DataError(
            f"calendar {str(path)!r} has no date column (one of {', '.join(_DATE_COLUMNS)}); "
            f"its columns are {list(raw.columns)}"
        )
    sym_col = next((columns[c] for c in _SYMBOL_COLUMNS if c in columns), None)
    name_col = next((columns[c] for c in _NAME_COLUMNS if c in columns), None)
    if sym_col is None and name_col is None:
        raise DataError(
            f"calendar {str(path)!r} has neither a symbol column ({', '.join(_SYMBOL_COLUMNS)}) "
            f"nor a company-name column ({', '.join(_NAME_COLUMNS)}); "
            f"its columns are {list(raw.columns)}"
        )
    dates = pd.to_datetime(raw[date_col].str.strip(), errors="coerce", format="ISO8601")
    if dates.isna().any():
        bad = sorted(set(raw[date_col][dates.isna()]))[:3]
        raise DataError(
            f"calendar {str(path)!r}: {date_col!r} must hold YYYY-MM-DD dates, got {bad}"
        )
    symbol = raw[sym_col].str.strip().str.upper() if sym_col is not None else ""
    company = raw[name_col].str.strip() if name_col is not None else ""
    return pd.DataFrame(
        {
            "symbol": symbol,
            "company": company,
            "announcement_date": dates.dt.normalize().astype("datetime64[ns]"),
        }
    )


def _calendar_moneycontrol(folder: Path) -> pd.DataFrame:
    events_path = folder / "earnings_data.json"
    tickers_path = folder / "tickers.json"
    for p in (events_path, tickers_path):
        if not p.is_file():
            raise NotFoundError(
                f"calendar folder {str(folder)!r} lacks {p.name} (a Moneycontrol results calendar "
                "has earnings_data.json and tickers.json)"
            )
    try:
        payload = json.loads(events_path.read_text())
        tickers = json.loads(tickers_path.read_text())
        items = payload["list"]
        as_of = pd.to_datetime(payload.get("asOnDate"), format="%d/%m/%Y", errors="coerce")
        frame = pd.DataFrame.from_records(items)
        dates, names = frame["date"].astype(str), frame["stockName"].astype(str)
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"calendar {str(events_path)!r} is not a Moneycontrol calendar "
            f"({{'list': [{{'date', 'stockName', ...}}]}}): {first_line(exc)}"
        ) from None
    if pd.isna(as_of):
        raise DataError(f"calendar {str(events_path)!r}: asOnDate must read DD/MM/YYYY")
    # Dates read "29 Jul": the calendar's season is the one of its asOnDate.
    parsed = pd.to_datetime(dates + f" {as_of.year}", format="%d %b %Y", errors="coerce")
    if parsed.isna().any():
        raise DataError(
            f"calendar {str(events_path)!r}: date must read like '29 Jul', got "
            f"{sorted(set(dates[parsed.isna()]))[:3]}"
        )
    keys = names.map(normalise_name)
    symbol = keys.map(lambda k: tickers.get(k) or "")
    return pd.DataFrame(
        {
            "symbol": symbol.str.upper(),
            "company": names,
            "announcement_date": parsed.astype("datetime64[ns]"),
        }
    )


def read_calendar(path: Path) -> pd.DataFrame:
    """A results calendar as ``symbol`` (may be empty), ``company`` (may be empty) and
    ``announcement_date``: a CSV file, or a Moneycontrol calendar folder."""
    if path.is_dir():
        return _calendar_moneycontrol(path)
    if not path.is_file():
        raise NotFoundError(f"calendar {str(path)!r} does not exist")
    return _calendar_csv(path)
