"""Every admin route is in the OpenAPI document, with bearer security where it needs a token."""

from __future__ import annotations

from starlette.testclient import TestClient

from consent_service.admin import routes as admin


def test_every_admin_route_is_documented(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    for route in admin.routes():
        assert route.path in doc["paths"], route.path
        for method in route.methods or ():
            if method == "HEAD":
                continue
            item = doc["paths"][route.path][method.lower()]
            if route.path.startswith("/admin/v1/"):
                assert item["security"] == [{"bearer": []}], route.path
                assert "401" in item["responses"]


def test_the_page_is_served_with_a_strict_csp_and_no_inline_code(client: TestClient) -> None:
    page = client.get("/admin/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "<script>" not in page.text
    assert " style=" not in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # no third-party CDN
    assert client.get("/admin/admin.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/admin/admin.css").status_code == 200
    assert client.get("/admin/secrets.txt").status_code == 404
    assert client.get("/admin", follow_redirects=False).headers["location"] == "/admin/"
