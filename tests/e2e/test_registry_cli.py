"""CLI to registry to scores: `uctune run` registers its models, `uctune registry` shows and moves
them, `uctune predict` scores new events with reasons, and bad input stops with one line."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.invoke import run
from uctune.data import LABEL

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module")
def registered(cli_run):
    """The session's finished `uctune run` (tests/e2e/conftest.py): its registry holds the tuned
    logistic regression (id 1), the tuned XGBoost (id 2) and their ensemble (id 3)."""
    return cli_run


@pytest.fixture()
def scratch(registered, tmp_path):
    """A copy of the registry for tests that change or damage it."""
    root = tmp_path / "registry"
    shutil.copytree(registered.root, root)
    return root


def test_run_registers_its_models_and_prints_the_best(registered):
    results = json.loads((registered.base / "run" / "results.json").read_text())
    section = results["registry"]
    # The register stage keeps the tuned refit of each family, and here the ensemble.
    assert set(section["models"]) == {"logistic_regression_tuned", "xgboost_tuned", "ensemble"}
    assert results["stages"]["register"]["status"] == "done"
    best = section["best"]
    assert (
        f"registered 2 tuned model(s) and the ensemble in {registered.root}: ids 1, 2, 3"
        in registered.stdout
    )
    assert (
        f"best of this run: model {best['model_id']} {best['model_type']}@{best['version']}"
        in registered.stdout
    )


def test_list_show_best(capsys, registered):
    root = ["--root", registered.root]
    code, out, _ = run(capsys, "registry", "list", *root)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "id",
        "type",
        "version",
        "name",
        "f1",
        "roc_auc",
        "pr_auc",
        "created",
        "aliases",
    ]
    assert len(lines) == 5
    assert [line.split()[1] for line in lines[2:]] == ["logistic_regression", "xgboost", "ensemble"]

    code, out, _ = run(capsys, "registry", "list", "--type", "xgboost", "--json", *root)
    listed = json.loads(out)
    assert [m["model_type"] for m in listed] == ["xgboost"]
    assert {"model_id", "model_name", "version", "metrics", "lineage", "sha256"} <= set(listed[0])

    code, out, _ = run(capsys, "registry", "list", "--min-f1", "2", *root)
    assert code == 0 and "no models in" in out and "match" in out

    code, out, _ = run(capsys, "registry", "show", "xgboost@1.0.0", *root)
    assert code == 0
    for key in ("model", "metrics", "threshold", "run", "data", "features", "cv mean", "libraries"):
        assert any(line.startswith(key) for line in out.splitlines()), key

    code, out, _ = run(capsys, "registry", "best", "--json", *root)
    best = json.loads(out)
    assert best["metrics"]["f1"] == max(
        m["metrics"]["f1"] for m in json.loads(run(capsys, "registry", "list", "--json", *root)[1])
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["registry", "show", "42"], "no model with id 42 in registry"),
        (["registry", "show", "xgboost@1.0"], "a model version must be MAJOR.MINOR.PATCH"),
        (["registry", "show", "production"], "'production' is not a model id, type@version, alias"),
        (["registry", "best", "--metric", "f2"], "has a metric named 'f2'"),
        (["registry", "alias", "best", "1"], "an alias must be 1-64 letters"),
        (["registry", "alias", "staging"], "alias 'staging' has never been set"),
        (["registry", "delete", "9", "--yes"], "no model with id 9"),
        (
            ["registry", "delete", "1"],
            "deleting model 1 (logistic_regression@1.0.0) needs a confirmation; pass --yes",
        ),
        (["registry", "show", "@1.0.0"], "a type@version reference needs the type, got '@1.0.0'"),
    ],
)
def test_bad_registry_commands(capsys, registered, argv, message):
    code, out, err = run(capsys, *argv, "--root", registered.root)
    assert code == 2 and message in err, err
    assert err.count("\n") == 1


def test_missing_registry(capsys, tmp_path):
    code, _, err = run(capsys, "registry", "list", "--root", tmp_path / "none")
    assert code == 2 and "no model registry at" in err and err.count("\n") == 1
    assert not (tmp_path / "none").exists()


def test_alias_history_and_delete(capsys, scratch):
    root = ["--root", scratch]
    best = json.loads(run(capsys, "registry", "best", "--json", *root)[1])["model_id"]
    other = 1 if best != 1 else 2
    assert run(capsys, "registry", "alias", "production", other, "--reason", "first", *root)[0] == 0
    code, out, _ = run(capsys, "registry", "alias", "production", "best", "--by", "alice", *root)
    assert code == 0 and f"was model {other}" in out
    code, out, _ = run(capsys, "registry", "alias", "production", "--json", *root)
    shown = json.loads(out)
    assert [(e["from_model_id"], e["to_model_id"]) for e in shown["history"]] == [
        (None, other),
        (other, best),
    ]
    assert shown["history"][-1]["changed_by"] == "alice"
    code, out, _ = run(capsys, "registry", "alias", *root)
    assert code == 0 and "production" in out

    target = shown["current"]["model_id"]
    code, _, err = run(capsys, "registry", "delete", target, "--yes", *root)
    assert code == 2 and "is the target of alias 'production'" in err
    code, out, _ = run(capsys, "registry", "delete", target, "--yes", "--force", *root)
    assert code == 0 and f"deleted model {target}" in out
    assert len(json.loads(run(capsys, "registry", "list", "--json", *root)[1])) == 2
    code, out, _ = run(capsys, "registry", "alias", "production", *root)
    assert "production: unset" in out and "model deleted" in out


def test_verify_clean_then_damaged(capsys, scratch):
    code, out, _ = run(capsys, "registry", "verify", "--root", scratch)
    assert code == 0 and "3 model(s), every file verified" in out
    first = sorted(scratch.glob("*.joblib"))[0]
    data = bytearray(first.read_bytes())
    data[100] ^= 0xFF
    first.write_bytes(bytes(data))
    (scratch / "000077-xgboost-7.7.7.joblib").write_bytes(b"stray")
    code, out, err = run(capsys, "registry", "verify", "--root", scratch)
    assert code == 2
    assert "corrupted" in out and "stray" in out
    assert "2 problem(s) (corrupted, stray) among 3 model(s)" in err
    code, out, _ = run(capsys, "registry", "verify", "--json", "--root", scratch)
    assert code == 2 and {p["kind"] for p in json.loads(out)["problems"]} == {"corrupted", "stray"}


# -- predict ------------------------------------------------------------------------------------
@pytest.mark.parametrize("ref", ["best", "1", "xgboost@1.0.0", "production"])
def test_predict_scores_with_reasons(capsys, registered, scratch, tmp_path, ref):
    root = ["--root", scratch]
    run(capsys, "registry", "alias", "production", "2", *root)
    output = tmp_path / "scores.csv"
    code, out, err = run(
        capsys, "predict", "--model", ref, "--input", registered.events, "--output", output, *root
    )
    assert code == 0, err
    assert "scored 15 events with model" in out and str(output) in out
    assert "predict: SHAP reasons: 15/15" in err  # the progress line
    scores = pd.read_csv(output)
    assert list(scores.columns[:5]) == [
        "symbol",
        "announcement_date",
        "probability",
        "decision",
        "confidence",
    ]
    assert [c for c in scores.columns if c.startswith("reason_")] == [
        f"reason_{i}" for i in range(1, 6)
    ]
    assert len(scores) == 15 and scores["probability"].between(0, 1).all()
    assert set(scores["confidence"]) <= {"high", "medium", "low", "none"}
    assert scores["reason_1"].str.contains(r" (?:raised|lowered) the probability by |barely").all()
    assert not list(tmp_path.glob(".scores.csv.*"))  # the temporary file was renamed


def test_predict_uses_the_stored_threshold(capsys, registered, tmp_path):
    entry = json.loads(run(capsys, "registry", "show", "1", "--json", "--root", registered.root)[1])
    output = tmp_path / "s.csv"
    run(
        capsys,
        "predict",
        "--model",
        "1",
        "--input",
        registered.events,
        "--output",
        output,
        "--reasons",
        "0",
        "--root",
        registered.root,
    )
    scores = pd.read_csv(output)
    threshold = entry["lineage"]["threshold"]
    assert (scores["decision"] == (scores["probability"] >= threshold).astype(int)).all()
    assert "reason_1" not in scores


def test_predict_bad_inputs_write_nothing(capsys, registered, tmp_path, tiny_frame):
    events = tiny_frame.drop(columns=LABEL).head(5)
    missing = tmp_path / "missing.csv"
    events.drop(columns=["eps_qoq", "opm"]).to_csv(missing, index=False)
    extra = tmp_path / "extra.csv"
    events.assign(broker_rating="buy").to_csv(extra, index=False)
    text = tmp_path / "text.csv"
    events.assign(eps_qoq="twelve").to_csv(text, index=False)
    cases = [
        (
            missing,
            "1",
            "lacks 2 feature column(s) that model 1 (logistic_regression@1.0.0) needs: "
            "eps_qoq, opm",
        ),
        (
            extra,
            "1",
            "has column(s) model 1 (logistic_regression@1.0.0) was not trained on: broker_rating",
        ),
        (text, "1", "feature column 'eps_qoq' of input file"),
        (tmp_path / "none.csv", "1", "does not exist"),
        (registered.events, "7", "no model with id 7"),
        (registered.events, "lgbm@1.0.0", "no model lgbm@1.0.0"),
    ]
    for path, ref, message in cases:
        output = tmp_path / "out.csv"
        code, _, err = run(
            capsys,
            "predict",
            "--model",
            ref,
            "--input",
            path,
            "--output",
            output,
            "--root",
            registered.root,
        )
        assert code == 2 and message in err and err.count("\n") == 1, (path, err)
        assert not output.exists()
    code, _, err = run(
        capsys,
        "predict",
        "--model",
        "1",
        "--input",
        registered.events,
        "--output",
        tmp_path / "out.txt",
        "--root",
        registered.root,
    )
    assert code == 2 and "--output must end in .csv, .csv.gz or .parquet" in err


def test_predict_refuses_a_tampered_model(capsys, registered, scratch, tmp_path):
    artifact = sorted(scratch.glob("000001-*.joblib"))[0]
    artifact.write_bytes(artifact.read_bytes()[:-1] + b"\x00")
    output = tmp_path / "out.csv"
    code, _, err = run(
        capsys,
        "predict",
        "--model",
        "1",
        "--input",
        registered.events,
        "--output",
        output,
        "--root",
        scratch,
    )
    assert code == 2 and "refusing to unpickle it" in err
    assert not output.exists()


def test_predict_warns_about_other_library_versions(capsys, registered, scratch, tmp_path):
    with sqlite3.connect(scratch / "registry.db") as db:
        db.execute(
            "UPDATE model_lineage SET library_versions = json_set(library_versions, "
            "'$.\"scikit-learn\"', '0.24.2') WHERE model_id = 1"
        )
    code, _, err = run(
        capsys,
        "predict",
        "--model",
        "1",
        "--input",
        registered.events,
        "--output",
        tmp_path / "o.csv",
        "--reasons",
        "0",
        "--root",
        scratch,
    )
    assert code == 0
    assert (
        "uctune: warning: model 1 (logistic_regression@1.0.0) was saved with other library "
        "versions: scikit-learn 0.24.2 -> " in err
    )


def test_predict_in_a_fresh_process(registered, tmp_path):
    exe = Path(sys.executable).with_name("uctune")
    output = tmp_path / "fresh.csv"
    proc = subprocess.run(
        [
            str(exe),
            "predict",
            "--model",
            "best",
            "--input",
            str(registered.events),
            "--output",
            str(output),
            "--root",
            str(registered.root),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(pd.read_csv(output)) == 15
