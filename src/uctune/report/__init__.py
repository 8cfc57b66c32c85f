"""The evaluation report: figures, SHAP and one self-contained HTML page with a JSON twin.

>>> reports = assess_models([ModelInput("xgboost", proba, threshold=0.46, model=model)], y_test,
...                         X=X_test, background=X_train)
>>> html_path, json_path = write_report(build_report(reports), Path("out"))
"""

from __future__ import annotations

from uctune.report._assess import (
    ModelInput,
    ModelReport,
    assess_model,
    assess_models,
    check_inputs,
    progress_label,
    stored_threshold,
)
from uctune.report._render import Report, build_report, write_report
from uctune.report._settings import RANK_METRICS, RankMetric, ReportSettings
from uctune.report._tuning import STATUSES, TuningReport, param_importances, read_trials

__all__ = [
    "RANK_METRICS",
    "STATUSES",
    "ModelInput",
    "ModelReport",
    "RankMetric",
    "Report",
    "ReportSettings",
    "TuningReport",
    "assess_model",
    "assess_models",
    "build_report",
    "check_inputs",
    "param_importances",
    "progress_label",
    "read_trials",
    "stored_threshold",
    "write_report",
]
