"""The public routes of each site's transparency log: head, keys, proofs, receipts.

Anyone may fetch and keep a site's signed heads (a witness does, :mod:`~.cli.witness`)
and ask for proofs: they reveal only hashes. A head is cacheable for a few seconds;
proofs between fixed sizes never change, so they are cacheable for long.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from consent_service.audit import proofs
from consent_service.audit.heads import HeadError
from consent_service.audit.receipts import make_receipt
from consent_service.store import StoreError
from consent_service.web.errors import ApiError, InvalidField, NotFound, StoreUnavailable
from consent_service.web.guards import allowed_origin, cors_headers, preflight_headers
from consent_service.web.state import AppState, get_state

_HEAD_CACHE = {"Cache-Control": "public, max-age=5", "Access-Control-Allow-Origin": "*"}
_PROOF_CACHE = {"Cache-Control": "public, max-age=86400", "Access-Control-Allow-Origin": "*"}
#: Larger than any tree size a store could hold (seq is a 63-bit integer).
_MAX_SIZE = 2**63 - 1


class LogUnavailable(ApiError):
    """The log cannot give a signed head or a proof: its stored tree is damaged."""

    status = 500
    code = "log_unavailable"


def _site(request: Request) -> tuple[AppState, str]:
    st = get_state(request)
    return st, st.sites.get(request.path_params["site"]).id


def _size(request: Request, name: str) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        raise InvalidField(name, "is required")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or int(raw) > _MAX_SIZE:
        raise InvalidField(name, f"must be an integer from 0 to {_MAX_SIZE}")
    return int(raw)


def _only(request: Request, *names: str) -> None:
    for name in request.query_params:
        if name not in names:
            raise InvalidField(name, "is not a parameter of this route")


async def head(request: Request) -> Response:
    """``GET /v1/sites/{site}/log/head``: the newest signed head of the site's tree."""
    st, site_id = _site(request)
    _only(request)
    try:
        current = await proofs.current_head(st.store, st.log_signer, site_id)
    except StoreError as exc:
        raise StoreUnavailable(str(exc)) from None
    except HeadError as exc:
        raise LogUnavailable(f"the stored head does not verify: {exc}") from None
    return JSONResponse(current.to_dict(), headers=_HEAD_CACHE)


async def keys(request: Request) -> Response:
    """``GET /v1/sites/{site}/log/key``: the keys the site's heads are signed with."""
    st, site_id = _site(request)
    _only(request)
    vkeys = st.log_signer.vkeys(site_id)
    body = {
        "site_id": site_id,
        "origin": st.log_signer.origin(site_id),
        "keys": [{"vkey": vkey, "current": i == 0} for i, vkey in enumerate(vkeys)],
    }
    return JSONResponse(body, headers=_HEAD_CACHE)


async def consistency(request: Request) -> Response:
    """``GET /v1/sites/{site}/log/consistency?from=N&to=M``: RFC 9162's consistency proof."""
    st, site_id = _site(request)
    _only(request, "from", "to")
    first, second = _size(request, "from"), _size(request, "to")
    with _proof_errors("from"):
        proof = await proofs.consistency(st.store, site_id, first, second)
    body = {"from": first, "to": second, "proof": [proofs.b64(h) for h in proof]}
    return JSONResponse(body, headers=_PROOF_CACHE)


async def inclusion(request: Request) -> Response:
    """``GET /v1/sites/{site}/log/inclusion?index=I&size=N``: leaf I's path in tree N."""
    st, site_id = _site(request)
    _only(request, "index", "size")
    index, size = _size(request, "index"), _size(request, "size")
    with _proof_errors("index"):
        [proof] = await proofs.inclusion(st.store, site_id, [index], size)
    body = {"index": index, "size": size, "proof": [proofs.b64(h) for h in proof]}
    return JSONResponse(body, headers=_PROOF_CACHE)


@contextmanager
def _proof_errors(field: str) -> Iterator[None]:
    """A proof's failures as answers: sizes out of range are the asker's (422)."""
    try:
        yield
    except proofs.ProofError as exc:
        raise InvalidField(field, str(exc)) from None
    except StoreError as exc:
        raise StoreUnavailable(str(exc)) from None
    except KeyError:
        raise LogUnavailable("the tree's stored hashes are missing") from None


async def receipt(request: Request) -> Response:
    """``GET /v1/sites/{site}/receipt``: the signed receipt of the visitor's newest decision.

    Read from the visitor's verified consent cookie, so only the visitor gets it; the
    row it names is the newest one of their consent ID.
    """
    st = get_state(request)
    site = st.sites.get(request.path_params["site"])
    _only(request)
    origin = allowed_origin(site, request)
    if request.scope["method"] == "OPTIONS":  # the widget sends Kakor-Token across hosts
        headers = preflight_headers(origin) if origin else {"Allow": "GET, OPTIONS"}
        return Response(status_code=204, headers=headers)
    cors = cors_headers(origin)
    consent = st.verified_consent(site, request)
    if consent is None:
        raise NotFound("no valid consent cookie for this site", code="no_consent")
    try:
        rows = await st.store.consent_history(site.id, consent.token.consent_id)
    except StoreError as exc:
        raise StoreUnavailable(str(exc)) from None
    if not rows:
        raise NotFound("the decision is not recorded yet; try again", code="no_consent")
    body = make_receipt(rows[-1], st.log_signer)
    headers = {**cors, "Cache-Control": "no-store"}
    return JSONResponse(body, headers=headers)


def routes() -> list[Route]:
    """The log's public routes."""
    return [
        Route("/v1/sites/{site}/log/head", head, methods=["GET"]),
        Route("/v1/sites/{site}/log/key", keys, methods=["GET"]),
        Route("/v1/sites/{site}/log/consistency", consistency, methods=["GET"]),
        Route("/v1/sites/{site}/log/inclusion", inclusion, methods=["GET"]),
        Route("/v1/sites/{site}/receipt", receipt, methods=["GET", "OPTIONS"]),
    ]
