"""The tuner on the session's Ray: every family, ASHA stopping trials, retries, reproducibility."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import ray
from optuna.distributions import FloatDistribution, IntDistribution
from ray import tune

from uctune.data import generate, validate_table
from uctune.errors import ConfigError, DataError, IntegrityError
from uctune.models import SPECS, get_spec
from uctune.splits import CVScheme
from uctune.training import FitSettings, make_split
from uctune.tuning import TuneSettings, cv_score, in_space, tune_family

pytestmark = pytest.mark.ray

CONTRACT_COLUMNS = [
    "trial",
    "status",
    "score",
    "folds_done",
    "seconds",
    "node",
    "gpus",
    "attempts",
    "budget",
    "fold_1",
    "fold_2",
    "fold_3",
]


@pytest.fixture(scope="module")
def train_rows(tiny_table):
    split = make_split(tiny_table, seed=11)
    return tiny_table.X.iloc[split.train_index], tiny_table.y[split.train_index]


@pytest.mark.parametrize("family", list(SPECS))
def test_each_family_finds_params_inside_its_declared_space(
    ray_cluster, train_rows, tmp_path, family
):
    X, y = train_rows
    space = get_spec(family).search_space
    result = tune_family(
        family,
        X,
        y,
        experiment_dir=tmp_path,
        settings=TuneSettings(n_trials=3, fit=FitSettings(n_folds=3, seed=3)),
    )
    assert len(result.trials) == 3 and result.completed >= 1
    assert [t.number for t in result.trials] == [0, 1, 2]
    assert all(in_space(t.params, space) for t in result.trials)
    assert in_space(result.best_params, space)
    # The first trial is the family's defaults (the seed's), which lie inside the space.
    assert result.trials[0].params == {k: get_spec(family).defaults[k] for k in space}
    top = max((t for t in result.trials if t.status == "completed"), key=lambda t: t.score)
    # The refit gets the top trial, or the defaults when the top one is within the CV noise.
    selection = result.selection
    assert selection is not None
    assert (selection["top_trial"], selection["top_score"]) == (top.number, top.score)
    picked = next(t for t in result.trials if t.number == result.best_trial)
    assert result.best_score == picked.score and picked.status == "completed"
    assert selection["picked"] == ("defaults" if picked.number == 0 else "tuned")
    if picked.number != top.number:
        assert selection["gain"] <= selection["min_gain_se"] * selection["noise"]
    frame = result.trials_frame()
    assert list(frame.columns) == CONTRACT_COLUMNS + [f"param_{p}" for p in space]
    assert set(frame["status"]) <= {"completed", "pruned", "failed"}
    assert (frame["folds_done"] >= 1).all()
    # Each trial names the Ray node that ran it (one node here) and ran once.
    assert set(frame["node"]) == {ray.get_runtime_context().get_node_id()}
    assert (frame["attempts"] == 1).all()
    # Tune's logs of each trial are kept; its TensorBoard logger (slow to start) is not added.
    assert len(list(tmp_path.rglob("result.json"))) == 3
    assert len(list(tmp_path.rglob("progress.csv"))) == 3
    assert not list(tmp_path.rglob("events.out.tfevents*"))


def test_asha_stops_trials_in_a_bad_region(ray_cluster, train_rows, tmp_path):
    """Above ~50 the minimum child weight leaves XGBoost no split on these rows: every prediction
    is the same and the score collapses, which ASHA must notice after the first fold."""
    X, y = train_rows
    space = {"min_child_weight": FloatDistribution(1.0, 5000.0, log=True)}
    ctrl_c = signal.getsignal(signal.SIGINT)
    result = tune_family(
        "xgboost",
        X,
        y,
        experiment_dir=tmp_path,
        settings=TuneSettings(
            n_trials=6, grace_period=1, reduction_factor=2, fit=FitSettings(n_folds=3, seed=1)
        ),
        search_space=space,
        fixed_params={"n_estimators": 10, "max_depth": 3},
    )
    pruned = [t for t in result.trials if t.status == "pruned"]
    assert pruned, [(t.status, t.params) for t in result.trials]
    assert all(t.folds_done < 3 and len(t.fold_scores) == t.folds_done for t in pruned)
    assert any(t.params["min_child_weight"] > 100 for t in pruned)
    assert result.best_params["min_child_weight"] < 100
    assert result.best_params["n_estimators"] == 10
    frame = result.trials_frame()
    assert frame.loc[frame["status"] == "pruned", "fold_3"].isna().all()
    # Ray Tune's own Ctrl-C handler is gone with the search: Ctrl-C stops what comes next.
    assert signal.getsignal(signal.SIGINT) is ctrl_c


def test_asha_over_rows_stops_bad_trials_on_a_subsample(ray_cluster, tmp_path):
    """With a rows fidelity the bad region is seen on a ninth of the first fold's rows: those
    trials end PRUNED there, before any full fold; the finished ones score what their full folds
    alone score."""
    table = validate_table(generate(4_000, seed=9)[0])
    X, y = table.X, table.y
    settings = TuneSettings(
        n_trials=6,
        reduction_factor=3,
        fidelity="rows",
        fit=FitSettings(n_folds=3, seed=1, cpus_per_fit=1),
    )
    result = tune_family(
        "xgboost",
        X,
        y,
        experiment_dir=tmp_path,
        settings=settings,
        search_space={"min_child_weight": FloatDistribution(1.0, 5000.0, log=True)},
        fixed_params={"n_estimators": 12, "max_depth": 3},
    )
    assert result.fidelity is not None and result.fidelity.row_steps == 2
    on_subsample = [t for t in result.trials if t.status == "pruned" and t.folds_done == 0]
    assert on_subsample, [(t.status, t.budget, t.params) for t in result.trials]
    assert all(t.budget < result.fidelity.unit and t.rows < 1 for t in on_subsample)
    assert any(t.params["min_child_weight"] > 100 for t in on_subsample)
    completed = [t for t in result.trials if t.status == "completed"]
    assert completed and result.best_params["min_child_weight"] < 100
    folds = settings.fit.cv.folds(y, n_splits=3, random_state=1)
    for t in completed:
        assert t.budget == result.fidelity.max_budget and len(t.subsample_scores) == 2
        alone = cv_score(
            "xgboost",
            {**t.params, "n_estimators": 12, "max_depth": 3},
            X,
            y,
            folds,
            metric=settings.metric,
            fit=FitSettings(seed=1),
        )
        assert t.score == pytest.approx(alone[-1].score)
    frame = result.trials_frame()
    assert {"budget", "rows", "subsample_1", "subsample_2"} <= set(frame.columns)
    assert frame.loc[frame["folds_done"] == 0, "fold_1"].isna().all()
    assert result.to_dict()["fidelity"]["rows"] == [1 / 9, 1 / 3]


def test_one_concurrent_trial_and_a_fixed_seed_reproduce_the_search(
    ray_cluster, train_rows, tmp_path
):
    X, y = train_rows
    # Two CPUs per trial on the two-CPU cluster: one trial at a time.
    settings = TuneSettings(
        n_trials=5, pruning=False, fit=FitSettings(n_folds=3, cpus_per_fit=2, seed=7)
    )
    fixed = {"n_estimators": 10, "max_depth": 3}
    runs = [
        tune_family(
            "xgboost",
            X,
            y,
            experiment_dir=tmp_path / str(i),
            settings=settings,
            fixed_params=fixed,
        )
        for i in range(2)
    ]
    assert runs[0].best_params == runs[1].best_params
    assert runs[0].best_score == runs[1].best_score
    assert [t.params for t in runs[0].trials] == [t.params for t in runs[1].trials]
    assert all(t.folds_done == 3 and t.status == "completed" for t in runs[0].trials)


def _descendants(root: int) -> set[int]:
    """Pids of every process below ``root`` (this test's own Ray workers, nobody else's)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _running_trial_pid() -> int | None:
    for pid in _descendants(os.getpid()):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if title.startswith(b"ray::ImplicitFunc.train"):
            return pid
    return None


def test_a_trial_whose_worker_is_killed_is_retried(ray_cluster, train_rows, tmp_path):
    X, y = train_rows
    killed: list[int] = []

    def kill_one_trial_worker() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pid = _running_trial_pid()
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_trial_worker, daemon=True)
    killer.start()
    result = tune_family(
        "xgboost",
        X,
        y,
        experiment_dir=tmp_path,
        settings=TuneSettings(
            n_trials=3, pruning=False, max_failures=2, fit=FitSettings(n_folds=3, seed=2)
        ),
        fixed_params={"n_estimators": 200},
    )
    killer.join()
    assert killed, "no trial worker was found to kill"
    assert [t.status for t in result.trials] == ["completed"] * 3
    assert [t.attempts for t in result.trials].count(2) == 1
    assert result.to_dict()["retried"] == 1
    analysis = tune.ExperimentAnalysis(result.experiment_path)
    assert sorted(t.num_failures for t in analysis.trials) == [0, 0, 1]


def test_a_used_directory_is_refused_and_changed_settings_cannot_resume(
    ray_cluster, train_rows, tmp_path
):
    X, y = train_rows
    settings = TuneSettings(n_trials=1, fit=FitSettings(n_folds=3, seed=1))
    first = tune_family("lr", X, y, experiment_dir=tmp_path, settings=settings)
    with pytest.raises(ConfigError, match="already holds a tuning study; resume it"):
        tune_family("lr", X, y, experiment_dir=tmp_path, settings=settings)
    other = TuneSettings(n_trials=1, metric="f1", fit=FitSettings(n_folds=3, seed=1))
    with pytest.raises(IntegrityError, match=r"different settings \(metric\)"):
        tune_family("lr", X, y, experiment_dir=tmp_path, settings=other, resume=True)
    # Resuming a finished search runs nothing more and gives the same answer.
    again = tune_family("lr", X, y, experiment_dir=tmp_path, settings=settings, resume=True)
    assert again.trials == first.trials and again.best_params == first.best_params


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"settings": TuneSettings(fit=FitSettings(cpus_per_fit=3))},
            "cpus_per_trial must be at most the cluster's 2 CPUs, got 3",
        ),
        ({"fixed_params": {"depth": 3}}, "xgboost has no parameter 'depth'"),
        (
            {"search_space": {"depth": IntDistribution(1, 3)}},
            "xgboost has no parameter 'depth' to search",
        ),
        (
            {"fixed_params": {k: 1 for k in SPECS["xgboost"].search_space}},
            "every parameter of its search space is fixed",
        ),
    ],
)
def test_bad_arguments(ray_cluster, train_rows, tmp_path, kwargs, message):
    X, y = train_rows
    with pytest.raises(ConfigError, match=message):
        tune_family("xgboost", X, y, experiment_dir=tmp_path, **kwargs)
    assert not (tmp_path / "study.db").exists()


def test_a_log_loss_search_scores_and_picks_on_the_negated_log_loss(
    ray_cluster, train_rows, tmp_path
):
    X, y = train_rows
    settings = TuneSettings(n_trials=3, metric="log_loss", fit=FitSettings(n_folds=3, seed=5))
    result = tune_family("lr", X, y, experiment_dir=tmp_path, settings=settings)
    completed = [t for t in result.trials if t.status == "completed"]
    assert completed and all(t.score is not None and t.score < 0 for t in completed)
    assert result.to_dict()["metric"] == "log_loss"
    folds = settings.fit.cv.folds(y, n_splits=3, random_state=5)
    picked = next(t for t in result.trials if t.number == result.best_trial)
    alone = cv_score(
        "lr", dict(picked.params), X, y, folds, metric="log_loss", fit=FitSettings(seed=5)
    )
    assert result.best_score == pytest.approx(alone[-1].score)


def test_tuning_walks_forward_and_its_score_is_the_honest_objective(
    ray_cluster, tiny_table, tmp_path
):
    split = make_split(tiny_table, method="time", seed=4)
    train = split.train_index
    X, y = tiny_table.X.iloc[train], tiny_table.y[train]
    dates = tiny_table.dates.iloc[train].to_numpy()
    cv = CVScheme(method="walk_forward", embargo=1)
    settings = TuneSettings(n_trials=2, fit=FitSettings(n_folds=3, seed=4, cv=cv))
    with pytest.raises(DataError, match="walk-forward CV needs the rows' dates"):
        tune_family("lr", X, y, experiment_dir=tmp_path / "no-dates", settings=settings)
    result = tune_family("lr", X, y, experiment_dir=tmp_path / "t", settings=settings, dates=dates)
    folds = cv.folds(y, n_splits=3, random_state=4, dates=dates)
    best = cv_score(
        "lr",
        result.best_params,
        X,
        y,
        folds,
        metric=settings.metric,
        fit=FitSettings(seed=4, cv=cv),
    )
    assert result.best_score == pytest.approx(best[-1].score)
    record = [t for t in result.trials if t.number == result.best_trial][0]
    assert record.fold_scores == pytest.approx(best[-1].fold_scores)
    # The study remembers its folds: resuming it with other CV is refused.
    with pytest.raises(IntegrityError, match=r"different settings \(cv\)"):
        tune_family(
            "lr",
            X,
            y,
            experiment_dir=tmp_path / "t",
            settings=TuneSettings(n_trials=3, fit=FitSettings(n_folds=3, seed=4)),
            resume=True,
        )
