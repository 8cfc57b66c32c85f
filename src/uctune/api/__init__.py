"""The Python API (trainers, tuner, evaluator), a thin layer over the same machinery as the CLI.

>>> from uctune import BaselineTrainer, AdvancedTrainer, HyperparameterTuner, ModelEvaluator
>>> baseline = BaselineTrainer()
>>> baseline.load_data()                       # the embedded dataset
>>> X_train, X_test, y_train, y_test = baseline.split_data()
>>> lr = baseline.train_logistic_regression(X_train, y_train)
>>> xgb = AdvancedTrainer().train_xgboost(X_train, y_train)
>>> tuner = HyperparameterTuner(n_trials=100)
>>> best_xgb = tuner.tune_xgboost(X_train, y_train)
>>> tuner.get_best_params(0)                   # the first tuning call's best params
>>> evaluator = ModelEvaluator(output_dir="data/evaluation")
>>> results = evaluator.evaluate_models([{"model": best_xgb, "name": "XGBoost"}], X_test, y_test)
>>> evaluator.generate_html_report(results, "model_comparison")

Each ``train_*`` and ``tune_*`` method runs stratified k-fold CV on Ray (a local Ray is started on
first use if none is running), chooses the F1-optimal decision threshold on the out-of-fold
predictions, refits on all the rows given and returns that model: the family's subclass of
scikit-learn's ``FixedThresholdClassifier`` (``XGBoostThresholdClassifier``, ...) whose ``predict``
uses the threshold and whose ``predict_proba`` is the pipeline's. ``ModelEvaluator`` scores such
models on a test split and writes the HTML report. ``ModelRegistry`` (``uctune.registry``) versions
them.
"""

from __future__ import annotations

from uctune.api._evaluator import ModelEvaluator
from uctune.api._trainers import AdvancedTrainer, BaselineTrainer
from uctune.api._tuner import HyperparameterTuner

__all__ = ["AdvancedTrainer", "BaselineTrainer", "HyperparameterTuner", "ModelEvaluator"]
