"""The Kubernetes manifests (k8s/), the image (k8s/Dockerfile) and the `ray up` config (cluster/):
each one valid against the schema its tool applies, and holding the properties a batch run of
uctune needs (see k8s/README.md)."""

from __future__ import annotations

import copy
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from tests.k8s.schemas import (
    CLUSTER_DIR,
    K8S_DIR,
    REPO_ROOT,
    containers,
    crd_schema,
    kustomize,
    load_manifest,
    load_manifests,
    pod_templates,
    validate_custom,
    validate_object,
    validate_pod_template,
    validate_ray_up,
)

# Every manifest file that holds whole objects (kustomization files and patches are not objects).
MANIFESTS = sorted(
    str(p.relative_to(K8S_DIR)) for p in K8S_DIR.rglob("*.yaml") if p.name != "kustomization.yaml"
)
KUBERAY_FILES = ["job/rayjob.yaml", "cluster/raycluster.yaml", "cron/raycronjob.yaml"]
# Every kustomization a user applies (`kubectl apply -k`): the batch job, the long-lived cluster,
# the inspection pod.
KUSTOMIZATIONS = ["", "job", "cluster", "inspect", "cron"]
RAY_CONTAINERS = ("ray-head", "ray-worker")
# The only places the RayJob's entrypoint and runtime env may name (the volume and the config).
JOB_PATH_ROOTS = (PurePosixPath("/mnt/uctune"), PurePosixPath("/etc/uctune"))


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rayjob() -> dict[str, Any]:
    """The RayJob as `kubectl apply -k k8s/job` creates it (its name and run directory set)."""
    (job,) = [o for o in kustomize(K8S_DIR / "job") if o["kind"] == "RayJob"]
    return job


@pytest.fixture(scope="module")
def secret() -> dict[str, Any]:
    return load_manifest("secret.example.yaml")


@pytest.fixture(scope="module")
def run_config_text() -> str:
    return load_manifest("configmap.yaml")["data"]["run.yaml"]


@pytest.fixture(scope="module")
def pins() -> dict[str, str]:
    lines = (REPO_ROOT / "constraints.txt").read_text().splitlines()
    return {
        name.lower(): version
        for name, _, version in (line.partition("==") for line in lines if "==" in line)
    }


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def ray_up() -> dict[str, Any]:
    return yaml.safe_load((CLUSTER_DIR / "ray-up.yaml").read_text())


def _cluster_spec(obj: dict[str, Any]) -> dict[str, Any]:
    if obj["kind"] == "RayCronJob":
        return obj["spec"]["jobTemplate"]["rayClusterSpec"]
    return obj["spec"]["rayClusterSpec"] if obj["kind"] == "RayJob" else obj["spec"]


def _quantity(value: str | int) -> float:
    """A Kubernetes quantity (``500m``, ``4``, ``8Gi``) as a number."""
    decimal = {"m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    suffixes = decimal | {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([a-zA-Z]*)", str(value))
    if match is None or match[2] not in suffixes:
        raise ValueError(f"unsupported quantity {value!r}")
    return float(match[1]) * suffixes[match[2]]


def _head_mounts(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The head's volume mounts, by mount path, each with the volume it mounts."""
    pod = _cluster_spec(obj)["headGroupSpec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    head = next(c for c in pod["containers"] if c["name"] == "ray-head")
    return {m["mountPath"]: volumes[m["name"]] for m in head.get("volumeMounts", [])}


def _entrypoint_args(rayjob: dict[str, Any]) -> list[str]:
    return shlex.split(rayjob["spec"]["entrypoint"])


def _option(args: list[str], name: str) -> str:
    if name not in args:
        raise AssertionError(f"the entrypoint has no {name}: {args}")
    return args[args.index(name) + 1]


# --- schemas ----------------------------------------------------------------------------------


def test_the_kuberay_crds_are_read() -> None:
    """Skipped where the CRDs are absent (a user's clone); .ci/run refuses to run without them."""
    for kind in ("RayJob", "RayCluster"):
        assert crd_schema("ray.io/v1", kind)["properties"]["kind"] == {"const": kind}


@pytest.mark.parametrize("name", MANIFESTS)
def test_every_manifest_validates(name: str) -> None:
    docs = load_manifests(name)
    assert docs, f"{name} holds no object"
    for obj in docs:
        validate_object(obj)


@pytest.mark.parametrize("name", KUBERAY_FILES)
def test_kuberay_pod_templates_validate_as_kubernetes_pod_templates(name: str) -> None:
    obj = load_manifest(name)
    templates = pod_templates(obj)
    jobs = ("RayJob", "RayCronJob")
    expected = {"head", "worker[cpu]"} | ({"submitter"} if obj["kind"] in jobs else set())
    assert set(templates) == expected
    for where, template in templates.items():
        validate_pod_template(template, where)


def _images(objects: list[dict[str, Any]]) -> set[str]:
    images = set()
    for obj in objects:
        kuberay = ("RayJob", "RayCronJob", "RayCluster")
        templates = pod_templates(obj) if obj["kind"] in kuberay else {}
        if obj["kind"] == "Pod":
            templates = {"pod": obj}
        images |= {c["image"] for t in templates.values() for c in containers(t)}
    return images


def test_every_container_uses_the_one_image_set_once() -> None:
    # The manifests name it `uctune`; the component image/ sets it, for every kustomization.
    assert _images([o for name in MANIFESTS for o in load_manifests(name)]) == {"uctune"}
    (image,) = load_manifest("image/kustomization.yaml")["images"]
    assert image["name"] == "uctune"
    built = f"{image['newName']}:{image['newTag']}"
    for directory in KUSTOMIZATIONS:
        assert _images(kustomize(K8S_DIR / directory)) == {built}, directory


# --- kustomize --------------------------------------------------------------------------------


def test_kustomization_lists_existing_files_and_every_object_validates() -> None:
    kustomization = load_manifest("kustomization.yaml")
    for entry in kustomization["resources"]:
        listed = K8S_DIR / entry
        assert listed.is_file() or (listed / "kustomization.yaml").is_file(), entry
    objects = kustomize(K8S_DIR)
    assert sorted(o["kind"] for o in objects) == [
        "ConfigMap",
        "NetworkPolicy",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
        "RayJob",
        "ServiceAccount",
    ]
    for obj in objects:
        assert obj["metadata"]["namespace"] == "uctune"
        validate_object(obj)


def test_a_kustomization_listing_a_missing_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources:\n  - rayjob.yml\n"
    )
    with pytest.raises(FileNotFoundError, match="rayjob.yml"):
        kustomize(tmp_path)


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_kustomize_helper_agrees_with_kubectl(directory: str) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: nothing to compare the kustomize helper with")
    built = subprocess.run(
        [kubectl, "kustomize", str(K8S_DIR / directory)], capture_output=True, text=True, check=True
    ).stdout
    by_kind = {o["kind"]: o for o in yaml.safe_load_all(built) if o}
    assert by_kind == {o["kind"]: o for o in kustomize(K8S_DIR / directory)}


# --- the RayJob as a batch job ----------------------------------------------------------------


def test_rayjob_runs_once_and_cleans_up(rayjob: dict[str, Any]) -> None:
    spec = rayjob["spec"]
    assert spec["submissionMode"] == "K8sJobMode"
    assert spec["shutdownAfterJobFinishes"] is True
    assert spec["ttlSecondsAfterFinished"] > 0
    assert 0 < spec["preRunningDeadlineSeconds"] < spec["activeDeadlineSeconds"]
    # A lost head or driver is retried on a fresh cluster, and the retry resumes the run.
    assert spec["backoffLimit"] >= 1
    # The driver must stay on the head (the only pod with the volume and the config).
    assert not {"entrypointNumCpus", "entrypointNumGpus", "entrypointResources"} & set(spec)
    assert "clusterSelector" not in spec


def test_entrypoint_is_a_plain_uctune_run_under_the_mounted_paths(rayjob: dict[str, Any]) -> None:
    from uctune.cli.run import command

    entrypoint = rayjob["spec"]["entrypoint"]
    assert not re.search(r"[;&|<>`$\\\n]", entrypoint), entrypoint
    args = _entrypoint_args(rayjob)
    assert args[:2] == ["uctune", "run"]
    command.make_context("run", args[2:])  # uctune's own parser accepts every option
    paths = [PurePosixPath(a) for a in args if a.startswith("/")]
    assert paths
    for path in paths:
        assert any(path.is_relative_to(root) for root in JOB_PATH_ROOTS), path


def test_the_entrypoint_can_run_again_and_resumes_its_own_run(rayjob: dict[str, Any]) -> None:
    args = _entrypoint_args(rayjob)
    assert _option(args, "--resume") == "auto"
    # Each run's directory is named after its RayJob, which job/'s nameSuffix makes unique.
    suffix = load_manifest("job/kustomization.yaml")["nameSuffix"]
    assert rayjob["metadata"]["name"] == "uctune-run" + suffix
    assert _option(args, "--out") == f"/mnt/uctune/runs/{rayjob['metadata']['name']}"
    # The README's way back after the retries are spent: the same RayJob applied again.
    readme = (K8S_DIR / "README.md").read_text()
    assert "kubectl -n uctune delete rayjob uctune-run-1\nkubectl apply -k k8s/job" in readme


def _built(directory: str, kind: str) -> dict[str, Any]:
    (obj,) = [o for o in kustomize(K8S_DIR / directory) if o["kind"] == kind]
    return obj


def test_the_weekly_retraining_runs_the_batch_job_with_its_own_entrypoint(
    rayjob: dict[str, Any],
) -> None:
    cron = _built("cron", "RayCronJob")["spec"]
    assert cron["schedule"] == "0 2 * * 1" and cron["timeZone"] == "Asia/Kolkata"
    # The same job as k8s/job (cluster, retries, deadlines, security), but for the entrypoint.
    template = {k: v for k, v in cron["jobTemplate"].items() if k != "entrypoint"}
    assert template == {k: v for k, v in rayjob["spec"].items() if k != "entrypoint"}


def test_the_weekly_entrypoint_names_each_week_and_exports(tmp_path: Path) -> None:
    from uctune.cli.run import command

    entrypoint = _built("cron", "RayCronJob")["spec"]["jobTemplate"]["entrypoint"]
    # Ray runs an entrypoint through a shell: what that shell hands to uctune.
    echoed = subprocess.run(
        ["sh", "-c", f"printf '%s\\n' {entrypoint}"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert echoed[:2] == ["uctune", "run"]
    command.make_context("run", echoed[2:])
    week = subprocess.run(
        ["date", "-u", "+%G-W%V"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert _option(echoed, "--out") == f"/mnt/uctune/runs/weekly-{week}"
    assert _option(echoed, "--resume") == "auto"
    assert PurePosixPath(_option(echoed, "--export")).is_relative_to("/mnt/uctune")
    assert PurePosixPath(_option(echoed, "--data")).is_relative_to("/mnt/uctune/data")


def test_a_new_suffix_names_a_new_run_and_its_own_directory(tmp_path: Path) -> None:
    shutil.copytree(K8S_DIR, tmp_path / "k8s")
    job = tmp_path / "k8s" / "job" / "kustomization.yaml"
    job.write_text(job.read_text().replace('nameSuffix: "-1"', 'nameSuffix: "-2026w49"'))
    (built,) = [o for o in kustomize(tmp_path / "k8s" / "job") if o["kind"] == "RayJob"]
    assert built["metadata"]["name"] == "uctune-run-2026w49"
    assert built["spec"]["entrypoint"].endswith(" --out /mnt/uctune/runs/uctune-run-2026w49")


def test_runtime_env_sets_only_env_vars_under_the_mounted_paths(rayjob: dict[str, Any]) -> None:
    runtime_env = yaml.safe_load(rayjob["spec"]["runtimeEnvYAML"])
    assert set(runtime_env) == {"env_vars"}
    env = runtime_env["env_vars"]
    assert all(isinstance(v, str) for v in env.values()), env
    assert env["PYTHONUNBUFFERED"] == "1"
    for value in env.values():
        if value.startswith("/"):
            path = PurePosixPath(value)
            assert any(path.is_relative_to(root) for root in JOB_PATH_ROOTS), value


def test_volume_on_the_head_holds_the_runs_and_the_registry(
    rayjob: dict[str, Any], run_config_text: str
) -> None:
    from uctune.config import RunConfig

    pvc = load_manifest("pvc.yaml")
    mounts = _head_mounts(rayjob)
    volume_paths = [
        PurePosixPath(path)
        for path, volume in mounts.items()
        if volume.get("persistentVolumeClaim", {}).get("claimName") == pvc["metadata"]["name"]
    ]
    assert len(volume_paths) == 1, mounts
    volume = volume_paths[0]
    config = RunConfig.model_validate(yaml.safe_load(run_config_text))
    registry_env = yaml.safe_load(rayjob["spec"]["runtimeEnvYAML"])["env_vars"]["UCTUNE_REGISTRY"]
    out = _option(_entrypoint_args(rayjob), "--out")
    assert PurePosixPath(registry_env) == PurePosixPath(config.registry.path)
    for path in (config.output_dir, config.registry.path, out, registry_env):
        assert PurePosixPath(path).is_relative_to(volume), path
    assert PurePosixPath(out).parent == PurePosixPath(config.output_dir)
    # ReadWriteOnce, and only the driver writes: the workers do not mount it.
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    for group in rayjob["spec"]["rayClusterSpec"]["workerGroupSpecs"]:
        volumes = group["template"]["spec"].get("volumes", [])
        assert not [v for v in volumes if "persistentVolumeClaim" in v], group["groupName"]


def test_run_config_comes_from_the_configmap_mounted_on_the_head(rayjob: dict[str, Any]) -> None:
    configmap = load_manifest("configmap.yaml")
    config_path = PurePosixPath(_option(_entrypoint_args(rayjob), "--config"))
    volume = _head_mounts(rayjob)[str(config_path.parent)]
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    assert config_path.name in configmap["data"]


def test_run_config_is_a_valid_uctune_run_config(run_config_text: str) -> None:
    from uctune.config import RunConfig

    raw = yaml.safe_load(run_config_text)
    config = RunConfig.model_validate(raw)  # validating does not read the data file
    # The image's dataset, or a table the user put on the volume.
    data = PurePosixPath(config.data)
    assert data.is_relative_to("/opt/uctune/data") or data.is_relative_to("/mnt/uctune"), data
    assert config.registry.enabled
    assert set(raw) <= set(RunConfig.model_fields)


def test_run_config_rejects_a_misspelled_key(run_config_text: str) -> None:
    from pydantic import ValidationError

    from uctune.config import RunConfig

    raw = yaml.safe_load(run_config_text)
    raw["tune"]["trails"] = raw["tune"].pop("trials")
    with pytest.raises(ValidationError, match="trails"):
        RunConfig.model_validate(raw)


# --- security ---------------------------------------------------------------------------------


def _security_targets() -> list[Any]:
    """Every pod template (and Pod) of the manifests, as pytest params named file:where."""
    targets = []
    for name in [*KUBERAY_FILES, "inspect/inspect-pod.yaml"]:
        obj = load_manifest(name)
        templates = {"pod": obj} if obj["kind"] == "Pod" else pod_templates(obj)
        for where, template in templates.items():
            label = f"{name}:{where}"
            targets.append(pytest.param(label, template, id=label))
    return targets


@pytest.mark.parametrize(("where", "template"), _security_targets())
def test_every_container_runs_non_root_without_privileges(
    where: str, template: dict[str, Any]
) -> None:
    pod = template["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True, where
    assert pod["securityContext"]["runAsUser"] == 1000, where
    assert not {"hostNetwork", "hostPID", "hostIPC"} & {k for k, v in pod.items() if v}, where
    assert not [v for v in pod.get("volumes", []) if "hostPath" in v], where
    for container in containers(template):
        sc = container.get("securityContext", {})
        label = f"{where}/{container['name']}"
        assert sc.get("runAsNonRoot") is True, label
        assert sc.get("runAsUser") == 1000, label
        assert sc.get("allowPrivilegeEscalation") is False, label
        assert sc.get("capabilities", {}).get("drop") == ["ALL"], label
        assert not sc.get("capabilities", {}).get("add"), label
        assert not sc.get("privileged", False), label
        assert sc.get("seccompProfile") == {"type": "RuntimeDefault"}, label
        assert not any("hostPort" in p for p in container.get("ports", [])), label


@pytest.mark.parametrize(("where", "template"), _security_targets())
def test_every_pod_runs_as_the_uctune_account_without_an_api_token(
    where: str, template: dict[str, Any]
) -> None:
    pod = template["spec"]
    assert pod["serviceAccountName"] == "uctune", where
    assert pod["automountServiceAccountToken"] is False, where


def test_the_service_account_is_applied_with_the_job_and_mounts_no_token() -> None:
    account = load_manifest("serviceaccount.yaml")
    assert account["metadata"]["name"] == "uctune"
    assert account["automountServiceAccountToken"] is False
    assert (
        "rules" not in account
        and "serviceaccount.yaml" in load_manifest("kustomization.yaml")["resources"]
    )


def _ray_containers() -> list[Any]:
    params = []
    for name in KUBERAY_FILES:
        for where, template in pod_templates(load_manifest(name)).items():
            for container in containers(template):
                if container["name"] in RAY_CONTAINERS:
                    label = f"{name}:{where}/{container['name']}"
                    params.append(pytest.param(template, container, id=label))
    return params


@pytest.mark.parametrize(("template", "container"), _ray_containers())
def test_ray_containers_have_a_read_only_root_and_a_bounded_scratch_tmp(
    template: dict[str, Any], container: dict[str, Any]
) -> None:
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # Ray writes its session (logs, sockets, spilled objects) to /tmp/ray: an emptyDir, bounded.
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
    assert len(tmp) == 1 and "emptyDir" in volumes[tmp[0]["name"]]
    size = _quantity(volumes[tmp[0]["name"]]["emptyDir"]["sizeLimit"])
    resources = container["resources"]
    assert 0 < _quantity(resources["requests"]["ephemeral-storage"]) <= size
    assert size <= _quantity(resources["limits"]["ephemeral-storage"])
    # matplotlib (the report's plots) keeps its cache under /tmp, not in the read-only home
    env = {e["name"]: e["value"] for e in container["env"]}
    assert PurePosixPath(env["MPLCONFIGDIR"]).is_relative_to("/tmp")


@pytest.mark.parametrize("name", KUBERAY_FILES)
def test_the_ray_client_port_is_not_opened(name: str) -> None:
    for where, template in pod_templates(load_manifest(name)).items():
        for container in containers(template):
            ports = {p["containerPort"] for p in container.get("ports", [])}
            assert 10001 not in ports, f"{name}:{where}/{container['name']}"


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return selector["matchLabels"].items() <= labels.items() and not selector.get(
        "matchExpressions"
    )


def test_only_uctune_pods_and_the_operator_reach_the_ray_pods() -> None:
    policy = load_manifest("networkpolicy.yaml")["spec"]
    assert policy["policyTypes"] == ["Ingress"]
    own, operator = policy["ingress"]
    # It applies to every pod of the job, and the job's pods (the submitter too) may reach them.
    for where, template in pod_templates(load_manifest("job/rayjob.yaml")).items():
        labels = template["metadata"]["labels"]
        assert _matches(policy["podSelector"], labels), where
        assert _matches(own["from"][0]["podSelector"], labels), where
    assert own == {"from": [{"podSelector": policy["podSelector"]}]}
    # The operator reads the job's status from the dashboard, and reaches nothing else.
    (peer,) = operator["from"]
    assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "kuberay-operator"}
    assert operator["ports"] == [{"protocol": "TCP", "port": 8265}]


@pytest.mark.parametrize("name", KUBERAY_FILES)
def test_the_head_is_not_evicted_by_a_drain_or_an_autoscaler(name: str) -> None:
    head = pod_templates(load_manifest(name))["head"]
    annotations = head["metadata"]["annotations"]
    assert annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"
    budget = load_manifest("head-pdb.yaml")["spec"]
    assert budget["maxUnavailable"] == 0
    assert _matches(budget["selector"], head["metadata"]["labels"])
    for where, template in pod_templates(load_manifest(name)).items():
        if where != "head":
            assert not _matches(budget["selector"], template["metadata"]["labels"]), where


@pytest.mark.parametrize(("where", "template"), _security_targets())
def test_every_container_has_cpu_and_memory_requests_and_limits(
    where: str, template: dict[str, Any]
) -> None:
    for container in containers(template):
        resources = container["resources"]
        label = f"{where}/{container['name']}"
        for kind in ("cpu", "memory"):
            request = _quantity(resources["requests"][kind])
            limit = _quantity(resources["limits"][kind])
            assert 0 < request <= limit, (label, kind)
            if container["name"] in RAY_CONTAINERS:
                # Ray sizes itself from the limits: give it what it will use.
                assert request == limit, (label, kind)


@pytest.mark.parametrize("name", KUBERAY_FILES)
def test_ray_token_comes_from_the_secret(
    name: str, secret: dict[str, Any], pins: dict[str, str]
) -> None:
    cluster = _cluster_spec(load_manifest(name))
    assert cluster["authOptions"] == {"mode": "token", "secretName": secret["metadata"]["name"]}
    assert set(secret["stringData"]) == {"auth_token"}  # the key KubeRay reads
    # KubeRay's token mode needs Ray >= 2.52 and the rayVersion it is told.
    assert Version(cluster["rayVersion"]) == Version(pins["ray"]) >= Version("2.52")
    for template in pod_templates(load_manifest(name)).values():
        for container in containers(template):
            for env in container.get("env", []):
                assert not ("TOKEN" in env["name"] and "value" in env), "a token written inline"


@pytest.mark.parametrize("name", KUBERAY_FILES)
def test_nothing_is_exposed_outside_the_cluster(name: str) -> None:
    cluster = _cluster_spec(load_manifest(name))
    head = cluster["headGroupSpec"]
    assert cluster["enableInTreeAutoscaling"] is False
    assert head.get("serviceType", "ClusterIP") == "ClusterIP"
    assert not head.get("enableIngress", False)
    assert head.get("headService", {}).get("spec", {}).get("type", "ClusterIP") == "ClusterIP"
    for group in cluster["workerGroupSpecs"]:
        assert group["minReplicas"] == group["replicas"] == group["maxReplicas"]


def test_no_manifest_creates_a_service_or_ingress_reachable_from_outside() -> None:
    objects = [obj for name in MANIFESTS for obj in load_manifests(name)]
    kinds = {obj["kind"] for obj in objects}
    assert not kinds & {"Ingress", "Gateway", "HTTPRoute", "Route"}, kinds
    for obj in objects:
        if obj["kind"] == "Service":
            assert obj["spec"].get("type", "ClusterIP") == "ClusterIP", obj["metadata"]["name"]


# --- the validator fails when it should --------------------------------------------------------


def _set(obj: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        obj = obj[int(key)] if isinstance(obj, list) else obj[key]
    obj[leaf] = value


def _rename(obj: dict[str, Any], dotted: str, new: str) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        obj = obj[int(key)] if isinstance(obj, list) else obj[key]
    obj[new] = obj.pop(leaf)


@pytest.mark.parametrize(
    ("dotted", "new", "match"),
    [
        ("spec.shutdownAfterJobFinishes", "shutdownAfterJobFinish", "shutdownAfterJobFinish"),
        ("spec.rayClusterSpec.authOptions", "authOption", "authOption"),
        ("spec.rayClusterSpec.headGroupSpec.rayStartParams", "rayStartParam", "rayStartParam"),
        ("metadata.labels", "lables", "lables"),
    ],
)
def test_a_misspelled_rayjob_field_is_rejected(
    rayjob: dict[str, Any], dotted: str, new: str, match: str
) -> None:
    broken = copy.deepcopy(rayjob)
    _rename(broken, dotted, new)
    with pytest.raises(jsonschema.ValidationError, match=match):
        validate_custom(broken)


@pytest.mark.parametrize(
    ("dotted", "value", "match"),
    [
        ("spec.backoffLimit", "0", "is not of type 'integer'"),
        ("spec.shutdownAfterJobFinishes", "yes", "is not of type 'boolean'"),
        ("spec.ttlSecondsAfterFinished", 2**40, "int32"),
        ("spec.rayClusterSpec.headGroupSpec.rayStartParams.num-cpus", 0, "not of type 'string'"),
        ("spec.rayClusterSpec.authOptions.mode", "tokens", "is not one of"),
        ("spec.rayClusterSpec.workerGroupSpecs.0.minReplicas", "2", "not of type 'integer'"),
        ("apiVersion", "ray.io/v2", "no CRD"),
    ],
)
def test_a_rayjob_field_of_the_wrong_type_is_rejected(
    rayjob: dict[str, Any], dotted: str, value: Any, match: str
) -> None:
    broken = copy.deepcopy(rayjob)
    _set(broken, dotted, value)
    with pytest.raises(jsonschema.ValidationError, match=match):
        validate_object(broken)


def test_a_quantity_is_an_integer_or_a_string_with_a_unit(rayjob: dict[str, Any]) -> None:
    limits = "spec.rayClusterSpec.workerGroupSpecs.0.template.spec.containers.0.resources.limits"
    as_int = copy.deepcopy(rayjob)
    _set(as_int, f"{limits}.cpu", 4)  # x-kubernetes-int-or-string: an integer is fine
    validate_custom(as_int)
    broken = copy.deepcopy(rayjob)
    _set(broken, f"{limits}.cpu", "four")
    with pytest.raises(jsonschema.ValidationError, match="does not match"):
        validate_custom(broken)
    _set(broken, f"{limits}.cpu", 4.5)
    with pytest.raises(jsonschema.ValidationError, match="4.5"):
        validate_custom(broken)


@pytest.mark.parametrize("where", ["head", "worker[cpu]", "submitter"])
def test_a_broken_pod_template_is_rejected_by_the_kubernetes_schema(
    rayjob: dict[str, Any], where: str
) -> None:
    template = copy.deepcopy(pod_templates(rayjob)[where])
    template["spec"]["containers"][0]["securityContex"] = {}
    with pytest.raises(jsonschema.ValidationError, match="securityContex"):
        validate_pod_template(template, where)
    template = copy.deepcopy(pod_templates(rayjob)[where])
    template["spec"]["containers"][0]["resources"]["limits"]["cpu"] = [4]
    with pytest.raises(jsonschema.ValidationError):
        validate_pod_template(template, where)


@pytest.mark.parametrize(
    ("name", "dotted", "value", "match"),
    [
        ("configmap.yaml", "data.extra", 1, "not of type"),
        ("pvc.yaml", "spec.accessMode", ["ReadWriteOnce"], "accessMode"),
        ("secret.example.yaml", "stringData.auth_token", 42, "not of type"),
        ("cluster/raycluster.yaml", "spec.headGroupSpec.serviceTyp", "ClusterIP", "serviceTyp"),
    ],
)
def test_other_broken_objects_are_rejected(name: str, dotted: str, value: Any, match: str) -> None:
    broken = copy.deepcopy(load_manifest(name))
    _set(broken, dotted, value)
    with pytest.raises(jsonschema.ValidationError, match=match):
        validate_object(broken)


# --- ray up -----------------------------------------------------------------------------------


def test_ray_up_config_validates_against_rays_schema(ray_up: dict[str, Any]) -> None:
    validate_ray_up(ray_up)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda c: c.__setitem__("setup_command", c.pop("setup_commands")), "setup_command"),
        (lambda c: c["provider"].pop("type"), "'type' is a required property"),
        (lambda c: c.__setitem__("max_workers", "two"), "is not of type 'integer'"),
        (lambda c: c["auth"].__setitem__("ssh_usr", "ubuntu"), "ssh_usr"),
    ],
    ids=["misspelled-key", "provider-without-type", "wrong-type", "misspelled-auth-key"],
)
def test_a_broken_ray_up_config_is_rejected(
    ray_up: dict[str, Any], change: Any, match: str
) -> None:
    broken = copy.deepcopy(ray_up)
    change(broken)
    with pytest.raises(jsonschema.ValidationError, match=match):
        validate_ray_up(broken)


def test_ray_up_installs_pinned_uctune_and_keeps_the_dashboard_local(
    ray_up: dict[str, Any],
) -> None:
    assert any(
        "pip install" in cmd and "-c ~/uctune/constraints.txt" in cmd
        for cmd in ray_up["setup_commands"]
    )
    head = " ".join(ray_up["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head
    for commands in (ray_up["head_start_ray_commands"], ray_up["worker_start_ray_commands"]):
        assert any("RAY_AUTH_MODE=token" in cmd and "ray start" in cmd for cmd in commands)
    for remote, local in ray_up["file_mounts"].items():
        if not local.startswith("~"):
            assert (REPO_ROOT / local).exists(), f"file mount {remote}: {local} is missing"


# --- the image --------------------------------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    text = (K8S_DIR / "Dockerfile").read_text().replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_image_matches_the_pinned_ray_and_python(
    pins: dict[str, str], pyproject: dict[str, Any]
) -> None:
    froms = [rest for keyword, rest in _dockerfile() if keyword == "FROM"]
    assert len(froms) == 1, froms
    match = re.fullmatch(r"rayproject/ray:(\d+\.\d+\.\d+)-py(\d)(\d+)", froms[0])
    assert match, froms[0]
    assert match[1] == pins["ray"], f"the image has Ray {match[1]}, constraints.txt {pins['ray']}"
    python = Version(f"{match[2]}.{match[3]}")
    requires = SpecifierSet(pyproject["project"]["requires-python"])
    assert python in requires
    floor = min(Version(s.version) for s in requires if s.operator in (">=", "~="))
    assert python == floor, f"the image has Python {python}, requires-python starts at {floor}"


def test_image_installs_uctune_with_constraints_and_ships_the_dataset(
    run_config_text: str,
) -> None:
    instructions = _dockerfile()
    runs = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    assert re.search(r"pip install .*-c \S*constraints\.txt", runs), runs
    env = dict(
        rest.split("=", 1) for keyword, rest in instructions if keyword == "ENV" and "=" in rest
    )
    shipped = PurePosixPath(env["UCTUNE_DATA_DIR"]) / "events.csv"
    copies = [rest.split() for keyword, rest in instructions if keyword == "COPY"]
    assert [a for a in copies if a[-2:] == ["data/events.csv", str(shipped)]], copies
    for args in copies:
        for source in (a for a in args[:-1] if not a.startswith("--")):
            assert (REPO_ROOT / source).exists(), f"COPY {source}: not in the build context"
    data = PurePosixPath(yaml.safe_load(run_config_text)["data"])
    if data.is_relative_to("/opt/uctune"):
        assert data == shipped, f"the run config reads {data}, the image ships {shipped}"
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1] == "1000"


def test_image_takes_torch_from_the_cpu_index_unless_told_otherwise(pins: dict[str, str]) -> None:
    instructions = _dockerfile()
    args = dict(rest.split("=", 1) for keyword, rest in instructions if keyword == "ARG")
    assert args["TORCH_INDEX"] == "https://download.pytorch.org/whl/cpu"
    (run,) = [rest for keyword, rest in instructions if keyword == "RUN"]
    steps = [shlex.split(step) for step in run.split("&&")]
    torch_step, uctune_step = steps[0], steps[1]
    # torch alone, from TORCH_INDEX, at the pin constraints.txt holds (read from it at build time)
    assert torch_step[:5] == ["python", "-m", "pip", "install", "--no-cache-dir"]
    assert torch_step[5:7] == ["--index-url", "$TORCH_INDEX"]
    assert torch_step[7:] == ["$(grep '^torch==' /tmp/uctune-src/constraints.txt)"]
    assert f"torch=={pins['torch']}" in (REPO_ROOT / "constraints.txt").read_text().splitlines()
    # then uctune, with every pin and the default index: the torch already there satisfies its pin
    assert "--index-url" not in uctune_step and "-c" in uctune_step


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    ignored = {
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "runs"} <= ignored
    copied = {a for k, rest in _dockerfile() if k == "COPY" for a in rest.split()[:-1]}
    assert not copied & ignored
