"""Validation of the deployment configs in ``k8s/`` and ``cluster/`` against the schemas their tools
use, offline: KubeRay objects against the CRDs in ``k8s-crds/`` of :data:`tests.shared.SHARED` (the
tests that need them skip where it is absent), Kubernetes' own objects (and the pod templates inside
the KubeRay objects) against the official schemas bundled by ``kubernetes-validate``, and the
``ray up`` config against the ``ray-schema.json`` Ray ships.

Every ``validate_*`` function raises :class:`jsonschema.ValidationError` (its ``path`` locates the
field) and returns ``None`` when the object is valid. Unknown fields are errors everywhere, as
with the API server's strict field validation (``kubectl apply``'s default).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from jsonschema.exceptions import best_match
from kubernetes_validate import utils as kv_utils
from referencing import Registry, Resource

from tests.shared import CRD_DIR

__all__ = [
    "REPO_ROOT",
    "K8S_DIR",
    "CLUSTER_DIR",
    "CRD_DIR",
    "KUBERNETES_VERSION",
    "load_manifests",
    "load_manifest",
    "crd_schema",
    "validate_custom",
    "validate_core",
    "validate_pod_template",
    "pod_templates",
    "containers",
    "validate_object",
    "kustomize",
    "merge_patch",
    "ray_up_schema",
    "validate_ray_up",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
K8S_DIR = REPO_ROOT / "k8s"
CLUSTER_DIR = REPO_ROOT / "cluster"

# The newest Kubernetes whose schemas kubernetes-validate bundles.
KUBERNETES_VERSION = kubernetes_validate.latest_version()

_DEFS_URI = "https://kubernetes.io/api/_definitions.json"
_OBJECT_META = f"{_DEFS_URI}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
# The part of kustomize these manifests use (and :func:`kustomize` applies).
_KUSTOMIZATION_KEYS = {
    "apiVersion",
    "kind",
    "namespace",
    "resources",
    "components",
    "nameSuffix",
    "replacements",
}
_COMPONENT_KEYS = {"apiVersion", "kind", "images"}


# --- reading ----------------------------------------------------------------------------------


def _resolve(path: str | Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else K8S_DIR / p


def load_manifests(path: str | Path) -> list[dict[str, Any]]:
    """Every YAML document of ``path`` (relative paths are under ``k8s/``), empty ones dropped."""
    p = _resolve(path)
    if not p.is_file():
        raise FileNotFoundError(f"manifest {str(p)!r} does not exist")
    docs = [d for d in yaml.safe_load_all(p.read_text()) if d is not None]
    for doc in docs:
        if not isinstance(doc, dict):
            raise ValueError(f"{str(p)!r}: every document must be a mapping, got {doc!r}")
    return docs


def load_manifest(path: str | Path) -> dict[str, Any]:
    """The one YAML document of ``path``, e.g. ``load_manifest("rayjob.yaml")["spec"]["entrypoint"]``."""
    docs = load_manifests(path)
    if len(docs) != 1:
        raise ValueError(f"{str(path)!r} must hold exactly one document, got {len(docs)}")
    return docs[0]


# --- KubeRay objects: the CRDs' openAPIV3Schema as JSON Schema ---------------------------------


def _split_api_version(api_version: str) -> tuple[str, str]:
    group, sep, version = api_version.rpartition("/")
    return (group, version) if sep else ("", api_version)


def _to_json_schema(node: dict[str, Any]) -> dict[str, Any]:
    """One structural-schema node as JSON Schema: the ``x-kubernetes-*`` extensions are dropped
    after their meaning is kept (int-or-string is an integer or a string; preserve-unknown-fields
    allows unknown fields; an object without it allows no field it does not list, which is what the
    API server's pruning and strict field validation amount to); ``nullable`` admits null. CEL
    rules (``x-kubernetes-validations``) are not evaluated."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = _to_json_schema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [_to_json_schema(sub) for sub in value]
        elif key.startswith("x-kubernetes-") or key == "nullable":
            continue
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if node.get("x-kubernetes-embedded-resource"):
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"$ref": _OBJECT_META})
    if (
        out.get("type") == "object"
        and "additionalProperties" not in out
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@cache
def _crds() -> dict[tuple[str, str], dict[str, Any]]:
    if not CRD_DIR.is_dir():
        pytest.skip(
            f"KubeRay's CRDs not found in {CRD_DIR} (set UCTUNE_SHARED to the folder that holds "
            "k8s-crds/)"
        )
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                spec = doc["spec"]
                for version in spec["versions"]:
                    found[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = version
    return found


@cache
def crd_schema(api_version: str, kind: str) -> dict[str, Any]:
    """The JSON Schema (Draft 2020-12) of ``kind`` at ``api_version`` from its CRD: the
    openAPIV3Schema made strict (see :func:`_to_json_schema`), ``apiVersion`` and ``kind`` pinned,
    and ``metadata`` checked as Kubernetes' ObjectMeta (a CRD leaves it to the API server)."""
    version = _crds().get((api_version, kind))
    if version is None:
        known = sorted(f"{k} {v}" for v, k in _crds())
        raise LookupError(
            f"no CRD in {str(CRD_DIR)!r} defines {kind} {api_version}; known: {known}"
        )
    if not version.get("served", False):
        raise LookupError(f"{kind} {api_version} is not served by its CRD")
    schema = _to_json_schema(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
    schema["properties"]["apiVersion"] = {"const": api_version}
    schema["properties"]["kind"] = {"const": kind}
    schema["properties"]["metadata"] = {"$ref": _OBJECT_META}
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


@cache
def _core_definitions() -> Registry:
    # The same strict definitions kubernetes-validate validates core objects with.
    defs = kv_utils.schema_contents(
        f"kubernetes-json-schema/v{KUBERNETES_VERSION}-local-strict/_definitions.json",
        KUBERNETES_VERSION,
    )
    return Resource.from_contents(defs) @ Registry()


_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks("int32")
def _int32(value: object) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


@_FORMATS.checks("int64")
def _int64(value: object) -> bool:
    return not isinstance(value, int) or -(2**63) <= value < 2**63


def _raise_first(validator: jsonschema.protocols.Validator, obj: Any) -> None:
    error = best_match(validator.iter_errors(obj))
    if error is not None:
        raise error


def validate_custom(obj: dict[str, Any]) -> None:
    """Validate a KubeRay object (RayJob, RayCluster) against the CRD schema of its kind."""
    try:
        schema = crd_schema(obj.get("apiVersion", ""), obj.get("kind", ""))
    except LookupError as exc:
        raise jsonschema.ValidationError(str(exc)) from None
    validator = jsonschema.Draft202012Validator(
        schema, registry=_core_definitions(), format_checker=_FORMATS
    )
    _raise_first(validator, obj)


# --- Kubernetes' own objects ------------------------------------------------------------------


def validate_core(obj: dict[str, Any]) -> None:
    """Validate a core object (ConfigMap, Secret, PVC, Pod, ...) with kubernetes-validate, strict."""
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kv_utils.SchemaNotFoundError as exc:
        raise jsonschema.ValidationError(exc.message) from None


def validate_pod_template(template: dict[str, Any], where: str = "template") -> None:
    """Validate a PodTemplateSpec (``metadata`` + ``spec``) against Kubernetes' schema, as the
    ``template`` of a core PodTemplate object."""
    wrapper = {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "metadata": {"name": where.replace("[", "-").replace("]", "").replace(".", "-").lower()},
        "template": template,
    }
    validate_core(wrapper)


def pod_templates(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The pod templates inside a RayJob, a RayCronJob's job template or a RayCluster, by a name
    saying where each one is: ``head``, ``worker[<group>]``, ``submitter`` (a RayJob's
    submitterPodTemplate, when set)."""
    spec = obj["spec"]
    job = {"RayJob": spec, "RayCronJob": spec.get("jobTemplate")}.get(obj["kind"])
    cluster = spec if job is None else job["rayClusterSpec"]
    found = {"head": cluster["headGroupSpec"]["template"]}
    for group in cluster.get("workerGroupSpecs", []):
        found[f"worker[{group['groupName']}]"] = group["template"]
    if job is not None and "submitterPodTemplate" in job:
        found["submitter"] = job["submitterPodTemplate"]
    return found


def containers(template: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every container of a pod template (or Pod), init containers included."""
    pod = template["spec"]
    yield from pod.get("initContainers", [])
    yield from pod["containers"]


def validate_object(obj: dict[str, Any]) -> None:
    """Validate any object of the manifests: KubeRay ones against their CRD (and their pod
    templates against Kubernetes' PodTemplateSpec), the rest with kubernetes-validate."""
    group, _ = _split_api_version(obj.get("apiVersion", ""))
    if group == "ray.io":
        validate_custom(obj)
        for where, template in pod_templates(obj).items():
            validate_pod_template(template, where)
    else:
        validate_core(obj)


# --- kustomize --------------------------------------------------------------------------------


def merge_patch(base: Any, patch: Any) -> Any:
    """``base`` with a JSON merge patch (RFC 7386) applied, as ``kubectl patch --type=merge`` does:
    maps merge, lists and scalars are replaced, null deletes."""
    if not isinstance(patch, dict) or not isinstance(base, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def kustomize(directory: str | Path) -> list[dict[str, Any]]:
    """The objects ``kubectl apply -k directory`` would create, for the subset of kustomize these
    manifests use: ``resources`` (files, or directories holding a kustomization), ``namespace``,
    and ``components`` whose only transformation is ``images``. Anything else, and any listed file
    that does not exist, is an error."""
    root = _resolve(directory)
    kustomization = _kustomization(root, "Kustomization", _KUSTOMIZATION_KEYS)
    objects: list[dict[str, Any]] = []
    for entry in kustomization.get("resources", []):
        path = (root / entry).resolve()
        if path.is_dir():
            objects.extend(kustomize(path))
        elif path.is_file():
            objects.extend(load_manifests(path))
        else:
            raise FileNotFoundError(f"{str(root)!r}: resource {entry!r} does not exist")
    if "namespace" in kustomization:
        for obj in objects:
            obj.setdefault("metadata", {})["namespace"] = kustomization["namespace"]
    for entry in kustomization.get("components", []):
        component = _kustomization((root / entry).resolve(), "Component", _COMPONENT_KEYS)
        for image in component.get("images", []):
            for obj in objects:
                _set_image(obj, image)
    if "nameSuffix" in kustomization:
        # (kustomize also rewrites references to the renamed objects; none of these refer to
        # one another, which the comparison with kubectl would show)
        for obj in objects:
            obj["metadata"]["name"] += kustomization["nameSuffix"]
    for replacement in kustomization.get("replacements", []):
        _replace(objects, replacement)
    return objects


def _field(obj: dict[str, Any], dotted: str) -> Any:
    value: Any = obj
    for key in dotted.split("."):
        value = value[key]
    return value


def _replace(objects: list[dict[str, Any]], replacement: dict[str, Any]) -> None:
    """kustomize's ``replacements``, the part used here: a source field of the one object of a
    kind, written over whole target fields, or over one part of them (``delimiter``, ``index``)."""
    source = replacement["source"]
    (found,) = [o for o in objects if o["kind"] == source["kind"]]
    value = _field(found, source["fieldPath"])
    for target in replacement["targets"]:
        options = target.get("options", {})
        for obj in (o for o in objects if o["kind"] == target["select"]["kind"]):
            for dotted in target["fieldPaths"]:
                *parents, last = dotted.split(".")
                holder = _field(obj, ".".join(parents)) if parents else obj
                if "delimiter" in options:
                    parts = holder[last].split(options["delimiter"])
                    parts[options["index"]] = value
                    holder[last] = options["delimiter"].join(parts)
                else:
                    holder[last] = value


def _kustomization(root: Path, kind: str, keys: set[str]) -> dict[str, Any]:
    path = root / "kustomization.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{str(root)!r} holds no kustomization.yaml")
    kustomization = load_manifest(path)
    if kustomization.get("kind") != kind:
        raise ValueError(f"{str(root)!r}: kustomization.yaml must be of kind {kind}")
    unknown = sorted(set(kustomization) - keys)
    if unknown:
        raise ValueError(
            f"{str(root)!r}: kustomization.yaml uses {unknown}; only "
            f"{sorted(keys)} are applied here, so the rest would go unchecked"
        )
    return kustomization


def _set_image(node: Any, image: dict[str, str]) -> None:
    """kustomize's ``images`` transformation: every container image named ``image["name"]`` (with
    or without a tag) becomes ``newName:newTag``, wherever its container sits."""
    if isinstance(node, list):
        for item in node:
            _set_image(item, image)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in ("containers", "initContainers") and isinstance(value, list):
            for container in value:
                name = container.get("image", "").split(":")[0]
                if name == image["name"]:
                    new = image.get("newName", image["name"])
                    tag = image.get("newTag")
                    container["image"] = f"{new}:{tag}" if tag else new
        _set_image(value, image)


# --- ray up -----------------------------------------------------------------------------------


@cache
def ray_up_schema() -> dict[str, Any]:
    """``ray/autoscaler/ray-schema.json`` of the installed Ray: the cluster launcher's schema."""
    import ray.autoscaler

    return json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())


def validate_ray_up(config: dict[str, Any]) -> None:
    """Validate a ``ray up`` config as written against Ray's schema, then the way ``ray up`` does:
    with the provider's defaults filled in (``prepare_config``) and Ray's ``validate_config``."""
    from ray.autoscaler._private.util import prepare_config, validate_config

    schema = ray_up_schema()
    validator_cls = jsonschema.validators.validator_for(schema)
    _raise_first(validator_cls(schema), config)
    validate_config(prepare_config(copy.deepcopy(config)))
