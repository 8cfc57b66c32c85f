"""A finished run in MLflow, read back from a real `mlflow server` on 127.0.0.1: the session's
run (tests/e2e/conftest.py) with each family's search, every trial with its fold scores, the
report and the registered models; aliases mirrored; the CLI tracking what its config names; a
server that does not answer refused before a run starts."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow", reason="the optional extra mlflow is not installed")

import numpy as np  # noqa: E402

from tests.invoke import run  # noqa: E402
from uctune.cluster import free_port  # noqa: E402
from uctune.config import RunConfig  # noqa: E402
from uctune.data import load_feature_table  # noqa: E402
from uctune.registry import ModelRegistry  # noqa: E402
from uctune.workflow import execute_stages, resume_run, start_run, track_run  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """`mlflow server` on loopback, with an SQLite store and an artifact folder of its own."""
    root = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    exe = Path(sys.executable).with_name("mlflow")
    command = [str(exe) if exe.exists() else shutil.which("mlflow") or "mlflow", "server"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    command += ["--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}"]
    command += ["--artifacts-destination", str(root / "artifacts")]
    log = (root / "server.log").open("w")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, (root / "server.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "mlflow server did not start"
            time.sleep(0.5)
        yield uri
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _runs(client, experiment_id, **tags):
    query = " and ".join(f"tags.`{k}` = '{v}'" for k, v in tags.items())
    return client.search_runs([experiment_id], filter_string=query, max_results=1000)


def test_a_tuned_run_its_searches_trials_and_models_are_in_mlflow(cli_run, server, tmp_path):
    # The session's finished run (two families tuned, their ensemble, all registered), copied:
    # logging records its MLflow run id in results.json.
    copy = tmp_path / "tracked"
    shutil.copytree(cli_run.out, copy)
    tracked = track_run(resume_run(copy, backend="sequential"), server, "uctune-e2e")
    assert (tracked.trials, tracked.models, tracked.already) == (4, 3, False)

    client = mlflow.MlflowClient(tracking_uri=server)
    experiment = client.get_experiment_by_name("uctune-e2e")
    (parent,) = _runs(client, experiment.experiment_id, **{"uctune.run_id": "tracked"})
    assert parent.info.run_id == tracked.run_id
    assert parent.data.params["config.train.cv_folds"] == "3"
    assert 0 < parent.data.metrics["xgboost_tuned.pr_auc"] <= 1
    assert 0 < parent.data.metrics["ensemble.pr_auc"] <= 1
    assert {"results.json", "report"} <= {a.path for a in client.list_artifacts(tracked.run_id)}
    report = {a.path for a in client.list_artifacts(tracked.run_id, "report")}
    assert "report/model_comparison.html" in report

    searches = _runs(client, experiment.experiment_id, **{"mlflow.parentRunId": tracked.run_id})
    assert sorted(s.info.run_name for s in searches) == [
        "tune logistic_regression",
        "tune xgboost",
    ]
    for search in searches:
        assert search.data.params["search.n_trials"] == "2"
        assert any(k.startswith("best.") for k in search.data.params)
        trials = _runs(
            client, experiment.experiment_id, **{"mlflow.parentRunId": search.info.run_id}
        )
        assert sorted(t.data.tags["uctune.trial"] for t in trials) == ["0", "1"]
        for trial in trials:
            assert trial.data.params and trial.data.tags["uctune.status"] in ("completed", "pruned")
            history = client.get_metric_history(trial.info.run_id, "fold_score")
            assert sorted(m.step for m in history) == list(range(1, len(history) + 1))
            assert len(history) == 3 or trial.data.tags["uctune.pruned"] == "true"

    names = {m.name for m in client.search_registered_models()}
    assert {"uctune-logistic_regression_tuned", "uctune-xgboost_tuned", "uctune-ensemble"} <= names
    (version,) = client.search_model_versions("name = 'uctune-xgboost_tuned'")
    assert version.tags["uctune.ref"] == "xgboost@1.0.0"
    # Logged from the registry's own file: the same probabilities.
    registered = ModelRegistry(cli_run.root, create=False).load_model(model_id=2)
    mirrored = mlflow.sklearn.load_model(f"models:/uctune-xgboost_tuned/{version.version}")
    X = load_feature_table(cli_run.base / "events.csv").X.head(20)
    np.testing.assert_allclose(mirrored.predict_proba(X), registered.predict_proba(X))

    # Again (a resumed or retried run): not logged twice.
    again = track_run(resume_run(copy, backend="sequential"), server, "uctune-e2e")
    assert again.already and again.run_id == tracked.run_id
    assert len(_runs(client, experiment.experiment_id, **{"uctune.run_id": "tracked"})) == 1


def test_the_cli_tracks_a_run_whose_config_names_a_server(server, tiny_csv, tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text(f"tracking: {{mlflow_uri: '{server}', experiment: uctune-cli}}\n")
    argv = ["train", "--sequential", "--data", tiny_csv, "--families", "lr", "--folds", 3]
    code, out, err = run(capsys, *argv, "--config", config, "--out", tmp_path / "t")
    assert code == 0, err
    client = mlflow.MlflowClient(tracking_uri=server)
    experiment = client.get_experiment_by_name("uctune-cli")
    (parent,) = _runs(client, experiment.experiment_id, **{"uctune.run_id": "t"})
    assert f"MLflow: run {parent.info.run_id} in experiment 'uctune-cli' at {server}" in out
    assert 0 < parent.data.metrics["logistic_regression.pr_auc"] <= 1


def test_registry_aliases_are_mirrored(server, tiny_csv, tmp_path):
    config = RunConfig.model_validate(
        {
            "data": str(tiny_csv),
            "train": {"families": ["lr"], "cv_folds": 3},
            "registry": {"path": str(tmp_path / "registry")},
        }
    )
    ctx = start_run(config, command="run", out=tmp_path / "aliased", backend="sequential")
    execute_stages(ctx, ["train", "register"], fresh=True)
    ModelRegistry(tmp_path / "registry", create=False).set_alias("production", 1)
    tracked = track_run(ctx, server, "uctune-aliases")
    assert (tracked.trials, tracked.models, tracked.already) == (0, 1, False)
    client = mlflow.MlflowClient(tracking_uri=server)
    version = client.get_model_version_by_alias("uctune-logistic_regression", "production")
    assert version.tags["uctune.ref"] == "logistic_regression@1.0.0"
    assert track_run(ctx, server, "uctune-aliases").already


def test_an_mlflow_that_does_not_answer_stops_the_run_before_it_starts(tiny_csv, tmp_path, capsys):
    out = tmp_path / "never"
    closed = f"http://127.0.0.1:{free_port()}"
    code, _, err = run(capsys, "run", "--data", tiny_csv, "--out", out, "--mlflow-uri", closed)
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"uctune: error: MLflow at {closed!r} cannot be reached: ")
    assert not out.exists()
