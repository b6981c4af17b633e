"""Reading a SQLite database that another program holds locked.

A writer inside `BEGIN EXCLUSIVE` (or committing) keeps every reader out, and DuckDB's
SQLite scanner waits and then fails. Its lock is advisory, though: the file's bytes can
still be read. So a locked database is copied, with its rollback journal and WAL, into the
derived-files cache and read from the copy. Opening the copy rolls back whatever the writer
had not committed (the copied journal is hot there, since nobody holds the copy's lock), so
the copy is the last committed state. A copy taken mid-commit can be torn: it is checked,
and when it fails the check the database is reported as locked, in one sentence.
"""

import contextlib
import hashlib
import shutil
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

from da_cli import paths
from da_cli.errors import DataError

PROBE_TIMEOUT_S = 1.0  # how long a read may wait for a lock before the copy is taken


def is_locked(path: Path) -> bool:
    """Whether a reader cannot get at the database now, because another process holds it."""
    try:
        con = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=PROBE_TIMEOUT_S)
        try:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            con.close()
    except sqlite3.OperationalError as e:
        return "locked" in str(e) or "busy" in str(e)
    except sqlite3.DatabaseError:
        return False  # damaged: DuckDB's ATTACH says so
    return False


def snapshot(path: Path, raw: str) -> tuple[Path, str]:
    """A consistent copy of a locked database, and the note that says the tables come from
    it. Raises DataError when no consistent copy could be taken."""
    st = path.stat()
    key = hashlib.sha256(f"{path}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:24]
    folder = paths.derived_dir() / "snapshots"
    copy = folder / f"{key}.db"
    taken = time.strftime("%H:%M:%S")
    note = (
        f"{path.name} was locked by another program, so these tables are a copy taken at "
        f"{taken}, without the changes it had not committed."
    )
    if copy.is_file():
        return copy, note
    folder.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        tmp = folder / f"{key}.tmp{attempt}.db"
        try:
            # The database first: any page the writer changed in it has its original in the
            # journal by then (SQLite journals a page before it overwrites it).
            shutil.copyfile(path, tmp)
            for suffix in ("-journal", "-wal"):
                side = Path(f"{path}{suffix}")
                if side.is_file():
                    shutil.copyfile(side, f"{tmp}{suffix}")
            if _consistent(tmp):
                tmp.replace(copy)
                return copy, note
        except OSError:
            pass
        finally:
            for leftover in [tmp, *(Path(f"{tmp}-{s}") for s in ("journal", "wal", "shm"))]:
                with contextlib.suppress(OSError):
                    leftover.unlink()
        time.sleep(0.2)
    raise DataError(
        f"Source {raw} is locked by another program that is writing to it; "
        "try again when it has finished."
    )


def _consistent(copy: Path) -> bool:
    """Open the copy read-write (rolling back a copied journal if it is hot, folding in a
    WAL), check it, and leave a single file. A journal SQLite did not find hot (the
    writer's changes were still in its memory) is one it would ignore: it goes."""
    try:
        con = sqlite3.connect(copy, timeout=0)
        try:
            ok = con.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            con.execute("PRAGMA journal_mode=DELETE")  # folds a WAL into the file
        finally:
            con.close()
    except sqlite3.DatabaseError:
        return False
    Path(f"{copy}-journal").unlink(missing_ok=True)
    return ok and not Path(f"{copy}-wal").exists()
