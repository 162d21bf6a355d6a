"""The ASGI application: routes, error mapping, static files, and the service's lifespan."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from voiceline import __version__
from voiceline.console import STATIC_DIR  # the web console: login, live wall
from voiceline.server import admin, api, qa_api, reports_api, sockets
from voiceline.server.config import ServerConfig
from voiceline.server.deps import validation_errors
from voiceline.server.limits import CutCounts
from voiceline.server.service import Service
from voiceline.server.tls import SecurityHeaders
from voiceline.store import ConflictError, InvalidInputError, NotFoundError

#: Largest HTTP request body (bytes): every body the API takes is a small JSON object (a
#: login, a verdict and its note, a user). A larger one is refused with 413 as it
#: arrives, before it is buffered or parsed: a 300 MB login once held the event loop,
#: and with it every seat's audio, for seconds.
MAX_BODY_BYTES = 64 * 1024


#: Longest error message an answer gives: a message quotes the id or value it is about,
#: and a 404 for a path of 60,000 characters answered with all of them.
MAX_DETAIL_CHARS = 400


def _cut(detail: str) -> str:
    return detail if len(detail) <= MAX_DETAIL_CHARS else detail[:MAX_DETAIL_CHARS - 1] + "…"


def create_app(config: ServerConfig) -> FastAPI:
    """The Voiceline server app; the service starts with the app's lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service = Service(config, cuts=app.state.connection_cuts)
        app.state.service = service
        try:
            await service.start()
        except Exception as exc:
            app.state.start_error = exc  # uvicorn only logs it; tests and tools read it here
            raise
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(title="Voiceline", version=__version__, lifespan=lifespan,
                  docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json",
                  max_body_size=MAX_BODY_BYTES)
    app.state.connection_cuts = CutCounts()  # the HTTP port's and the service's
    app.add_middleware(SecurityHeaders)
    app.include_router(api.router)
    app.include_router(admin.router)
    app.include_router(qa_api.router)
    app.include_router(reports_api.router)
    app.include_router(sockets.router)

    @app.exception_handler(RequestValidationError)
    async def unprocessable(request: Request, exc: RequestValidationError) -> JSONResponse:
        # rendered as strict JSON, never echoing NaN, a lone surrogate or a whole body
        return JSONResponse({"detail": validation_errors(exc)}, status_code=422)

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": _cut(str(exc))}, status_code=404)

    @app.exception_handler(ConflictError)
    async def conflict(request: Request, exc: ConflictError) -> JSONResponse:
        return JSONResponse({"detail": _cut(str(exc))}, status_code=409)

    @app.exception_handler(InvalidInputError)
    async def invalid(request: Request, exc: InvalidInputError) -> JSONResponse:
        return JSONResponse({"detail": _cut(str(exc))}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc.detail, str):
            exc = StarletteHTTPException(exc.status_code, _cut(exc.detail), exc.headers)
        return await http_exception_handler(request, exc)

    app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="static")
    return app
