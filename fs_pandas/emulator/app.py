"""Starlette app: translates HTTP to :class:`~fs_pandas.emulator.state.OrgState` calls and back.

Routes are those of contract §2 under ``/v2`` (and the ``/v2beta`` aliases), plus unauthenticated
inspection routes under ``/_emulator``. The modelled network (``NetworkMiddleware``: latency and
bandwidth) and faults (``FaultMiddleware``) apply to ``/v2*`` only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fs_pandas.emulator.idempotency import Fingerprint
from fs_pandas.emulator.replies import MSG_404, MSG_429, MSG_500, RefusedError, Reply
from fs_pandas.emulator.rules import parse_bool
from fs_pandas.emulator.state import OrgState

logger = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Reply]]
# endpoint(): wraps a handler with the key check and §7 error bodies.
Wrap = Callable[[Handler], Callable[..., Any]]
# _create_with_key(): runs a create action from its request.
CreateWithKey = Callable[[Request, Callable[[Any], Reply]], Awaitable[Reply]]
Transports = Mapping[Any, asyncio.BaseTransport]


def to_response(reply: Reply) -> Response:
    """A :class:`Reply` as a JSON response (``None`` body = empty body, e.g. 202)."""
    content = b"" if reply.body is None else orjson.dumps(reply.body)
    media = None if reply.body is None else "application/json"
    return Response(content, status_code=reply.status, headers=reply.headers, media_type=media)


async def read_json(request: Request) -> Any:
    """Parse the body as JSON whatever the Content-Type (§9.20; chunked bodies included)."""
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RefusedError(400, "invalid_argument", "request body is not valid JSON") from None


def _flag(request: Request, name: str) -> bool:
    """A boolean query parameter: true/false/1/0 in any case; anything else is a 400."""
    return parse_bool(name, request.query_params.get(name))


def idempotency_key(request: Request) -> str | None:
    """The ``Idempotency-Key`` header; an empty one is no key (treated as absent)."""
    return request.headers.get("idempotency-key") or None


async def hold_create(state: OrgState) -> None:
    """Keep a create request in flight for ``create_delay_seconds``, then while
    ``create_hold`` is set and not released (releasing it, or changing or resetting the
    setting, lets it go). Other requests are served meanwhile."""
    config = state.config
    if not config.create_delay_seconds and config.create_hold is None:
        return
    state.held += 1  # only the event loop's thread writes it
    try:
        if config.create_delay_seconds:
            await asyncio.sleep(config.create_delay_seconds)
        gate = config.create_hold
        while gate is not None and not gate.is_set() and state.config.create_hold is gate:
            await asyncio.sleep(0.002)
    finally:
        state.held -= 1


def endpoint(state: OrgState, *, admin_only: bool) -> Wrap:
    """Wrap a handler: check the key (§1) first, then turn RefusedError into its §7 body."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            try:
                state.authorize(request.headers.get("authorization"), admin_only=admin_only)
                return to_response(await handler(request))
            except RefusedError as err:
                return to_response(err.reply())

        run.__name__ = handler.__name__
        return run

    return wrap


def _v2_routes(state: OrgState) -> list[Route]:
    """The 15 operations of contract §2."""
    std = endpoint(state, admin_only=False)
    admin = endpoint(state, admin_only=True)
    create_with_key = _create_with_key(state)
    routes = _collection_routes(state, std, admin, create_with_key)
    for kind in ("users", "events"):
        routes += _batch_routes(state, kind, std, admin, create_with_key)
    # Batch routes first so "/users/batch" is never read as a user id.
    return routes + _user_id_routes(state, std, admin)


def _create_with_key(state: OrgState) -> CreateWithKey:
    """How the four create POSTs run: held in flight (``create_delay_seconds``,
    ``create_hold``), and under an ``Idempotency-Key`` replayed, refused or stored (§6)."""

    async def create_with_key(request: Request, action: Callable[[Any], Reply]) -> Reply:
        key = idempotency_key(request)
        with state.reading_create():  # the costly part of a create, before its hold
            body = await read_json(request)

        def act() -> Reply:
            with state.reading_create():
                return action(body)

        if key is None:
            await hold_create(state)
            return act()
        # §6: the same key with another body (or on another route) is a mismatch. (Starlette
        # keeps the body read.)
        fingerprint = Fingerprint(request.url.path, await request.body(), body)
        stored = state.idempotency_begin(key, fingerprint)  # 409 while in flight, 422
        if stored is not None:
            return stored
        reply = None
        try:
            await hold_create(state)
            reply = _guard(act)
        finally:
            # No answer (the client went away while held): nothing is saved.
            state.idempotency_end(key, fingerprint, reply)
        return reply

    return create_with_key


def _collection_routes(
    state: OrgState, std: Wrap, admin: Wrap, create_with_key: CreateWithKey
) -> list[Route]:
    """U1, U3, U5b and E1: the routes on ``/users`` and ``/events`` themselves."""

    @std
    async def create_user(request: Request) -> Reply:
        return await create_with_key(request, state.create_user)

    @admin
    async def list_users(request: Request) -> Reply:
        q = request.query_params
        filters = {k: q[k] for k in ("uid", "email", "display_name", "is_identified") if k in q}
        return state.list_users(
            filters, q.get("page_token"), include_schema=_flag(request, "include_schema")
        )

    @admin
    async def delete_user_by_uid(request: Request) -> Reply:
        return state.delete_user(None, request.query_params.get("uid"))

    @std
    async def create_event(request: Request) -> Reply:
        return await create_with_key(request, state.create_event)

    return [
        Route("/users", create_user, methods=["POST"]),
        Route("/users", list_users, methods=["GET"]),
        Route("/users", delete_user_by_uid, methods=["DELETE"]),
        Route("/events", create_event, methods=["POST"]),
    ]


def _user_id_routes(state: OrgState, std: Wrap, admin: Wrap) -> list[Route]:
    """U2, U4 and U5a: the routes on ``/users/{id}``."""

    @admin
    async def get_user(request: Request) -> Reply:
        return state.get_user(
            request.path_params["id"], include_schema=_flag(request, "include_schema")
        )

    @std
    async def update_user(request: Request) -> Reply:
        return state.update_user(request.path_params["id"], await read_json(request))

    @admin
    async def delete_user(request: Request) -> Reply:
        return state.delete_user(request.path_params["id"], None)

    return [
        Route("/users/{id}", get_user, methods=["GET"]),
        Route("/users/{id}", update_user, methods=["POST"]),
        Route("/users/{id}", delete_user, methods=["DELETE"]),
    ]


def _guard(action: Callable[[], Reply]) -> Reply:
    """Run an action, giving errors as replies so idempotency can decide what to store."""
    try:
        return action()
    except RefusedError as err:
        return err.reply()


def _batch_routes(
    state: OrgState, kind: str, std: Wrap, admin: Wrap, create_with_key: CreateWithKey
) -> list[Route]:
    """UB1-UB4 or EB1-EB4 for one ``kind``."""

    @std
    async def create_job(request: Request) -> Reply:
        key = idempotency_key(request)
        return await create_with_key(request, lambda body: state.create_job(kind, body, key))

    @std
    async def job_status(request: Request) -> Reply:
        return state.job_status(kind, request.path_params["job_id"])

    def results(which: str) -> Handler:
        async def handler(request: Request) -> Reply:
            return state.job_results(
                kind,
                request.path_params["job_id"],
                which,
                request.query_params.get("page_token"),
                include_schema=_flag(request, "include_schema"),
            )

        handler.__name__ = f"{kind}_{which}"
        return handler

    base = f"/{kind}/batch"
    return [
        Route(base, create_job, methods=["POST"]),
        Route(base + "/{job_id}", job_status, methods=["GET"]),
        Route(base + "/{job_id}/imports", admin(results("imports")), methods=["GET"]),
        Route(base + "/{job_id}/errors", admin(results("errors")), methods=["GET"]),
    ]


def _inspection_routes(state: OrgState) -> list[Route]:
    """Unauthenticated routes for tests and demos (never subject to faults)."""

    async def jobs(request: Request) -> Response:
        return to_response(Reply(200, state.list_jobs()))

    async def users(request: Request) -> Response:
        return to_response(Reply(200, state.list_users_raw()))

    async def events(request: Request) -> Response:
        return to_response(Reply(200, state.list_events_raw()))

    async def reset(request: Request) -> Response:
        state.reset()
        return to_response(Reply(200, {}))

    return [
        Route("/_emulator/jobs", jobs, methods=["GET"]),
        Route("/_emulator/users", users, methods=["GET"]),
        Route("/_emulator/events", events, methods=["GET"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown routes and wrong methods answer with a §7 body too."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return to_response(Reply(404, {"message": MSG_404, "code": "resource_not_found"}))
    if status == 405:
        body = {"message": "method not allowed", "code": "invalid_argument"}
        return to_response(Reply(405, body))
    return to_response(Reply(status, {"message": MSG_500, "code": "server_error"}))


class FaultMiddleware:
    """Applies the seeded request faults of ``state.faults`` to ``/v2`` routes.

    Dropped connections are real: the socket is aborted (TCP RST) through the transport that
    ``server.py`` records per client address, so the client sees a connection error, not a 500.
    """

    def __init__(self, app: ASGIApp, state: OrgState, transports: Transports) -> None:
        self.app = app
        self.state = state
        self.transports = transports

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v2"):
            await self.app(scope, receive, send)
            return
        fault = self.state.faults.plan_request()
        if fault.drop_before:
            await self._drop(scope)
            return
        if fault.slow:
            await asyncio.sleep(self.state.faults.faults.slow_seconds)
        if fault.status_429:
            headers = {"Retry-After": str(self.state.config.retry_after)}
            reply = Reply(429, {"message": MSG_429, "code": "too_many_requests"}, headers)
            await to_response(reply)(scope, receive, send)
        elif fault.status_5xx:
            await to_response(Reply(500, {"message": MSG_500, "code": "server_error"}))(
                scope, receive, send
            )
        elif fault.drop_after:
            await self.app(scope, receive, _swallow)
            await self._drop(scope)
        else:
            await self.app(scope, receive, send)

    async def _drop(self, scope: Scope) -> None:
        transport = self.transports.get(scope.get("client"))
        if transport is None:  # not served by our server (e.g. an in-process test client)
            raise RuntimeError("cannot drop a connection without its transport")
        abort = getattr(transport, "abort", transport.close)
        abort()
        # Let connection_lost run so uvicorn knows the client is gone and sends nothing.
        for _ in range(3):
            await asyncio.sleep(0)


class NetworkMiddleware:
    """Models the network between client and server on ``/v2`` routes (``latency_seconds``,
    ``bandwidth_bytes_per_second``).

    Half the latency is waited before the request reaches the faults and the handler, half
    before the response starts; with a bandwidth, each request body chunk waits its
    ``len / bandwidth`` as it is read and each response body chunk before it is sent. Every
    wait is an ``asyncio.sleep`` of this request alone, so concurrent requests overlap as they
    would over a real network and the event loop serves others meanwhile. Settings are read per
    request, so ``configure`` takes effect on the next one.
    """

    def __init__(self, app: ASGIApp, state: OrgState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        config = self.state.config
        latency, bandwidth = config.latency_seconds, config.bandwidth_bytes_per_second
        if (
            scope["type"] != "http"
            or not scope["path"].startswith("/v2")
            or (not latency and bandwidth is None)
        ):
            await self.app(scope, receive, send)
            return
        half = latency / 2

        async def slow_receive() -> Message:
            message = await receive()
            if bandwidth is not None and message["type"] == "http.request":
                await asyncio.sleep(len(message.get("body", b"")) / bandwidth)
            return message

        async def slow_send(message: Message) -> None:
            if message["type"] == "http.response.start" and half:
                await asyncio.sleep(half)
            elif bandwidth is not None and message["type"] == "http.response.body":
                await asyncio.sleep(len(message.get("body", b"")) / bandwidth)
            await send(message)

        if half:
            await asyncio.sleep(half)
        await self.app(scope, slow_receive if bandwidth is not None else receive, slow_send)


async def _swallow(message: Message) -> None:
    """An ASGI ``send`` that discards the response (the connection is dropped after)."""


def build_app(state: OrgState, *, transports: Transports | None = None) -> ASGIApp:
    """The ASGI app of the emulator, faults and the modelled network included."""
    v2 = _v2_routes(state)
    routes = [Route("/v2" + r.path, r.endpoint, methods=list(r.methods or [])) for r in v2]
    routes += [Route("/v2beta" + r.path, r.endpoint, methods=list(r.methods or [])) for r in v2]
    routes += _inspection_routes(state)
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    faults = FaultMiddleware(app, state, transports if transports is not None else {})
    # The network is outermost: a request travels before a fault can answer or drop it.
    return NetworkMiddleware(faults, state)
