"""The earnings-event feature table: schema, validation, loading and the synthetic generator."""

from __future__ import annotations

from uctune.data.io import DEFAULT_DATASET, default_dataset_path, load_feature_table, read_table
from uctune.data.schema import (
    CATEGORICAL_COLUMNS,
    DATE_COLUMNS,
    ID_COLUMNS,
    LABEL,
    FeatureTable,
    fingerprint,
    validate_table,
)
from uctune.data.synth import generate

__all__ = [
    "CATEGORICAL_COLUMNS",
    "DATE_COLUMNS",
    "DEFAULT_DATASET",
    "ID_COLUMNS",
    "LABEL",
    "FeatureTable",
    "default_dataset_path",
    "fingerprint",
    "generate",
    "load_feature_table",
    "read_table",
    "validate_table",
]
