"""Reading feature tables from CSV or Parquet, and locating the embedded default dataset."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from uctune.data.schema import FeatureTable, validate_table
from uctune.errors import DataError, NotFoundError, first_line

__all__ = ["DEFAULT_DATASET", "default_dataset_path", "read_table", "load_feature_table"]

DEFAULT_DATASET = "events.csv"
_READERS = {".csv": "csv", ".gz": "csv", ".parquet": "parquet", ".pq": "parquet"}


def default_dataset_path() -> Path:
    """The embedded dataset: ``$UCTUNE_DATA_DIR/events.csv``, else ``data/events.csv`` of the checkout."""
    override = os.environ.get("UCTUNE_DATA_DIR")
    base = Path(override) if override else Path(__file__).resolve().parents[3] / "data"
    path = base / DEFAULT_DATASET
    if not path.is_file():
        raise NotFoundError(
            f"the embedded dataset {str(path)!r} is not there; pass --data PATH or set UCTUNE_DATA_DIR"
        )
    return path


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV (optionally gzipped) or Parquet file into a DataFrame, with one-line errors."""
    p = Path(path)
    kind = _READERS.get(p.suffix.lower())
    if kind is None:
        raise DataError(
            f"data file {str(p)!r} has an unsupported suffix {p.suffix!r}; use .csv, .csv.gz or .parquet"
        )
    if not p.is_file():
        raise NotFoundError(f"data file {str(p)!r} does not exist")
    if p.stat().st_size == 0:
        raise DataError(f"data file {str(p)!r} is empty (0 bytes)")
    try:
        if kind == "csv":
            return pd.read_csv(p)
        return pd.read_parquet(p)
    except pd.errors.EmptyDataError:
        raise DataError(f"data file {str(p)!r} is empty: it has no header and no rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        first = first_line(exc)
        raise DataError(f"data file {str(p)!r} cannot be read as {kind}: {first}") from None


def load_feature_table(
    path: str | os.PathLike[str] | pd.DataFrame | None = None, *, n_folds: int = 5
) -> FeatureTable:
    """Load and validate a feature table; ``None`` means the embedded default dataset."""
    if isinstance(path, pd.DataFrame):
        return validate_table(path, min_rows_per_class=n_folds)
    p = default_dataset_path() if path is None else Path(path)
    return validate_table(read_table(p), min_rows_per_class=n_folds, source=f"data file {str(p)!r}")
