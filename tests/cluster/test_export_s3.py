"""`uctune run --export s3://...` against a real S3-compatible server on loopback, and the
registry pulled back from the bucket as a teammate on another machine would."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.invoke import run
from uctune.registry import ModelRegistry

pytestmark = [pytest.mark.slow, pytest.mark.ray]


@pytest.fixture()
def s3_env(s3_server, monkeypatch):
    for key, value in s3_server.credentials.items():
        monkeypatch.setenv(key, value)
    return s3_server


def _client(s3):
    return boto3.client(
        "s3",
        endpoint_url=f"http://{s3.endpoint}",
        region_name="us-east-1",
        aws_access_key_id=s3.credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=s3.credentials["AWS_SECRET_ACCESS_KEY"],
    )


def test_a_run_exported_to_s3_is_pulled_back_and_checked(
    ray_cluster, s3_env, tiny_csv, tmp_path, capsys
):
    out, registry = tmp_path / "run-s3", tmp_path / "registry"
    (tmp_path / "run.yaml").write_text(f"registry: {{path: {registry}}}\n")
    argv = [
        "--data",
        tiny_csv,
        "--families",
        "lr",
        "--folds",
        3,
        "--trials",
        2,
        "--ensemble",
        "off",
    ]
    code, stdout, err = run(
        capsys,
        "run",
        *argv,
        "--config",
        tmp_path / "run.yaml",
        "--out",
        out,
        "--export",
        s3_env.uri("exports"),
    )
    assert code == 0, err
    keys = s3_env.keys("exports/run-s3/")
    manifest = json.loads(
        _client(s3_env)
        .get_object(Bucket=s3_env.bucket, Key="exports/run-s3/MANIFEST.json")["Body"]
        .read()
    )
    assert sorted(keys) == sorted(
        [f"exports/run-s3/{n}" for n in manifest["files"]] + ["exports/run-s3/MANIFEST.json"]
    )
    assert f"to s3://{s3_env.bucket}/exports/run-s3 in " in stdout  # no endpoint in the message
    assert "run/report/model_comparison.html" in manifest["files"]

    pulled = tmp_path / "teammate"
    source = s3_env.uri("exports/run-s3")
    code, stdout, err = run(capsys, "registry", "pull", source, "--root", pulled)
    assert code == 0, err
    assert [e.model_name for e in ModelRegistry(pulled, create=False).entries()] == [
        "logistic_regression_tuned"
    ]

    # A flipped byte in the bucket is caught on the way in, and nothing is kept.
    (model,) = [n for n in manifest["files"] if n.startswith("registry/") and n.endswith(".joblib")]
    client = _client(s3_env)
    body = bytearray(
        client.get_object(Bucket=s3_env.bucket, Key=f"exports/run-s3/{model}")["Body"].read()
    )
    body[-1] ^= 0xFF
    client.put_object(Bucket=s3_env.bucket, Key=f"exports/run-s3/{model}", Body=bytes(body))
    again = tmp_path / "second"
    code, _, err = run(capsys, "registry", "pull", source, "--root", again)
    assert code == 2 and err.count("\n") == 1 and f"{model} of the export at" in err, err
    assert not again.exists()


def test_an_export_target_that_cannot_be_reached_stops_the_run_before_it_starts(
    s3_env, tiny_csv, tmp_path, capsys
):
    out = tmp_path / "never"
    missing = s3_env.uri("x").replace(f"s3://{s3_env.bucket}/", "s3://missing/")
    code, _, err = run(capsys, "run", "--data", tiny_csv, "--out", out, "--export", missing)
    assert code == 2 and err.count("\n") == 1
    assert "--export 's3://missing/x': the bucket 'missing' does not exist" in err
    assert not out.exists()
