"""A real Dagster deployment in a temporary directory, for the browser and daemon tests.

Everything lives under one root: an ``anchormix.toml`` whose relative paths
resolve into ``<root>/var`` and a ``DAGSTER_HOME`` holding a copy of the repo's
``dagster.yaml`` (QueuedRunCoordinator, pools). Pipeline work that must use the
sandbox's configuration runs in a subprocess, because ``pipelines.settings``
is loaded once per process and the test session already loaded the session's
own test configuration.

The webserver and the daemon ignore SIGTERM, so :class:`Service` starts each in
its own process group and stops it with SIGINT to the group, then SIGKILL.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = Path(os.environ.get("ANCHORMIX_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-quic", "--disable-gpu"]
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}
# Night 2 as a team might run it once from the Launchpad, trusting tonight's generator output: replace,
# no human floor and no synthetic cap. The ratio policy no longer stands in the way; the diversity gate must.
REPLACE_RUN_CONFIG = {"ops": {"mix_candidate": {"config": {"mode": "replace", "human_floor": 0.0,
                                                          "synthetic_cap": 1.0}}}}
SCREENSHOTS = REPO / "screenshots"


def tool(name: str) -> str:
    """A console script of this interpreter's environment (the venv), else from PATH."""
    local = BIN / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} is not installed next to {sys.executable} nor on PATH")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Sandbox:
    root: Path
    config: Path
    dagster_home: Path
    paths: dict[str, Path]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"ANCHORMIX_CONFIG": str(self.config), "DAGSTER_HOME": str(self.dagster_home),
                    "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "GX_ANALYTICS_ENABLED": "false",
                    "PYTHONUNBUFFERED": "1"})
        return env

    def python(self, code: str, timeout: float = 900) -> str:
        """Run ``code`` in a fresh interpreter under this sandbox's configuration; return its output."""
        proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, env=self.env(),
                              capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"sandbox python failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n"
                               f"{proc.stderr[-8000:]}")
        return proc.stdout

    def dagster(self, *args: str, timeout: float = 180) -> str:
        """The ``dagster`` CLI against this sandbox's instance and code location."""
        proc = subprocess.run([tool("dagster"), *args, "-m", "pipelines.definitions"], cwd=REPO, env=self.env(),
                              capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"dagster {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
        return proc.stdout + proc.stderr

    def generations(self) -> list[str]:
        published = self.paths["published"]
        return sorted(p.name for p in published.iterdir() if p.name.startswith("gen-")) if published.exists() else []


def make_sandbox(root: Path, overrides: dict[str, str] | None = None) -> Sandbox:
    """Copy the repo's configuration into ``root``; its relative ``[paths]`` then all resolve under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    text = (REPO / "anchormix.toml").read_text()
    for old, new in (overrides or {}).items():
        assert old in text, f"{old!r} is not in anchormix.toml"
        text = text.replace(old, new)
    config = root / "anchormix.toml"
    config.write_text(text)
    raw = tomllib.loads(text)["paths"]
    paths = {k: (Path(v) if Path(v).is_absolute() else root / v) for k, v in raw.items()}
    outside = [k for k, p in paths.items() if not p.resolve().is_relative_to(root.resolve())]
    assert not outside, f"[paths] {outside} would escape the sandbox {root}"
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    return Sandbox(root=root, config=config, dagster_home=home, paths=paths)


def build_inbox(sandbox: Sandbox, **kwargs):
    """The demo inbox (two drops by default: the day before yesterday and yesterday)."""
    from anchormix.demo.inbox import build_demo_inbox

    p = sandbox.paths
    return build_demo_inbox(p["inbox"], p["registry"], p["models"].parent / "keys", **kwargs)


def prepare_baseline(sandbox: Sandbox, drop: str) -> str:
    """Night 1 up to semantic_dedup, then pin the human baseline, as ``make demo`` does (Python API)."""
    return sandbox.python(f"""
        from dagster import DagsterInstance
        from pipelines.definitions import defs
        from pipelines.demo import PRE_BASELINE, run_nightly
        instance = DagsterInstance.get()
        assert run_nightly(instance, {drop!r}, selection=PRE_BASELINE), "night 1 up to semantic_dedup failed"
        pinned = defs.resolve_job_def("pin_baseline").execute_in_process(instance=instance, raise_on_error=False)
        assert pinned.success, "pin_baseline failed"
        print("baseline pinned")
    """)


def stop_automation(sandbox: Sandbox, sensor: bool = True, schedule: bool = True) -> None:
    """Stop the default-RUNNING sensor / schedule in the sandbox instance before the daemon starts,
    so the only runs are the ones a test launches (and a 02:00 UTC tick cannot join in)."""
    if sensor:
        sandbox.dagster("sensor", "stop", "inbox_sensor")
    if schedule:
        sandbox.dagster("schedule", "stop", "nightly_schedule")


@dataclass
class Service:
    """A long-running Dagster process in its own process group, logging to a file."""

    name: str
    argv: list[str]
    sandbox: Sandbox
    proc: subprocess.Popen | None = None
    log: Path | None = None
    _handle: object = field(default=None, repr=False)

    def start(self) -> "Service":
        self.log = self.sandbox.root / f"{self.name}.log"
        self._handle = open(self.log, "wb")
        self.proc = subprocess.Popen(self.argv, cwd=REPO, env=self.sandbox.env(), stdout=self._handle,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log and self.log.exists() else ""

    def stop(self, timeout: float = 30) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=timeout)
            except ProcessLookupError:
                pass
        # Children (code servers, run workers) share the group: make sure none outlives the test.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._handle.close()


def webserver(sandbox: Sandbox, port: int) -> Service:
    return Service("webserver", [tool("dagster-webserver"), "-h", "127.0.0.1", "-p", str(port),
                                 "-m", "pipelines.definitions"], sandbox)


def daemon(sandbox: Sandbox) -> Service:
    return Service("daemon", [tool("dagster-daemon"), "run", "-m", "pipelines.definitions"], sandbox)


class GraphQL:
    """The webserver's ``/graphql`` endpoint: the API the UI itself uses."""

    def __init__(self, base_url: str):
        self.url = base_url.rstrip("/") + "/graphql"

    def __call__(self, query: str, variables: dict | None = None, timeout: float = 60) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            payload = json.load(resp)
        if payload.get("errors"):
            raise AssertionError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def wait_ready(self, timeout: float = 180, service: Service | None = None) -> str:
        """Wait until the code location is loaded; return its name."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if service is not None and not service.alive():
                raise RuntimeError(f"{service.name} exited:\n{service.tail()}")
            try:
                data = self("""{ workspaceOrError { __typename ... on Workspace { locationEntries {
                    name locationOrLoadError { __typename ... on PythonError { message } } } } } }""")
                entries = data["workspaceOrError"]["locationEntries"]
                last = entries
                loaded = [e["name"] for e in entries if e["locationOrLoadError"]
                          and e["locationOrLoadError"]["__typename"] == "RepositoryLocation"]
                errors = [e for e in entries if e["locationOrLoadError"]
                          and e["locationOrLoadError"]["__typename"] == "PythonError"]
                if errors:
                    raise RuntimeError(f"code location failed to load: {errors}")
                if loaded:
                    return loaded[0]
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(1)
        raise TimeoutError(f"webserver not ready after {timeout}s (last: {last}):\n"
                           f"{service.tail() if service else ''}")

    def launch_nightly(self, location: str, partition: str, run_config: dict | None = None,
                       trigger: str = "ui-test", assets: list[str] | None = None) -> str:
        """``launchRun`` exactly as the Launchpad sends it; the QueuedRunCoordinator queues it for the daemon."""
        data = self("""
            mutation Launch($params: ExecutionParams!) { launchRun(executionParams: $params) {
                __typename
                ... on LaunchRunSuccess { run { runId status } }
                ... on PythonError { message stack }
                ... on RunConfigValidationInvalid { errors { message } }
                ... on InvalidSubsetError { message }
            } }""", {"params": {
            "selector": {"repositoryLocationName": location, "repositoryName": "__repository__", "jobName": "nightly",
                         **({"assetSelection": [{"path": [a]} for a in assets]} if assets else {})},
            "runConfigData": run_config or {},
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition},
                                           {"key": "anchormix/trigger", "value": trigger}]},
        }})
        result = data["launchRun"]
        assert result["__typename"] == "LaunchRunSuccess", result
        return result["run"]["runId"]

    def run_status(self, run_id: str) -> str:
        data = self("query R($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } } }",
                    {"id": run_id})
        return data["runOrError"]["status"]

    def wait_run(self, run_id: str, timeout: float = 1200, services: list[Service] = ()) -> str:
        deadline = time.monotonic() + timeout
        status = None
        while time.monotonic() < deadline:
            for s in services:
                if not s.alive():
                    raise RuntimeError(f"{s.name} exited while run {run_id} was {status}:\n{s.tail()}")
            status = self.run_status(run_id)
            if status in TERMINAL:
                return status
            time.sleep(3)
        raise TimeoutError(f"run {run_id} still {status} after {timeout}s")

    def materialized_partitions(self, asset: str) -> list[str]:
        data = self("""query M($key: AssetKeyInput!) { assetOrError(assetKey: $key) {
            __typename ... on Asset { assetMaterializations { partition runId } } } }""",
                    {"key": {"path": [asset]}})
        node = data["assetOrError"]
        return [] if node["__typename"] != "Asset" else [m["partition"] for m in node["assetMaterializations"]]

    def check_results(self, asset: str, check: str, limit: int = 10) -> list[dict]:
        """The newest executions of one asset check: ``[{runId, status, success, partition}]``."""
        data = self("""query C($key: AssetKeyInput!, $name: String!, $limit: Int!) {
            assetCheckExecutions(assetKey: $key, checkName: $name, limit: $limit) {
                runId status partition evaluation { success } } }""",
                    {"key": {"path": [asset]}, "name": check, "limit": limit})
        return [{"runId": e["runId"], "status": e["status"], "partition": e.get("partition"),
                 "success": (e["evaluation"] or {}).get("success")} for e in data["assetCheckExecutions"]]


def publish_screenshot(src: Path, dest: Path) -> None:
    """Copy a screenshot into the docs (e.g. ``docs/img/lineage.png``)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dest)
