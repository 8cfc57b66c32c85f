"""The earnings-event feature table: its columns, and validation at the boundary.

One row is one company's quarterly results announcement. Columns fall into four roles:

* identifiers, never used as features: ``symbol`` and the row's date, ``announcement_date`` (an
  events table) or ``session_date`` (a daily table, one row per stock and session);
* declared categoricals, used as features: ``sector``;
* the label ``upper_circuit`` (1 if the stock closed at its upper price band on the results day);
* every other column is a numeric feature (``circuit_band`` included: the band, in percent, is known
  before the announcement and matters for how far the price must move).

NaN in a feature is allowed (each model family imputes or handles it natively); NaN in the label is not.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from uctune.errors import DataError

__all__ = [
    "LABEL",
    "ID_COLUMNS",
    "CATEGORICAL_COLUMNS",
    "DATE_COLUMNS",
    "FeatureTable",
    "validate_table",
    "fingerprint",
    "numeric_column",
]

LABEL = "upper_circuit"
logger = logging.getLogger(__name__)

ID_COLUMNS: tuple[str, ...] = ("symbol", "announcement_date", "session_date")
# A table's date column is whichever of these it has (the first, should it have both).
DATE_COLUMNS: tuple[str, ...] = ("announcement_date", "session_date")
CATEGORICAL_COLUMNS: tuple[str, ...] = ("sector",)

_MAX_SHOWN = 5


def _show(values: Sequence[Any]) -> str:
    """Render a handful of offending values for an error message."""
    shown = [repr(v.item() if isinstance(v, np.generic) else v) for v in list(values)[:_MAX_SHOWN]]
    more = f", ... ({len(values)} in all)" if len(values) > _MAX_SHOWN else ""
    return "{" + ", ".join(shown) + more + "}"


def numeric_column(series: pd.Series) -> tuple[np.ndarray, pd.Series, int]:
    """A feature column as floats (booleans as 0/1, text that is not a number as NaN), the
    entries that are not numbers, and the number of infinities, for the caller's own message."""
    if series.dtype == bool:
        series = series.astype(np.float64)
    numbers = series
    if not pd.api.types.is_numeric_dtype(series):
        numbers = pd.to_numeric(series, errors="coerce")
    not_numbers = series[numbers.isna() & series.notna()]
    values = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    return values, not_numbers, int(np.isinf(values).sum())


@dataclass(frozen=True)
class FeatureTable:
    """A validated feature table. Build it with :func:`validate_table`."""

    frame: pd.DataFrame = field(repr=False)
    features: tuple[str, ...]
    categorical: tuple[str, ...]
    label: str = LABEL
    source: str = "<frame>"

    @property
    def X(self) -> pd.DataFrame:  # noqa: N802 - the field's name for a feature matrix
        return self.frame.loc[:, list(self.features)]

    @property
    def y(self) -> np.ndarray:
        return self.frame[self.label].to_numpy(dtype=np.int64)

    @property
    def date_column(self) -> str | None:
        """The table's date column (see :data:`DATE_COLUMNS`), or ``None``."""
        return next((c for c in DATE_COLUMNS if c in self.frame.columns), None)

    @property
    def dates(self) -> pd.Series:
        column = self.date_column
        if column is None:
            raise DataError(
                "a time-ordered split needs a date column ("
                + " or ".join(repr(c) for c in DATE_COLUMNS)
                + f"), which {self.source} lacks"
            )
        return self.frame[column]

    @property
    def n_rows(self) -> int:
        return len(self.frame)

    @property
    def n_positive(self) -> int:
        return int(self.y.sum())

    def fingerprint(self) -> str:
        return fingerprint(self.frame)


def fingerprint(frame: pd.DataFrame) -> str:
    """A content hash of a table: column names, dtypes and every value, independent of the index."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(f"{c}:{frame[c].dtype}" for c in frame.columns).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return "sha256:" + digest.hexdigest()


def _check_label(frame: pd.DataFrame, label: str, source: str) -> pd.Series:
    if label not in frame.columns:
        raise DataError(
            f"label column {label!r} is missing from {source}; columns are {list(frame.columns)}"
        )
    raw = frame[label]
    if raw.dtype == bool:
        return raw.astype(np.int64)
    numeric = pd.to_numeric(raw, errors="coerce")
    not_numbers = raw[numeric.isna() & raw.notna()]
    if len(not_numbers):
        raise DataError(
            f"label column {label!r} must hold only 0/1, got values "
            f"{_show(sorted(set(map(str, not_numbers.unique()))))}"
        )
    bad_missing = numeric.isna() | np.isinf(numeric.to_numpy(dtype=float))
    if bad_missing.any():
        rows = list(np.flatnonzero(bad_missing.to_numpy()))
        raise DataError(
            f"label column {label!r} holds {int(bad_missing.sum())} missing or infinite values "
            f"(rows {_show(rows)}); every row needs 0 or 1"
        )
    values = numeric.to_numpy(dtype=float)
    bad = sorted(set(values[(values != 0) & (values != 1)].tolist()))
    if bad:
        bad_shown = [int(v) if float(v).is_integer() else v for v in bad]
        raise DataError(f"label column {label!r} must hold only 0/1, got values {_show(bad_shown)}")
    return pd.Series(values.astype(np.int64), index=frame.index, name=label)


def validate_table(
    frame: pd.DataFrame,
    *,
    label: str = LABEL,
    categorical: Sequence[str] = CATEGORICAL_COLUMNS,
    id_columns: Sequence[str] = ID_COLUMNS,
    min_rows_per_class: int = 5,
    source: str = "<frame>",
) -> FeatureTable:
    """Check a raw table against the schema and return it typed as a :class:`FeatureTable`.

    ``min_rows_per_class`` is the number of CV folds: each class needs at least one row per fold.
    Raises :class:`~uctune.errors.DataError` with a one-line message naming the rule and the value.
    """
    if len(frame.columns) == 0 or len(frame) == 0:
        raise DataError(f"{source} is empty: it has no rows")
    duplicated = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if duplicated:
        raise DataError(f"{source} has duplicated column names {_show(duplicated)}")

    y = _check_label(frame, label, source)
    counts = y.value_counts()
    if len(counts) < 2:
        only = int(counts.index[0])
        raise DataError(
            f"label column {label!r} holds a single class ({only}) in {len(frame)} rows; "
            "training needs both 0 and 1"
        )
    for cls in (0, 1):
        if counts[cls] < min_rows_per_class:
            raise DataError(
                f"class {cls} of {label!r} has {int(counts[cls])} rows, fewer than the "
                f"{min_rows_per_class} cross-validation folds"
            )

    out = frame.copy()
    out[label] = y
    for date_col in (c for c in DATE_COLUMNS if c in out.columns):
        parsed = pd.to_datetime(out[date_col], errors="coerce", format="ISO8601")
        bad_dates = out[date_col][parsed.isna()]
        if len(bad_dates):
            raise DataError(
                f"column {date_col!r} must hold dates (YYYY-MM-DD), got "
                f"{_show(list(bad_dates.astype(str).unique()))}"
            )
        out[date_col] = parsed

    keys = [c for c in ("symbol", *DATE_COLUMNS) if c in out.columns and c in id_columns]
    if "symbol" in keys and len(keys) > 1:
        repeated = int(out.duplicated(subset=keys).sum())
        if repeated:
            logger.warning(
                "%s: %d rows repeat the %s of an earlier row; each is kept as an event of its own",
                source,
                repeated,
                "(" + ", ".join(keys) + ")",
            )

    declared = set(categorical)
    features: list[str] = []
    cats: list[str] = []
    for col in out.columns:
        if col == label or col in id_columns:
            continue
        series = out[col]
        if col in declared:
            if series.isna().all():
                raise DataError(
                    f"feature column {col!r} is entirely missing ({len(out)} rows, all NaN)"
                )
            out[col] = series.astype("string").astype(
                pd.CategoricalDtype(sorted(series.dropna().astype(str).unique()))
            )
            cats.append(col)
            features.append(col)
            continue
        values, offending, n_inf = numeric_column(series)
        if len(offending):
            raise DataError(
                f"feature column {col!r} is not numeric (e.g. {_show(list(offending.unique()))}) "
                f"and is not a declared categorical ({', '.join(sorted(declared)) or 'none'})"
            )
        if np.isnan(values).all():
            raise DataError(
                f"feature column {col!r} is entirely missing ({len(out)} rows, all NaN)"
            )
        if n_inf:
            raise DataError(
                f"feature column {col!r} holds {n_inf} infinite values; use NaN for a missing value"
            )
        out[col] = values
        features.append(col)

    if not features:
        raise DataError(f"{source} has no feature columns besides {label!r} and the id columns")
    return FeatureTable(
        frame=out.reset_index(drop=True),
        features=tuple(features),
        categorical=tuple(cats),
        label=label,
        source=source,
    )
