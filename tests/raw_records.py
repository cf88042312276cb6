"""Producing a record the Python client cannot write: one whose header name is not UTF-8.

confluent-kafka's ``produce()`` turns a ``bytes`` header name into its ``repr``, but other
clients write any bytes; this calls librdkafka (the copy bundled with confluent-kafka) directly.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import confluent_kafka

_PRODUCER = 0  # rd_kafka_type_t RD_KAFKA_PRODUCER
_VTYPE_TOPIC, _VTYPE_VALUE, _VTYPE_KEY, _VTYPE_HEADER = 1, 4, 5, 9  # rd_kafka_vtype_t


class _Header(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("val", ctypes.c_void_p), ("size", ctypes.c_ssize_t)]


class _Memory(ctypes.Structure):
    _fields_ = [("ptr", ctypes.c_void_p), ("size", ctypes.c_size_t)]


class _Value(ctypes.Union):
    _fields_ = [
        ("cstr", ctypes.c_char_p),
        ("mem", _Memory),
        ("header", _Header),
        ("pad", ctypes.c_char * 64),
    ]


class _TypedValue(ctypes.Structure):  # rd_kafka_vu_t
    _fields_ = [("vtype", ctypes.c_int), ("u", _Value)]


def _librdkafka() -> ctypes.CDLL:
    libs = Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs"
    lib = ctypes.CDLL(str(next(libs.glob("librdkafka*"))))
    lib.rd_kafka_conf_new.restype = ctypes.c_void_p
    lib.rd_kafka_conf_set.argtypes = [ctypes.c_void_p, *(ctypes.c_char_p,) * 3, ctypes.c_size_t]
    lib.rd_kafka_new.restype = ctypes.c_void_p
    lib.rd_kafka_new.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.rd_kafka_produceva.restype = ctypes.c_void_p
    lib.rd_kafka_produceva.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    lib.rd_kafka_error_string.restype = ctypes.c_char_p
    lib.rd_kafka_error_string.argtypes = [ctypes.c_void_p]
    lib.rd_kafka_flush.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.rd_kafka_destroy.argtypes = [ctypes.c_void_p]
    return lib


def produce_with_raw_header(
    bootstrap_servers: str,
    topic: str,
    key: bytes,
    value: bytes,
    header: tuple[bytes, bytes],
) -> None:
    """Produce one record with one header whose name is any bytes (no NUL); wait for its ack."""
    lib = _librdkafka()
    error = ctypes.create_string_buffer(512)
    conf = lib.rd_kafka_conf_new()
    if lib.rd_kafka_conf_set(conf, b"bootstrap.servers", bootstrap_servers.encode(), error, 512):
        raise RuntimeError(error.value.decode())
    producer = lib.rd_kafka_new(_PRODUCER, conf, error, 512)
    if not producer:
        raise RuntimeError(error.value.decode())
    name, header_value = header
    buffers = [ctypes.create_string_buffer(data, len(data)) for data in (key, value, header_value)]
    fields = (_TypedValue * 4)()
    fields[0].vtype, fields[0].u.cstr = _VTYPE_TOPIC, topic.encode()
    for field, vtype, buffer in zip(fields[1:3], (_VTYPE_KEY, _VTYPE_VALUE), buffers, strict=False):
        field.vtype, field.u.mem = vtype, _Memory(ctypes.addressof(buffer), len(buffer.raw))
    fields[3].vtype = _VTYPE_HEADER
    fields[3].u.header = _Header(name, ctypes.addressof(buffers[2]), len(header_value))
    try:
        failed = lib.rd_kafka_produceva(producer, fields, len(fields))
        if failed:
            raise RuntimeError(lib.rd_kafka_error_string(failed).decode())
        if lib.rd_kafka_flush(producer, 30_000):
            raise RuntimeError(f"record to {topic} not acknowledged within 30 s")
    finally:
        lib.rd_kafka_destroy(producer)
