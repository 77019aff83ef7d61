"""HTTP endpoints of the remote protocols: `POST /api/v1/write` and `POST /api/v1/read`."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import cramjam
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from pharos.metrics.remote.read import answer, decode_read_request
from pharos.metrics.remote.receiver import BadRequest, Receiver, decode_snappy, decode_write_request

log = logging.getLogger("pharos.remote")


def register(app: FastAPI, runtime: Any) -> Receiver:
    """Mount the remote-write receiver and the remote-read endpoint."""
    receiver = Receiver()
    app.state.remote_receiver = receiver

    @app.post("/api/v1/write", include_in_schema=True)
    async def remote_write(request: Request) -> Response:
        """Prometheus remote write 1.0 (snappy protobuf); 204 on success, 400 with the reason."""
        tsdb = runtime.tsdb
        if tsdb is None:
            return PlainTextResponse("TSDB not ready\n", status_code=503)
        body = await request.body()
        try:
            req = decode_write_request(decode_snappy(body))
            stats = await asyncio.to_thread(receiver.write, tsdb, req)
        except BadRequest as exc:
            return PlainTextResponse(f"{exc}\n", status_code=400)
        refused = stats.rejection()
        if refused is not None:
            log.warning("remote write: %s", refused)
            return PlainTextResponse(f"{refused}\n", status_code=400)
        return Response(status_code=204)

    @app.post("/api/v1/read")
    async def remote_read(request: Request) -> Response:
        """Prometheus remote read, SAMPLES response type (snappy protobuf both ways)."""
        tsdb = runtime.tsdb
        if tsdb is None:
            return PlainTextResponse("TSDB not ready\n", status_code=503)
        body = await request.body()
        try:
            req = decode_read_request(decode_snappy(body))
            resp = await asyncio.to_thread(answer, tsdb, req)
        except BadRequest as exc:
            return PlainTextResponse(f"{exc}\n", status_code=400)
        data = cramjam.snappy.compress_raw(resp.SerializeToString())
        headers = {"Content-Encoding": "snappy"}
        return Response(bytes(data), media_type="application/x-protobuf", headers=headers)

    return receiver
