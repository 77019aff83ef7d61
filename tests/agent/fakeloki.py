"""A small fake of Loki's push endpoint for the agent tests.

It decodes ``POST /loki/api/v1/push`` bodies (snappy block format + protobuf
``logproto.PushRequest``) with message classes built from descriptors by the
protobuf library, independently of the agent's hand-written encoder, and
records every entry. ``fail_with`` makes it answer an HTTP status instead;
``stop()``/``start()`` take it down and bring it back on the same port.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

import cramjam
from aiohttp import web
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2

_F = descriptor_pb2.FieldDescriptorProto


def _push_request_class() -> type:
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    fdp = descriptor_pb2.FileDescriptorProto(
        name="fakeloki/push.proto", package="logproto", syntax="proto3",
        dependency=["google/protobuf/timestamp.proto"],
    )

    def msg(name: str, *fields: tuple[str, int, int, int, str]) -> None:
        m = fdp.message_type.add(name=name)
        for fname, num, ftype, label, tname in fields:
            f = m.field.add(name=fname, number=num, type=ftype, label=label)
            if tname:
                f.type_name = tname

    opt, rep = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
    msg("LabelPairAdapter", ("name", 1, _F.TYPE_STRING, opt, ""), ("value", 2, _F.TYPE_STRING, opt, ""))
    msg("EntryAdapter", ("timestamp", 1, _F.TYPE_MESSAGE, opt, ".google.protobuf.Timestamp"),
        ("line", 2, _F.TYPE_STRING, opt, ""),
        ("structuredMetadata", 3, _F.TYPE_MESSAGE, rep, ".logproto.LabelPairAdapter"))
    msg("StreamAdapter", ("labels", 1, _F.TYPE_STRING, opt, ""),
        ("entries", 2, _F.TYPE_MESSAGE, rep, ".logproto.EntryAdapter"), ("hash", 3, _F.TYPE_UINT64, opt, ""))
    msg("PushRequest", ("streams", 1, _F.TYPE_MESSAGE, rep, ".logproto.StreamAdapter"))
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("logproto.PushRequest"))


PushRequest = _push_request_class()


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class FakeLoki:
    """Records (labels, timestamp_ns, line) of every accepted push."""

    port: int = field(default_factory=free_port)
    entries: list[tuple[str, int, str]] = field(default_factory=list)
    fail_with: int | None = None
    requests: int = 0
    rejected: int = 0
    content_types: set[str] = field(default_factory=set)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/loki/api/v1/push"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 << 20)
        app.router.add_post("/loki/api/v1/push", self._push)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _push(self, request: web.Request) -> web.Response:
        self.requests += 1
        self.content_types.add(request.headers.get("Content-Type", ""))
        if self.fail_with is not None:
            self.rejected += 1
            return web.Response(status=self.fail_with, text="fake failure")
        body = bytes(cramjam.snappy.decompress_raw(await request.read()))
        req = PushRequest()
        req.ParseFromString(body)
        for stream in req.streams:
            for e in stream.entries:
                ts = e.timestamp.seconds * 1_000_000_000 + e.timestamp.nanos
                self.entries.append((stream.labels, ts, e.line))
        return web.Response(status=204)

    def lines(self) -> list[str]:
        return [line for _, _, line in self.entries]
