"""Walk-forward CV (issue 9, part 3): the splitter, its selection in config and CLI, and its use."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from tests.invoke import run
from uctune.config import RunConfig, apply_overrides, load_config
from uctune.errors import ConfigError, DataError
from uctune.splits import CVScheme, WalkForwardCV


def _dated(seed: int, n_dates: int = 40, symbols: int = 15):
    """Rows on irregular dates (1-6 rows each, gaps between dates), with symbols."""
    rng = np.random.default_rng(seed)
    days = np.cumsum(rng.integers(1, 4, size=n_dates))
    dates = pd.Timestamp("2024-01-01") + pd.to_timedelta(
        np.repeat(days, rng.integers(1, 7, n_dates)), "D"
    )
    order = rng.permutation(len(dates))  # rows need not come sorted
    dates = dates[order]
    return dates.to_numpy(), rng.integers(0, symbols, size=len(dates))


CASES = [(3, 0), (5, 0), (4, 2), (2, 5)]


@pytest.mark.parametrize(("n_splits", "embargo"), CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_validation_follows_training_after_the_embargo_and_dates_stay_whole(
    seed, n_splits, embargo
):
    dates, _ = _dated(seed)
    sessions = np.unique(dates)
    cv = WalkForwardCV(n_splits, dates=dates, embargo=embargo)
    folds = list(cv.split(np.zeros((len(dates), 1))))
    assert len(folds) == cv.get_n_splits() == n_splits
    previous_end = None
    for train, val in folds:
        assert len(train) and len(val) and not set(train) & set(val)
        first_val, last_train = dates[val].min(), dates[train].max()
        # No validation date precedes (or equals) a training date ...
        assert first_val > last_train
        # ... and exactly `embargo` sessions of the data lie between them.
        assert ((sessions > last_train) & (sessions < first_val)).sum() == embargo
        # Whole dates: every row of a validation date is validated; of a training date, trained.
        assert set(np.flatnonzero(np.isin(dates, dates[val]))) == set(val)
        assert set(np.flatnonzero(np.isin(dates, dates[train]))) == set(train)
        # Expanding window: training is every row before the embargo.
        assert set(train) == set(np.flatnonzero(dates <= last_train))
        if previous_end is not None:  # blocks follow each other, in time order
            assert first_val > previous_end
            between = (sessions > previous_end) & (sessions < first_val)
            assert not between.any()
        previous_end = dates[val].max()
    assert previous_end == sessions[-1]


def test_blocks_hold_about_equal_rows():
    dates = np.repeat(pd.date_range("2024-01-01", periods=60).to_numpy(), 5)
    sizes = [len(v) for _, v in WalkForwardCV(5, dates=dates).split(dates)]
    assert sizes == [50] * 5


def test_groups_never_in_both_training_and_validation():
    dates, symbols = _dated(3, n_dates=60, symbols=40)
    cv = WalkForwardCV(3, dates=dates, embargo=1)
    for (train, val), (plain, _) in zip(
        cv.split(dates, groups=symbols), cv.split(dates), strict=True
    ):
        assert not set(symbols[train]) & set(symbols[val])
        assert set(train) <= set(plain)


def test_scikit_learn_takes_it_as_any_splitter():
    rng = np.random.default_rng(0)
    dates = np.repeat(pd.date_range("2024-01-01", periods=30).to_numpy(), 10)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] + rng.normal(size=300) > 0).astype(int)
    scores = cross_val_score(LogisticRegression(), X, y, cv=WalkForwardCV(4, dates=dates))
    assert len(scores) == 4 and np.all(scores > 0.6)
    assert repr(WalkForwardCV(4, dates=dates, embargo=2)) == "WalkForwardCV(n_splits=4, embargo=2)"


def test_bad_input_is_refused_on_arrival():
    dates = pd.date_range("2024-01-01", periods=6).to_numpy()
    with pytest.raises(
        DataError,
        match="3 folds and an embargo of 3 sessions needs at least 7 distinct dates, got 6",
    ):
        list(WalkForwardCV(3, dates=dates, embargo=3).split(dates))
    with pytest.raises(
        ConfigError, match="embargo must be a whole number of sessions >= 0, got -1"
    ):
        list(WalkForwardCV(2, dates=dates, embargo=-1).split(dates))
    with pytest.raises(ConfigError, match="at least 2 folds, got 1"):
        list(WalkForwardCV(1, dates=dates).split(dates))
    with pytest.raises(DataError, match="given 6 dates for 5 rows"):
        list(WalkForwardCV(2, dates=dates).split(dates[:5]))
    with pytest.raises(DataError, match="a date on every row, got \\['soon'\\]"):
        list(WalkForwardCV(2, dates=np.array(["2024-01-01", "soon"] * 3)).split(range(6)))
    with pytest.raises(DataError, match="fold 1 has no training rows left"):
        list(WalkForwardCV(2, dates=dates).split(dates, groups=np.zeros(6)))


def test_cv_scheme_is_checked_and_says_where_thresholds_come_from():
    assert CVScheme().threshold_from == "other_folds"
    assert CVScheme(method="walk_forward").threshold_from == "earlier_folds"
    with pytest.raises(ConfigError, match="walk_forward CV only, got embargo 2"):
        CVScheme(embargo=2)
    with pytest.raises(ConfigError, match="got 'rolling'"):
        CVScheme(method="rolling")  # type: ignore[arg-type]


# -- configuration -------------------------------------------------------------------------------
def test_config_selects_the_cv_and_old_configs_stay_valid(tmp_path):
    assert RunConfig().cv_method == "stratified"
    old = tmp_path / "old.yaml"
    old.write_text("split: {method: stratified}\ntrain: {cv_folds: 3}\n")
    assert load_config(old).cv_method == "stratified"
    timed = tmp_path / "time.yaml"
    timed.write_text("split: {method: time}\n")
    assert load_config(timed).cv_method == "walk_forward"  # the default with a time split
    chosen = tmp_path / "wf.yaml"
    chosen.write_text("cv: {method: walk_forward, embargo: 3}\n")
    config = load_config(chosen)
    assert (config.cv_method, config.cv.embargo) == ("walk_forward", 3)
    explicit = apply_overrides(
        config, {"split.method": "time", "cv.method": "stratified", "cv.embargo": 0}
    )
    assert explicit.cv_method == "stratified"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "cv: {method: walk_forward, embargo: -1}",
            "cv.embargo: Input should be greater than or equal to 0 (got -1)",
        ),
        ("cv: {method: monthly}", "cv.method: Input should be 'stratified' or 'walk_forward'"),
        ("cv: {embargo: 2}", "cv.embargo applies to walk_forward CV only"),
    ],
)
def test_bad_cv_config_is_one_line(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError, match=message.replace("(", "\\(").replace(")", "\\)")):
        load_config(path)


# -- the command line ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--cv", "walk_forward", "--embargo", "-2"],
            "cv.embargo: Input should be greater than or equal to 0 (got -2)",
        ),
        (
            ["--cv", "walk_forward", "--embargo", "600"],
            "5 folds and an embargo of 600 sessions needs at least 606 distinct dates, got",
        ),
        (["--embargo", "2"], "cv.embargo applies to walk_forward CV only"),
    ],
)
@pytest.mark.parametrize("command", ["train", "tune", "run"])
def test_bad_cv_flags_are_one_line_and_write_nothing(
    capsys, tmp_path, tiny_csv, command, argv, message
):
    out_dir = tmp_path / "out"
    code, _, err = run(capsys, command, "--data", str(tiny_csv), "--out", str(out_dir), *argv)
    assert code == 2
    assert message in err and err.count("\n") == 1, err
    assert not out_dir.exists()


def test_train_with_a_time_split_walks_forward(capsys, tmp_path, tiny_csv):
    out_dir = tmp_path / "run"
    code, out, err = run(
        capsys,
        "train",
        "--data",
        str(tiny_csv),
        "--families",
        "lr",
        "--folds",
        "3",
        "--split",
        "time",
        "--embargo",
        "2",
        "--sequential",
        "--out",
        str(out_dir),
    )
    assert code == 0, err
    results = json.loads((out_dir / "results.json").read_text())
    assert results["cv"] == {
        "n_folds": 3,
        "method": "walk_forward",
        "embargo": 2,
        "group_by_symbol": False,
        "threshold_from": "earlier_folds",
    }
    family = results["families"]["logistic_regression"]
    assert family["cv"]["threshold_from"] == "earlier_folds"
    assert family["cv"]["folds"][0]["threshold"] == 0.5  # no earlier block to choose from


def test_cv_flag_overrides_the_time_split_default(capsys, tmp_path, tiny_csv):
    out_dir = tmp_path / "run"
    code, _, err = run(
        capsys,
        "train",
        "--data",
        str(tiny_csv),
        "--families",
        "lr",
        "--folds",
        "3",
        "--split",
        "time",
        "--cv",
        "stratified",
        "--sequential",
        "--out",
        str(out_dir),
    )
    assert code == 0, err
    results = json.loads((out_dir / "results.json").read_text())
    assert results["cv"]["method"] == "stratified"
    assert results["cv"]["threshold_from"] == "other_folds"


# -- tuning ---------------------------------------------------------------------------------------
@pytest.mark.ray
def test_tuning_walks_forward_and_its_score_is_the_honest_objective(
    ray_cluster, tiny_table, tmp_path
):
    from uctune.errors import IntegrityError
    from uctune.training import make_split
    from uctune.tuning import TuneSettings, cv_score, tune_family

    split = make_split(tiny_table, method="time", seed=4)
    train = split.train_index
    X, y = tiny_table.X.iloc[train], tiny_table.y[train]
    dates = tiny_table.dates.iloc[train].to_numpy()
    cv = CVScheme(method="walk_forward", embargo=1)
    settings = TuneSettings(n_trials=2, n_folds=3, seed=4, cv=cv)
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
        random_state=4,
        threshold_from="earlier_folds",
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
            settings=TuneSettings(n_trials=3, n_folds=3, seed=4),
            resume=True,
        )
