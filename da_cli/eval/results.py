"""Results files of `da eval`: one JSON object a line, plain or gzip-compressed (`results/`
keeps them compressed, and a run, a rescore or a comparison reads and writes either)."""

import gzip
import json
import zlib
from pathlib import Path
from typing import TextIO

from da_cli.errors import UsageError

_GZIP_MAGIC = b"\x1f\x8b"


def _gzipped(path: Path) -> bool:
    if path.is_file() and path.stat().st_size:
        with path.open("rb") as f:
            return f.read(2) == _GZIP_MAGIC
    return path.suffix == ".gz"  # a new file is written the way its name says


def text(path: Path) -> str:
    """The file's text; one sentence (exit 2) when it is not a results file."""
    data = path.read_bytes()
    try:
        if data[:2] == _GZIP_MAGIC:
            data = _members(data)
        return data.decode("utf-8")
    except (zlib.error, UnicodeDecodeError) as e:
        raise UsageError(f"{path} is not a results file of `da eval` (JSON lines).") from e


def _members(data: bytes) -> bytes:
    """Every gzip member's text (each append adds one); a member cut short by an interrupted
    run gives what was flushed of it."""
    out = bytearray()
    while data:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out += d.decompress(data)
        if not d.eof:
            break
        data = d.unused_data
    return bytes(out)


def read(path: Path) -> dict[int | str, dict]:
    """id -> result, in file order (DABench ids are numbers, task ids strings, as the items
    have them). A line cut by an interrupted run is skipped: that question runs again."""
    done: dict[int | str, dict] = {}
    if path.is_file():
        for line in text(path).splitlines():
            try:
                row = json.loads(line)
                done[row["id"]] = row
            except (ValueError, KeyError, TypeError):
                continue
    return done


def write(path: Path, records: list[dict]) -> None:
    """Replace the file with `records` at once (a crash leaves the old file or the new),
    compressed when it was (or, new, when its name ends in .gz)."""
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
    if _gzipped(path):
        body = gzip.compress(body, mtime=0)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(body)
    tmp.replace(path)


def appender(path: Path) -> TextIO:
    """The file opened to add results to, one line each, in the file's own form."""
    if _gzipped(path):
        return gzip.open(path, "at", encoding="utf-8")
    return path.open("a", encoding="utf-8")
