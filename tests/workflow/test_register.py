"""The register stage of ``uctune run``: tuned models if there are any, else the trained ones, each
once per run, with metrics at the stored threshold and full lineage."""

from __future__ import annotations

import json

import pytest

from uctune.config import RunConfig
from uctune.registry import ModelRegistry
from uctune.workflow import STAGES, execute_stages, resume_run, start_run


def config(tiny_csv, registry_root, **registry):
    return RunConfig.model_validate(
        {
            "data": str(tiny_csv),
            "train": {"families": ["lr"], "cv_folds": 3},
            "registry": {"path": str(registry_root), **registry},
        }
    )


def test_register_is_the_last_stage():
    assert list(STAGES)[-1] == "register"


def test_the_default_registry_is_the_seeds_directory(monkeypatch):
    monkeypatch.delenv("UCTUNE_REGISTRY")
    assert RunConfig().registry.path.as_posix() == "data/models/registry"


def test_trained_models_are_registered_once_per_run(tmp_path, tiny_csv):
    root = tmp_path / "registry"
    run_dir = tmp_path / "r"
    ctx = start_run(config(tiny_csv, root), command="run", out=run_dir, backend="sequential")
    assert execute_stages(ctx, ["train", "register"], fresh=True) == ["train", "register"]

    results = json.loads((run_dir / "results.json").read_text())
    section = results["registry"]
    assert section["source"] == "trained" and section["path"] == str(root)
    assert list(section["models"]) == ["logistic_regression"]
    info = section["models"]["logistic_regression"]
    assert section["best"]["model_id"] == section["registry_best"]["model_id"] == info["model_id"]

    registry = ModelRegistry(root, create=False)
    entry = registry.get(info["model_id"])
    family = results["families"]["logistic_regression"]
    assert (entry.model_type, entry.model_name, entry.version) == (
        "logistic_regression",
        "logistic_regression",
        "1.0.0",
    )
    holdout = family["holdout"]["at_threshold"]
    for metric in ("f1", "precision", "recall", "roc_auc", "pr_auc", "tp", "fn"):
        assert entry.metrics[metric] == pytest.approx(holdout[metric]), metric
    assert dict(entry.hyperparameters or {}) == family["params"]
    lineage = entry.lineage
    assert lineage.run_id == "r" and lineage.run_started_at == results["created_at"]
    assert lineage.data_fingerprint == results["data"]["fingerprint"]
    assert list(lineage.features) == results["data"]["features"]
    assert lineage.categorical == ("sector",)
    assert lineage.threshold == pytest.approx(family["threshold"])
    assert lineage.cv_scores["mean"]["f1"] == pytest.approx(family["cv"]["mean"]["f1"])
    assert lineage.seed == 42
    assert len(registry.background(entry.model_id) or []) == 100

    # A resumed run whose register stage did not finish registers nothing twice.
    results["stages"].pop("register")
    (run_dir / "results.json").write_text(json.dumps(results))
    resumed = resume_run(run_dir, backend="sequential")
    assert execute_stages(resumed, ["train", "register"], fresh=False) == ["register"]
    assert [m["model_id"] for m in registry.list_models()] == [info["model_id"]]


def test_tuned_models_take_precedence(tmp_path, tiny_csv):
    root = tmp_path / "registry"
    ctx = start_run(config(tiny_csv, root), command="run", out=tmp_path / "r", backend="sequential")
    execute_stages(ctx, ["train"], fresh=True)
    # What the tuning stage leaves: <family>_tuned models and results["tuning"][family].
    refit = dict(ctx.results["families"]["logistic_regression"], params={"C": 0.5})
    ctx.save_model("logistic_regression_tuned", ctx.model("logistic_regression"))
    ctx.results["tuning"] = {
        "logistic_regression": {
            "metric": "f1",
            "best_score": 0.61,
            "best_params": {"C": 0.5},
            "refit": refit,
        }
    }
    execute_stages(ctx, ["register"], fresh=False)
    section = ctx.results["registry"]
    assert section["source"] == "tuned"
    assert list(section["models"]) == ["logistic_regression_tuned"]
    entry = ModelRegistry(root).get(section["models"]["logistic_regression_tuned"]["model_id"])
    assert dict(entry.hyperparameters or {}) == {"C": 0.5}
    assert entry.lineage.cv_scores["tuning"] == {"metric": "f1", "best_score": 0.61}
    assert "tuned (best CV f1 0.6100)" in (entry.description or "")


def test_registration_can_be_switched_off(tmp_path, tiny_csv):
    root = tmp_path / "registry"
    ctx = start_run(
        config(tiny_csv, root, enabled=False),
        command="run",
        out=tmp_path / "r",
        backend="sequential",
    )
    execute_stages(ctx, ["train", "register"], fresh=True)
    assert ctx.results["registry"] == {"enabled": False}
    assert not root.exists()
