"""Every gating route is in the OpenAPI document."""

from starlette.testclient import TestClient


def test_gating_routes_are_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/v1/sites/{site}/gate/{service}.js"]) == {"get"}
    assert set(paths["/v1/sites/{site}/csp"]) == {"get"}
    assert set(paths["/v1/sites/{site}/declaration"]) == {"get"}
    assert "204" in paths["/v1/sites/{site}/csp"]["get"]["responses"]
