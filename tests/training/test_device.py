"""``device: cuda``: XGBoost's fits and trials ask Ray for GPUs, the other families do not, and a
cluster that cannot give them is refused before anything is fitted.

The session's Ray declares one logical GPU and no physical one is needed: Ray schedules on the
logical resource, and XGBoost falls back to its CPU code when it finds no GPU.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from uctune.errors import ClusterError, ConfigError
from uctune.explain import unwrap_pipeline
from uctune.models import get_spec
from uctune.training import FitSettings, make_split, train_families
from uctune.tuning import TuneSettings, tune_family

pytestmark = pytest.mark.ray

FAST = {"xgboost": {"n_estimators": 20}}


@pytest.fixture(scope="module")
def split(tiny_table):
    return make_split(tiny_table, seed=3)


def test_only_families_that_support_it_fit_on_a_gpu():
    xgb, lr = get_spec("xgboost"), get_spec("logistic_regression")
    assert xgb.build(device="cuda")[-1].get_params()["device"] == "cuda"
    assert xgb.build()[-1].get_params()["device"] == "cpu"
    assert xgb.gpus_for("cuda", 0.5) == 0.5
    assert xgb.gpus_for("cpu", 0.5) == 0.0
    assert lr.gpus_for("cuda", 1.0) == 0.0
    with pytest.raises(ConfigError, match=r"device must be one of cpu, cuda, got 'tpu'"):
        xgb.build(device="tpu")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def on_gpu(ray_cluster, tiny_table, split):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # XGBoost: "No visible GPU is found"
        return train_families(
            tiny_table,
            split,
            families=["xgboost", "logistic_regression"],
            params=FAST,
            fit=FitSettings(n_folds=2, seed=3, device="cuda"),
        )


def test_xgboost_fits_get_a_gpu_from_ray_and_the_others_do_not(on_gpu):
    xgb_folds = on_gpu.results["xgboost"].cv_folds
    lr_folds = on_gpu.results["logistic_regression"].cv_folds
    assert [f["gpus"] for f in xgb_folds] == [["0"], ["0"]]
    assert [f["gpus"] for f in lr_folds] == [[], []]


def test_a_model_fitted_on_a_gpu_is_kept_for_scoring_on_cpus(on_gpu, tiny_table, split):
    model = on_gpu.results["xgboost"].model
    assert unwrap_pipeline(model)[-1].get_params()["device"] == "cpu"
    proba = model.predict_proba(tiny_table.X.iloc[split.test_index])[:, 1]
    np.testing.assert_allclose(proba, on_gpu.results["xgboost"].test_proba, rtol=1e-6)


def test_more_gpus_per_fit_than_any_node_has_is_refused_before_fitting(
    ray_cluster, tiny_table, split
):
    with pytest.raises(
        ClusterError,
        match=r"device 'cuda' \(for xgboost\) asks Ray for 2 GPU\(s\) per fit, but the cluster "
        r"\(1 node\(s\)\) has at most 1 GPU\(s\) on a node; use --device cpu",
    ):
        train_families(
            tiny_table,
            split,
            families=["xgboost"],
            fit=FitSettings(n_folds=2, device="cuda", gpus_per_fit=2),
        )
    # CPU families never ask for GPUs, so the same request is no obstacle to them.
    outcome = train_families(
        tiny_table,
        split,
        families=["logistic_regression"],
        fit=FitSettings(n_folds=2, device="cuda", gpus_per_fit=2),
    )
    assert set(outcome.results) == {"logistic_regression"}


def test_xgboost_trials_ask_ray_for_a_gpu(ray_cluster, tiny_table, split, tmp_path):
    train = split.train_index
    settings = TuneSettings(
        n_trials=2,
        pruning=False,
        fit=FitSettings(n_folds=2, seed=3, device="cuda", gpus_per_fit=0.5),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = tune_family(
            "xgboost",
            tiny_table.X.iloc[train],
            tiny_table.y[train],
            experiment_dir=tmp_path,
            settings=settings,
            fixed_params={"n_estimators": 20},
        )
    frame = result.trials_frame()
    assert frame["gpus"].tolist() == ["0", "0"]
    with pytest.raises(ConfigError, match=r"gpus_per_fit must be above 0, got 0"):
        TuneSettings(fit=FitSettings(device="cuda", gpus_per_fit=0))
