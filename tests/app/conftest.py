"""Fixtures for the app tests: one loaded embedded preset for the handler tests, and one
launched `python app.py` shared by the client and browser tests."""

import time

import pytest

from tests.harness.app import ROOT, LaunchedApp, free_port  # noqa: F401 (re-exported)
from tests.harness.app import wait_for_warm_up


@pytest.fixture(scope="session")
def model_cache():
    from albert_demo.engine import ModelCache
    return ModelCache()


@pytest.fixture()
def store(tmp_path):
    from albert_demo.annotations import AnnotationStore
    with AnnotationStore.sqlite(tmp_path / "annotations.sqlite3") as store:
        yield store


@pytest.fixture()
def services(model_cache, store):
    from tests.harness.services import build_services
    return build_services(model_cache, store)


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """One launched app for all client and browser tests; yields it once warm."""
    folder = tmp_path_factory.mktemp("app")
    app = LaunchedApp(folder / "data", folder / "app.log")
    try:
        app.wait_until_serving()
        from gradio_client import Client
        client = Client(app.url, verbose=False)
        app.first_prediction = client.predict("The sky is [MASK].", api_name="/predict")
        app.cold_start_s = time.perf_counter() - app.started
        wait_for_warm_up(client)  # nothing compiles beside the browser tests
        yield app
    finally:
        app.stop()
