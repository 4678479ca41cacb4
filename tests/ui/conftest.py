"""A running Dagster deployment (webserver + daemon) over a sandboxed demo inbox, and a headless Chromium."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import dagster_harness as h


@dataclass
class Stack:
    sandbox: h.Sandbox
    url: str
    gql: h.GraphQL
    location: str
    night1: str
    night2: str
    services: list[h.Service]

    def assert_alive(self):
        for s in self.services:
            assert s.alive(), f"{s.name} exited:\n{s.tail()}"


@pytest.fixture(scope="session")
def dagster_stack(tmp_path_factory):
    """The demo inbox, night 1 curated up to semantic_dedup and the baseline pinned (Python API, as
    ``make demo`` does), then ``dagster-webserver`` and ``dagster-daemon`` on the same instance.

    The sensor and the schedule are stopped before the daemon starts: the test launches every
    run itself, so a sensor run of night 2 (or a 02:00 UTC tick) cannot race it."""
    sandbox = h.make_sandbox(tmp_path_factory.mktemp("ui-stack"))
    built = h.build_inbox(sandbox)
    night1, night2 = built.drops
    h.prepare_baseline(sandbox, night1)
    h.stop_automation(sandbox)
    port = h.free_port()
    web = h.webserver(sandbox, port).start()
    services = [web]
    try:
        gql = h.GraphQL(f"http://127.0.0.1:{port}")
        location = gql.wait_ready(timeout=240, service=web)
        services.append(h.daemon(sandbox).start())
        yield Stack(sandbox, f"http://127.0.0.1:{port}", gql, location, night1, night2, services)
    finally:
        for service in reversed(services):
            service.stop()


@pytest.fixture(scope="session")
def browser():
    if not h.CHROMIUM.exists():
        pytest.skip(f"{h.CHROMIUM} is missing: install Debian's chromium (`make browser`, as root) to run the "
                    "browser test")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (PyPI) is not installed")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(h.CHROMIUM), args=h.CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def screenshots():
    h.SCREENSHOTS.mkdir(exist_ok=True)
    return h.SCREENSHOTS


@pytest.fixture(scope="session")
def page(browser, dagster_stack):
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    context.set_default_timeout(60_000)
    pg = context.new_page()
    yield pg
    context.close()

