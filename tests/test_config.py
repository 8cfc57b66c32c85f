"""The run configuration: defaults, YAML files, family names, and one-line refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from uctune.config import RegistryConfig, RunConfig, apply_overrides, load_config
from uctune.errors import ConfigError, NotFoundError
from uctune.registry import ENV_VAR


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path


def test_no_file_and_an_empty_file_give_the_defaults(tmp_path):
    assert load_config(None) == RunConfig() == load_config(write(tmp_path, ""))
    config = RunConfig()
    assert (config.seed, config.train.cv_folds, config.split.test_size) == (42, 5, 0.2)
    assert config.tune.families == ("xgboost", "lightgbm", "neural_network")
    # Trials are searched on average precision, the defaults kept unless beaten beyond the noise.
    assert (config.tune.metric, config.tune.min_gain_se) == ("pr_auc", 2.0)


def test_the_search_metric_is_an_option(tmp_path):
    assert load_config(write(tmp_path, "tune:\n  metric: log_loss\n")).tune.metric == "log_loss"
    with pytest.raises(ConfigError, match=r"tune\.metric: .*'pr_auc'.*\(got 'accuracy'\)"):
        load_config(write(tmp_path, "tune:\n  metric: accuracy\n"))
    with pytest.raises(ConfigError, match=r"tune\.min_gain_se: .*\(got -1\)"):
        load_config(write(tmp_path, "tune:\n  min_gain_se: -1\n"))


def test_family_aliases_are_resolved_in_lists_and_params(tmp_path):
    config = load_config(
        write(
            tmp_path,
            "train:\n  families: lr,xgb\n  params:\n    xgb: {n_estimators: 30}\n"
            "tune:\n  families: [lgbm]\n  params:\n    nn: {}\n",
        )
    )
    assert config.train.families == ("logistic_regression", "xgboost")
    assert config.train.params == {"xgboost": {"n_estimators": 30}}
    assert config.tune.families == ("lightgbm",)
    assert config.tune.params == {"neural_network": {}}
    assert load_config(write(tmp_path, "tune:\n  families: []\n")).tune.families == ()


def test_the_default_registry_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "elsewhere"))
    assert RegistryConfig().path == tmp_path / "elsewhere"
    monkeypatch.delenv(ENV_VAR)
    assert RunConfig().registry.path == Path("data/models/registry")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("train:\n  famlies: [lr]\n", r"train\.famlies: Extra inputs are not permitted"),
        ("train:\n  families: [lr, svm]\n", r"train\.families: unknown model family 'svm'"),
        ("train:\n  params:\n    xgb: {no_such: 1}\n", "xgboost has no parameter 'no_such'"),
        (
            "tune:\n  params:\n    xgboost: {max_depth: deep}\n",
            r"tune\.params: xgboost: parameter 'max_depth' must be a whole number, got 'deep'",
        ),
        ("train:\n  cv_folds: 1\n", r"train\.cv_folds: Input should be greater than or equal to 2"),
        ("split:\n  test_size: 1.5\n", r"split\.test_size: Input should be less than 1"),
        (
            "train:\n  cv_folds: 3\ntune:\n  grace_period: 4\n",
            r"tune\.grace_period must be at most train\.cv_folds \(3\), got 4",
        ),
        (
            "report:\n  bootstrap: 5\n",
            r"bootstrap resamples must be 0 \(no intervals\) or at least 20 \(got 5\)",
        ),
        ("- 1\n- 2\n", "must hold a mapping, got list"),
        ("train: [unclosed\n", r"is not valid YAML at line \d+$"),
    ],
)
def test_a_bad_file_is_refused_in_one_line_naming_the_file(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"config file {str(path)!r}")
    assert "\n" not in str(caught.value)


def test_a_missing_file_is_not_found(tmp_path):
    with pytest.raises(NotFoundError, match="config file '.*nope.yaml' does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_overrides_replace_dotted_keys_and_skip_none():
    config = apply_overrides(
        RunConfig(), {"train.cv_folds": 3, "tune.trials": 7, "seed": None, "split.method": "time"}
    )
    assert (config.train.cv_folds, config.tune.trials, config.seed) == (3, 7, 42)
    assert config.split.method == "time"
    with pytest.raises(
        ConfigError, match=r"^option: train\.cv_folds: Input should be greater .* \(got 1\)$"
    ):
        apply_overrides(config, {"train.cv_folds": 1})


# -- the CV scheme -------------------------------------------------------------------------------
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
