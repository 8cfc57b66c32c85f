"""ModelEvaluator: test-split metrics, plots and SHAP for several models, and one HTML report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from uctune.errors import ConfigError, NotFoundError

__all__ = ["ModelEvaluator"]


class ModelEvaluator:
    """Test-split metrics, plots and SHAP for several models, and one HTML report.

    ``evaluate_models`` returns one dict per model (``model_name``, ``metrics`` at the model's stored
    threshold — or 0.5 for a model without one — and the rest of the evaluation);
    ``generate_html_report(results, name)`` writes ``<output_dir>/<name>.html`` and ``<name>.json``.
    SHAP values are computed for uctune models (every family) and for plain tree classifiers a
    user trained himself (``XGBClassifier``, ``LGBMClassifier``, ``RandomForestClassifier``, or
    another model SHAP's ``TreeExplainer`` reads); other classifiers are evaluated and plotted, and
    the report says SHAP was skipped. ``background`` (the training rows, ``X_train``) is what SHAP
    compares against: ``background_size`` of its rows, drawn with ``random_state``. Without it, a
    plain tree is explained path-dependently (its reference is the training rows as its node counts
    recorded them) and the other explainers compare against the test rows.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike[str] = "data/evaluation",
        *,
        shap_rows: int = 200,
        background_size: int = 100,
        bootstrap: int = 1000,
        random_state: int = 42,
        rank_by: str = "pr_auc",
        background: pd.DataFrame | None = None,
    ) -> None:
        from uctune.report import ReportSettings

        self.output_dir = Path(output_dir)
        self.settings = ReportSettings(
            shap_rows=shap_rows,
            background_size=background_size,
            bootstrap=bootstrap,
            seed=random_state,
            rank_by=rank_by,  # type: ignore[arg-type]  # checked by ReportSettings
        )
        self.background = background
        self._reports: dict[str, Any] = {}

    def evaluate_models(
        self, models: list[dict[str, Any]], X_test: Any, y_test: Any
    ) -> list[dict[str, Any]]:
        """Evaluate each ``{"model": fitted_classifier, "name": str}`` on the test rows."""
        from uctune.report import ModelInput, assess_models, stored_threshold

        if not isinstance(models, list | tuple) or not models:
            raise ConfigError(
                f"models must be a non-empty list of {{'model': ..., 'name': ...}}, got {models!r:.80}"
            )
        X = X_test if isinstance(X_test, pd.DataFrame) else pd.DataFrame(np.asarray(X_test))
        y = np.asarray(y_test).ravel()
        items = []
        for i, entry in enumerate(models):
            if not isinstance(entry, dict) or "model" not in entry or "name" not in entry:
                raise ConfigError(
                    f"models[{i}] must be a dict with keys 'model' and 'name', got {entry!r:.80}"
                )
            model, name = entry["model"], str(entry["name"])
            if not hasattr(model, "predict_proba"):
                raise ConfigError(
                    f"model {name!r} must have predict_proba, got {type(model).__name__}"
                )
            threshold, source = stored_threshold(model)
            proba = np.asarray(model.predict_proba(X))[:, 1]
            items.append(ModelInput(name, proba, threshold, model=model, threshold_source=source))
        reports = assess_models(items, y, X=X, background=self.background, settings=self.settings)
        out = []
        for report in reports:
            self._reports[report.name] = report
            out.append(_result_dict(report))
        return out

    def generate_html_report(
        self, results: list[dict[str, Any]], report_name: str = "model_comparison"
    ) -> Path:
        """Write the report of these results (from :meth:`evaluate_models`); return the HTML path."""
        from uctune.report import build_report, write_report

        if not report_name or any(c in report_name for c in "/\\\0") or report_name.startswith("."):
            raise ConfigError(f"report name must be a plain file name, got {report_name!r}")
        names = [str(r.get("model_name")) for r in results] if isinstance(results, list) else []
        if not names:
            raise ConfigError("results must be the non-empty list evaluate_models returned")
        unknown = [n for n in names if n not in self._reports]
        if unknown:
            raise NotFoundError(
                f"no evaluation of model {unknown[0]!r} in this evaluator; call evaluate_models first"
            )
        report = build_report(
            [self._reports[n] for n in names],
            settings=self.settings,
            facts=[("Models", ", ".join(names))],
        )
        html, _ = write_report(
            report,
            self.output_dir,
            html_name=f"{report_name}.html",
            json_name=f"{report_name}.json",
        )
        return html


def _result_dict(report: Any) -> dict[str, Any]:
    e = report.evaluation
    data = e.to_dict()
    return {
        "model_name": report.name,
        "threshold": e.threshold,
        "threshold_source": report.input.threshold_source,
        "metrics": {**data["at_threshold"], "base_rate": e.base_rate, "brier": e.brier},
        "metrics_at_0.5": data["at_0.5"],
        "confidence_intervals": data["intervals"],
        "classification_report": data["classification_report"],
        "alert_buckets": data["alert_buckets"],
        "shap": report.shap_dict(),
    }
