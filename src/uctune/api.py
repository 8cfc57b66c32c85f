"""The seed's Python API, a thin layer over the same machinery as the CLI.

>>> from uctune import BaselineTrainer, AdvancedTrainer
>>> baseline = BaselineTrainer()
>>> baseline.load_data()                       # the embedded dataset
>>> X_train, X_test, y_train, y_test = baseline.split_data()
>>> lr = baseline.train_logistic_regression(X_train, y_train)
>>> xgb = AdvancedTrainer().train_xgboost(X_train, y_train)
>>> evaluator = ModelEvaluator(output_dir="data/evaluation")
>>> results = evaluator.evaluate_models([{"model": xgb, "name": "XGBoost"}], X_test, y_test)
>>> evaluator.generate_html_report(results, "model_comparison")

Each ``train_*`` method runs stratified k-fold CV on Ray (a local Ray is started on first use if none
is running), chooses the F1-optimal decision threshold on the out-of-fold predictions, refits on all
the rows given and returns that model: a scikit-learn ``FixedThresholdClassifier`` whose ``predict``
uses the threshold and whose ``predict_proba`` is the pipeline's. ``ModelEvaluator`` scores such
models on a test split and writes the HTML report.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import FixedThresholdClassifier

from uctune.cluster import ensure_ray
from uctune.data import LABEL, FeatureTable, load_feature_table, validate_table
from uctune.errors import ConfigError, DataError, NotFoundError
from uctune.metrics import classification_metrics
from uctune.runs import write_json
from uctune.splits import SplitMethod
from uctune.training import FamilyResult, SplitInfo, make_split, train_families, tree_importance

__all__ = ["BaselineTrainer", "AdvancedTrainer", "ModelEvaluator"]


def _as_table(X: Any, y: Any, n_folds: int) -> FeatureTable:
    frame = (
        X.copy()
        if isinstance(X, pd.DataFrame)
        else pd.DataFrame(np.asarray(X), columns=[f"x{i}" for i in range(np.asarray(X).shape[1])])
    )
    y_values = np.asarray(y).ravel()
    if len(y_values) != len(frame):
        raise DataError(f"X has {len(frame)} rows but y has {len(y_values)}")
    frame[LABEL] = y_values
    return validate_table(frame, min_rows_per_class=n_folds, source="the training data")


class _Trainer:
    def __init__(
        self,
        data_path: str | os.PathLike[str] | None = None,
        *,
        random_state: int = 42,
        test_size: float = 0.2,
        split: SplitMethod = "stratified",
        cv_folds: int = 5,
        cpus_per_fit: int = 1,
        address: str | None = None,
    ) -> None:
        self.data_path = data_path
        self.random_state = random_state
        self.test_size = test_size
        self.split = split
        self.cv_folds = cv_folds
        self.cpus_per_fit = cpus_per_fit
        self.address = address
        self.table: FeatureTable | None = None
        self.split_: SplitInfo | None = None
        self.results_: dict[str, dict[str, Any]] = {}

    # -- data ---------------------------------------------------------------------------------
    def load_data(self, data: str | os.PathLike[str] | pd.DataFrame | None = None) -> pd.DataFrame:
        """Load and validate a feature table (a path or a DataFrame; default: the embedded dataset)."""
        source = data if data is not None else self.data_path
        self.table = load_feature_table(source, n_folds=self.cv_folds)
        return self.table.frame

    def split_data(
        self, test_size: float | None = None
    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
        """The seed's split: ``X_train, X_test, y_train, y_test`` (stratified 80/20, seeded)."""
        if self.table is None:
            self.load_data()
        assert self.table is not None
        self.split_ = make_split(
            self.table,
            method=self.split,
            test_size=self.test_size if test_size is None else test_size,
            seed=self.random_state,
        )
        X, y = self.table.X, pd.Series(self.table.y, name=self.table.label)
        train, test = self.split_.train_index, self.split_.test_index
        return X.iloc[train], X.iloc[test], y.iloc[train], y.iloc[test]

    # -- training -----------------------------------------------------------------------------
    def _train(
        self, family: str, X: Any, y: Any, params: dict[str, Any]
    ) -> FixedThresholdClassifier:
        table = _as_table(X, y, self.cv_folds)
        everything = SplitInfo(
            method="stratified",
            test_size=0.0,
            seed=self.random_state,
            train_index=np.arange(table.n_rows),
            test_index=np.empty(0, dtype=np.int64),
        )
        ensure_ray(self.address)
        outcome = train_families(
            table,
            everything,
            families=[family],
            params={family: params},
            n_folds=self.cv_folds,
            seed=self.random_state,
            cpus_per_fit=self.cpus_per_fit,
            backend="ray",
        )
        result: FamilyResult = outcome.results[family]
        self.results_[family] = result.to_dict()
        return result.model

    def evaluate(
        self, model: Any, X_test: Any, y_test: Any, name: str | None = None
    ) -> dict[str, Any]:
        """Holdout metrics at 0.5 and at the model's stored threshold; kept in ``results_``."""
        proba = model.predict_proba(X_test)[:, 1]
        threshold = float(getattr(model, "threshold", 0.5))
        y_true = np.asarray(y_test)
        metrics = {
            "at_0.5": classification_metrics(y_true, proba, 0.5),
            "at_threshold": classification_metrics(y_true, proba, threshold),
        }
        if name is not None:
            self.results_.setdefault(name, {})["holdout"] = metrics
        return metrics

    def save_results(self, path: str | os.PathLike[str]) -> Path:
        """Write ``results_`` (CV scores, thresholds, params, any holdout metrics) as JSON."""
        out = Path(path)
        write_json(out, self.results_)
        return out


class BaselineTrainer(_Trainer):
    """Story 3.1: logistic regression and random forest."""

    def train_logistic_regression(
        self, X_train: Any, y_train: Any, **params: Any
    ) -> FixedThresholdClassifier:
        """L2 logistic regression, C=1.0, scaled features, balanced class weights."""
        return self._train("logistic_regression", X_train, y_train, params)

    def train_random_forest(
        self, X_train: Any, y_train: Any, **params: Any
    ) -> FixedThresholdClassifier:
        """Random forest, 100 trees, max_depth=10, balanced class weights."""
        return self._train("random_forest", X_train, y_train, params)


class AdvancedTrainer(_Trainer):
    """Story 3.2: XGBoost, LightGBM and the neural network, with feature importance for trees."""

    def train_xgboost(self, X_train: Any, y_train: Any, **params: Any) -> FixedThresholdClassifier:
        """XGBoost, max_depth=5, learning_rate=0.1, hist, scale_pos_weight = negatives/positives."""
        return self._train("xgboost", X_train, y_train, params)

    def train_lightgbm(self, X_train: Any, y_train: Any, **params: Any) -> FixedThresholdClassifier:
        """LightGBM, num_leaves=31, learning_rate=0.1, sector as a native categorical."""
        return self._train("lightgbm", X_train, y_train, params)

    def train_neural_network(
        self, X_train: Any, y_train: Any, **params: Any
    ) -> FixedThresholdClassifier:
        """MLP 128-64-32, ReLU, early stopping, balanced sample weights."""
        return self._train("neural_network", X_train, y_train, params)

    @staticmethod
    def get_feature_importance(model: Any) -> dict[str, float] | None:
        """Normalised gain importances of a tree model, largest first; ``None`` for other families."""
        pipeline = getattr(model, "estimator", model)
        return tree_importance(pipeline)


class ModelEvaluator:
    """Story 3.4: test-split metrics, plots and SHAP for several models, and one HTML report.

    ``evaluate_models`` returns one dict per model (``model_name``, ``metrics`` at the model's stored
    threshold — or 0.5 for a model without one — and the rest of the evaluation);
    ``generate_html_report(results, name)`` writes ``<output_dir>/<name>.html`` and ``<name>.json``.
    SHAP values are computed for uctune models (every family); other scikit-learn classifiers are
    evaluated and plotted, and the report says SHAP was skipped. ``background`` (the training rows)
    is what SHAP compares against; by default the test rows themselves.
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
