"""The requests a catalog write makes: no close-stream requests where nothing streams, and FastAPI
dependency graphs reused across requests without changing what an overridden dependency returns."""

from __future__ import annotations

import re

import httpx
import pytest
from bluesky import RunEngine

from autolab.catalog import CatalogWriter, journal_directory, open_catalog
from autolab.catalog.dependencies import reuse_dependency_graphs
from autolab.devices import make_twin_reactor
from autolab.plans import measure_point


@pytest.fixture
def requests_sent(monkeypatch):
    """Every request a tiled client in this process sends, as (method, path with uids as UID)."""
    sent: list[tuple[str, str]] = []
    original = httpx.Client.send

    def send(self, request, **options):
        sent.append((request.method, re.sub(r"[0-9a-f-]{36}", "UID", request.url.path)))
        return original(self, request, **options)

    monkeypatch.setattr(httpx.Client, "send", send)
    return sent


def test_an_embedded_run_is_written_without_close_stream_requests_and_reads_back(tmp_path, requests_sent):
    client = open_catalog(tmp_path / "catalog")
    writer = CatalogWriter(client, journal_directory(tmp_path / "catalog"))
    RE = RunEngine({}, call_returns_result=False)
    RE.subscribe(writer)
    (uid,) = RE(measure_point(make_twin_reactor(seed=0), 280, 270, 14.0))
    writer.flush()
    writer.close()
    assert not [path for _, path in requests_sent if "/stream/close/" in path]
    assert ("PATCH", "/api/v1/metadata//UID") in requests_sent  # the stop document
    run = open_catalog(tmp_path / "catalog")[uid]
    assert run.metadata["stop"]["exit_status"] == "success"
    assert run.primary.read()["reactor_spectrometer_absorbance"].shape[0] == 1


def test_dependency_graphs_are_reused_and_overrides_still_apply():
    from fastapi import Depends, FastAPI
    from fastapi.dependencies import utils
    from fastapi.testclient import TestClient

    assert reuse_dependency_graphs() is True
    assert reuse_dependency_graphs() is True  # installed once
    app = FastAPI()

    def settings() -> str:
        return "default"

    def unit(name: str = "nm") -> str:  # a query parameter in a dependency that is not overridden
        return name

    @app.get("/value")
    def value(chosen: str = Depends(settings), label: str = Depends(unit)):
        return {"settings": chosen, "unit": label}

    app.dependency_overrides[settings] = lambda: "overridden"
    with TestClient(app) as http:
        answers = [http.get("/value", params={"name": name}).json() for name in ("nm", "eV", "nm")]
    assert answers == [
        {"settings": "overridden", "unit": "nm"},
        {"settings": "overridden", "unit": "eV"},
        {"settings": "overridden", "unit": "nm"},
    ]
    # What solve_dependencies asks for per request is built once; declaring a route builds anew.
    per_request = {"path": "/value", "call": unit, "name": "label", "parent_oauth_scopes": [], "scope": None, "concurrency": None}
    assert utils.get_dependant(**per_request) is utils.get_dependant(**per_request)
    assert utils.get_dependant(**{**per_request, "call": settings}) is not utils.get_dependant(**per_request)
    assert utils.get_dependant(path="/value", call=unit, scope="function") is not utils.get_dependant(path="/value", call=unit, scope="function")
