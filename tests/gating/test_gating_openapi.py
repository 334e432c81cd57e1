"""Every gating route is in the OpenAPI document."""

from starlette.testclient import TestClient

from consent_service.gating.gate import CSP_METHODS


def test_gating_routes_are_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/v1/sites/{site}/gate/{service}.js"]) == {"get"}
    # the CSP route answers every method (a proxy forwards the visitor's); each is documented
    assert set(paths["/v1/sites/{site}/csp"]) == {m.lower() for m in CSP_METHODS}
    assert set(paths["/v1/sites/{site}/declaration"]) == {"get"}
    assert "204" in paths["/v1/sites/{site}/csp"]["get"]["responses"]
