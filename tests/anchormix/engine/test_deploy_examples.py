"""The Kubernetes deployment examples under docs/deploy/ parse and agree with each other and the project."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from anchormix.config import parse_settings

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "docs" / "deploy"


def _pinned_ray() -> str:
    [version] = re.findall(r'"ray\[data\]==([^"]+)"', (REPO / "pyproject.toml").read_text())
    return version


def _claims(pod_spec: dict) -> dict[str, str]:
    """mountPath -> claim name of the pod's first container."""
    claim = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod_spec["volumes"]
             if "persistentVolumeClaim" in v}
    return {m["mountPath"]: claim[m["name"]] for m in pod_spec["containers"][0]["volumeMounts"] if m["name"] in claim}


def test_the_deployment_examples_agree():
    settings = parse_settings(tomllib.loads((DEPLOY / "anchormix.toml").read_text()), DEPLOY)
    docs = list(yaml.safe_load_all((DEPLOY / "raycluster.yaml").read_text()))
    [cluster] = [d for d in docs if d["kind"] == "RayCluster"]
    claims = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    instance = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())

    assert cluster["apiVersion"] == "ray.io/v1" and cluster["spec"]["rayVersion"] == _pinned_ray()
    # The run pod joins the cluster at KubeRay's head service (GCS port) before the run, as a node with no
    # CPUs, and the engine finds it with "auto" (Ray Data cannot run over the Ray Client).
    assert settings.engine.kind == "ray" and settings.engine.address == "auto"
    head = cluster["spec"]["headGroupSpec"]["template"]["spec"]
    assert {"containerPort": 6379, "name": "gcs"} in head["containers"][0]["ports"]
    launcher = instance["run_launcher"]
    assert f"RAY_HEAD_ADDRESS={cluster['metadata']['name']}-head-svc:6379" in launcher["config"]["env_vars"]
    entrypoint = (DEPLOY / "entrypoint.sh").read_text()
    assert 'ray start --address="$RAY_HEAD_ADDRESS" --num-cpus=0' in entrypoint and 'exec "$@"' in entrypoint

    # data_root is one ReadWriteMany claim, at the same path in the run pod and every Ray pod.
    pods = [head] + [g["template"]["spec"] for g in cluster["spec"]["workerGroupSpecs"]]
    data_claims = {_claims(p)[settings.paths.data_root] for p in pods}
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    run_pod = {"volumes": launcher["config"]["volumes"], "containers": [
        {"volumeMounts": [{"name": m["name"], "mountPath": m["mountPath"]}
                          for m in launcher["config"]["volume_mounts"]]}]}
    run_claims = _claims(run_pod)
    assert data_claims == {run_claims[settings.paths.data_root]}
    assert claims[data_claims.pop()]["accessModes"] == ["ReadWriteMany"]

    # The DuckDB store is on a volume only the run pod mounts, one run at a time.
    store_mount = str(settings.paths.store.parent)
    assert store_mount in run_claims and all(store_mount not in _claims(p) for p in pods)
    assert claims[run_claims[store_mount]]["accessModes"] == ["ReadWriteOnce"]
    assert instance["concurrency"]["runs"]["max_concurrent_runs"] == 1
    assert "postgres" in instance["storage"]


def test_the_dagster_instance_example_validates_against_dagsters_schema():
    # Dagster's own check of dagster.yaml (the launcher's fields are checked when dagster-k8s loads it).
    from dagster._core.instance.config import dagster_instance_config

    config, _ = dagster_instance_config(str(DEPLOY), "dagster.yaml")
    assert config["run_launcher"]["class"] == "K8sRunLauncher"
