"""Framing between the CLI and the worker: a 4-byte big-endian length, then UTF-8 JSON.
It runs over dedicated pipes, so whatever generated code prints to fd 1 or 2 can never be
mistaken for a protocol message."""

import json
import os
import struct

_HEADER = struct.Struct(">I")


def send(fd: int, message: dict) -> None:
    data = json.dumps(message).encode("utf-8")
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _read_exact(fd: int, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            raise EOFError("peer closed the pipe")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def recv(fd: int) -> dict:
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size))
    return json.loads(_read_exact(fd, size).decode("utf-8"))
