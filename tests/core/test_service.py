"""The service around the consent API: config, health, GPC, metrics, OpenAPI, CLI, demo."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from consent_service.cli.main import build_parser

from ..conftest import KEY, post_consent


def test_config_is_public_cacheable_and_complete(client: TestClient) -> None:
    answer = client.get("/v1/sites/demo/config")
    assert answer.status_code == 200
    config = answer.json()
    assert config["policy_version"] == "2026-11-01"
    assert config["languages"] == ["sv", "en"]
    assert config["texts"]["sv"]["accept_all"] == "Godkänn alla"
    assert config["texts"]["en"]["reject_all"] == "Reject all"
    categories = {c["id"]: c for c in config["categories"]}
    assert categories["necessary"]["required"] is True
    cookie = categories["statistics"]["services"][0]["cookies"][0]
    assert set(cookie) == {"name", "provider", "purpose", "lifetime"}
    assert config["endpoints"]["consent"] == "http://localhost/v1/sites/demo/consent"
    again = client.get("/v1/sites/demo/config", headers={"if-none-match": answer.headers["etag"]})
    assert again.status_code == 304


def test_gpc_statement(client: TestClient) -> None:
    assert client.get("/.well-known/gpc.json").json()["gpc"] is True


def test_metrics_count_requests_consents_latency_and_rows(client: TestClient) -> None:
    post_consent(client, {"action": "accept-all"})
    post_consent(client, {"action": "bogus"})
    text = client.get("/metrics").text
    assert (
        'kakor_http_requests_total{route="/v1/sites/{site}/consent",method="POST",status="201"} 1'
        in text
    )
    assert (
        'kakor_http_requests_total{route="/v1/sites/{site}/consent",method="POST",status="422"} 1'
        in text
    )
    assert 'kakor_consents_total{site="demo",action="accept-all"} 1' in text
    assert "kakor_store_write_seconds_count 1" in text
    assert "kakor_audit_rows 1" in text


def test_every_route_is_in_openapi(make_client: object) -> None:
    client = make_client(demo=True)  # type: ignore[operator]
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    for route in client.app.routes:
        if isinstance(route, Route):
            assert route.path in paths, f"{route.path} is not documented in /openapi.json"
            for method in (route.methods or set()) - {"HEAD"}:
                assert method.lower() in paths[route.path], f"{method} {route.path} undocumented"
        else:
            assert isinstance(route, Mount)


def test_unknown_path_and_method_use_the_error_shape(client: TestClient) -> None:
    missing = client.get("/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = client.put("/v1/sites/demo/consent")
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("command", ["serve", "demo", "migrate", "verify"])
def test_every_command_has_help(command: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "consent_service", command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert "--database" in result.stdout


def test_serve_and_demo_take_host_port_config_database() -> None:
    parser = build_parser()
    for command in ("serve", "demo"):
        args = parser.parse_args(
            [
                command,
                "--host",
                "0.0.0.0",
                "--port",
                "9",
                "--config",
                "x.toml",
                "--database",
                "sqlite:///x",
            ]
        )
        assert (args.host, args.port, str(args.config), args.database) == (
            "0.0.0.0",
            9,
            "x.toml",
            "sqlite:///x",
        )


def test_migrate_is_recorded_and_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    run = [sys.executable, "-m", "consent_service", "migrate", "--database", url]
    first = subprocess.run(run, capture_output=True, text=True, timeout=60, check=True)
    assert "0001_consent_events" in first.stdout
    second = subprocess.run(run, capture_output=True, text=True, timeout=60, check=True)
    assert "up to date" in second.stdout


def test_serve_without_keys_fails_clearly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CONSENT_SECRET_KEYS"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "consent_service",
            "serve",
            "--database",
            f"sqlite:///{tmp_path}/x.db",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert result.returncode == 2 and "CONSENT_SECRET_KEYS" in result.stderr


def _serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``serve`` with ``args``, for a run that must stop before it listens."""
    environ = {k: v for k, v in os.environ.items() if k != "CONSENT_PUBLIC_URL"}
    database = f"sqlite:///{tmp_path}/x.db"
    return subprocess.run(
        [sys.executable, "-m", "consent_service", "serve", *args, "--database", database],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**environ, "CONSENT_SECRET_KEYS": KEY, **env},
    )


def test_serve_on_a_public_address_without_the_public_url_refuses_to_start(
    tmp_path: Path,
) -> None:
    result = _serve(tmp_path, "--host", "0.0.0.0")
    assert result.returncode == 2
    assert "CONSENT_PUBLIC_URL is not set" in result.stderr


def test_serve_on_loopback_without_the_public_url_warns(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from consent_service.cli.serve import check_public_url
    from consent_service.settings import Settings

    check_public_url(Settings(), "127.0.0.1")
    assert "warning: CONSENT_PUBLIC_URL is not set" in capsys.readouterr().err
    check_public_url(Settings(public_url="https://consent.example.se"), "0.0.0.0")
    assert capsys.readouterr().err == ""


def test_an_invalid_public_url_refuses_to_start(tmp_path: Path) -> None:
    result = _serve(tmp_path, CONSENT_PUBLIC_URL="consent.example.se/?x=1")
    assert result.returncode == 2
    assert "CONSENT_PUBLIC_URL" in result.stderr and "https://" in result.stderr


def test_invalid_config_refuses_to_start(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[sites.demo]\npolicy_version = "1"\n')
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "consent_service",
            "serve",
            "--config",
            str(bad),
            "--database",
            f"sqlite:///{tmp_path}/x.db",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "CONSENT_SECRET_KEYS": KEY},
    )
    assert result.returncode == 2 and "sites.demo." in result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[str]:
    """`consent-service demo` as a real process on a random port."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "CONSENT_SECRET_KEYS"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "consent_service",
            "demo",
            "--port",
            str(port),
            "--database",
            f"sqlite:///{tmp_path}/demo.db",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        else:
            raise AssertionError("the demo did not start")
        yield base
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=20)
        assert "demo-secret-key" in output  # the generated key is announced, never printed
        key = (tmp_path / "var" / "demo-secret-key").read_text().strip()
        assert key not in output


def test_demo_serves_the_page_and_allows_its_own_origin(demo_server: str) -> None:
    page = httpx.get(demo_server + "/")
    assert page.status_code == 200
    assert "Fullsatt på regional konferens" in page.text
    assert "/v1/sites/demo/widget.js" in page.text
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    answer = httpx.post(
        demo_server + "/v1/sites/demo/consent",
        json={"action": "reject-all"},
        headers={"origin": demo_server},
    )
    assert answer.status_code == 201
    assert answer.headers["access-control-allow-origin"] == demo_server
    other = httpx.post(
        demo_server + "/v1/sites/demo/consent",
        json={"action": "reject-all"},
        headers={"origin": "http://127.0.0.1:1"},
    )
    assert other.status_code == 403


def test_serve_with_workers_keeps_the_protocol_and_its_limits(tmp_path: Path) -> None:
    """``--workers 2``: each worker process serves with the service's protocol and its
    limits (uvicorn pickles the configuration into them) and the keys it inherits."""
    import socket
    import time

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environ = {k: v for k, v in os.environ.items() if k != "CONSENT_PUBLIC_URL"}
    command = [sys.executable, "-m", "consent_service", "serve", "--workers", "2"]
    command += ["--port", str(port), "--database", f"sqlite:///{tmp_path}/w.db"]
    env = {**environ, "CONSENT_SECRET_KEYS": KEY, "CONSENT_LOG_LEVEL": "warning"}
    with subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) as server:
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "the workers did not start"
                time.sleep(0.2)
            body = {"action": "reject-all"}
            assert (
                httpx.post(f"http://127.0.0.1:{port}/v1/sites/demo/consent", json=body).status_code
                == 201
            )
            with socket.create_connection(("127.0.0.1", port)) as raw:
                raw.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Endless: " + b"a" * 40_000)
                answer = b""
                while chunk := raw.recv(65536):
                    answer += chunk
            assert answer.startswith(b"HTTP/1.1 400 ")
            assert b'"code":"bad_request"' in answer
        finally:
            server.terminate()
            server.wait(timeout=30)


def test_demo_with_a_broken_site_file_prints_the_error_and_no_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 18: the first thing a site owner reads is what is wrong, not a URL that fails."""
    from consent_service.cli.main import main

    monkeypatch.chdir(tmp_path)  # the demo's key file goes to var/ here
    broken = tmp_path / "site.toml"
    broken.write_text('[site]\nid = "x"\n')
    code = main(["demo", "--config", str(broken), "--database", f"sqlite:///{tmp_path}/d.db"])
    said = capsys.readouterr().err
    assert code == 2
    assert "error: sites: at least one [sites.<id>] table is required" in said
    assert "kakor demo:" not in said
