"""The service starts, answers health checks and records one consent (C19)."""

from starlette.testclient import TestClient

from .conftest import post_consent


def test_health_and_one_consent(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    answer = post_consent(client, {"action": "accept-all"})
    assert answer.status_code == 201
    assert answer.json()["choices"] == {"necessary": True, "statistics": True, "third-party": True}
