"""Loki's `logproto.PushRequest` as a hand-made protobuf descriptor (wire-compatible with
Loki's pkg/push/push.proto: StreamAdapter, EntryAdapter, LabelPairAdapter, Timestamp)."""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

_F = descriptor_pb2.FieldDescriptorProto


def _message(fp: descriptor_pb2.FileDescriptorProto, name: str, fields: list[tuple[str, int, int, int, str]]) -> None:
    msg = fp.message_type.add(name=name)
    for fname, number, ftype, label, type_name in fields:
        f = msg.field.add(name=fname, number=number, type=ftype, label=label)  # type: ignore[arg-type]
        if type_name:
            f.type_name = type_name
        f.json_name = fname


def _file() -> descriptor_pb2.FileDescriptorProto:
    fp = descriptor_pb2.FileDescriptorProto(name="pharos/logproto_push.proto", package="logproto", syntax="proto3")
    opt, rep = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
    _message(fp, "Timestamp", [("seconds", 1, _F.TYPE_INT64, opt, ""), ("nanos", 2, _F.TYPE_INT32, opt, "")])
    _message(fp, "LabelPairAdapter", [("name", 1, _F.TYPE_STRING, opt, ""), ("value", 2, _F.TYPE_STRING, opt, "")])
    _message(fp, "EntryAdapter", [
        ("timestamp", 1, _F.TYPE_MESSAGE, opt, ".logproto.Timestamp"),
        ("line", 2, _F.TYPE_STRING, opt, ""),
        ("structuredMetadata", 3, _F.TYPE_MESSAGE, rep, ".logproto.LabelPairAdapter"),
    ])
    _message(fp, "StreamAdapter", [
        ("labels", 1, _F.TYPE_STRING, opt, ""),
        ("entries", 2, _F.TYPE_MESSAGE, rep, ".logproto.EntryAdapter"),
        ("hash", 3, _F.TYPE_UINT64, opt, ""),
    ])
    _message(fp, "PushRequest", [("streams", 1, _F.TYPE_MESSAGE, rep, ".logproto.StreamAdapter")])
    return fp


_pool = descriptor_pool.DescriptorPool()
_pool.Add(_file())
PushRequest: type[Message] = message_factory.GetMessageClass(_pool.FindMessageTypeByName("logproto.PushRequest"))
