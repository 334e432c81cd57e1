"""The client imports nothing of the server side: a site's backend needs only itsdangerous."""

from __future__ import annotations

import subprocess
import sys
import textwrap

#: What the service needs and a site's backend must not: each is made unimportable.
SERVER_SIDE = (
    "starlette",
    "uvicorn",
    "aiosqlite",
    "asyncpg",
    "orjson",
    "brotli",
    "cryptography",
    "httpx",
    "django",
    "flask",
)


def test_client_imports_and_reads_with_server_modules_blocked() -> None:
    from .signed import CONFIG, NEW, NOW, sign

    script = textwrap.dedent(
        f"""
        import json, sys
        for name in {SERVER_SIDE!r}:
            sys.modules[name] = None  # an import of it now raises ImportError
        from consent_service.client import ConsentReader
        reader = ConsentReader.from_config(json.loads(sys.argv[1]), [{NEW!r}], clock=lambda: {NOW})
        consent = reader.read(sys.argv[2])
        loaded = sorted(m for m in sys.modules if m.startswith("consent_service"))
        print(json.dumps({{"statistics": consent.allows("statistics"), "loaded": loaded}}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, __import__("json").dumps(CONFIG), sign(NEW)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    result = __import__("json").loads(out)
    assert result["statistics"] is True
    # Only the client and the token format: not the settings, the sites, the web side.
    assert {m.split(".")[1] for m in result["loaded"] if "." in m} == {"client", "consent"}
    assert "consent_service.consent.tokens" in result["loaded"]
