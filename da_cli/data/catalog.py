"""Sources registered as DuckDB views, read-only and lazily (nothing is loaded up front).

A `Catalog` is plain data: the SQL statements that recreate its views. The CLI's profiler
and the sandbox worker each replay them on their own connection, so generated code sees
exactly the tables the prompt describes. Sources are only ever opened for reading.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from da_cli.data import extensions
from da_cli.errors import DataError

KINDS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "json",
    ".ndjson": "json",
    ".json": "json",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".sqlite": "sqlite",
    ".sqlite3": "sqlite",
    ".db": "sqlite",
    ".duckdb": "duckdb",
}


@dataclass(frozen=True)
class View:
    name: str  # the table name generated code and SQL use
    source: str  # absolute path of the file it reads
    detail: str  # sheet or table inside the source, or "" for a single-table file


@dataclass
class Catalog:
    sources: list[str] = field(default_factory=list)
    views: list[View] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)

    def connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(":memory:")
        for stmt in self.statements:
            con.execute(stmt)
        return con

    def to_dict(self) -> dict:
        return {
            "sources": self.sources,
            "views": [v.__dict__ for v in self.views],
            "statements": self.statements,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Catalog":
        return cls(d["sources"], [View(**v) for v in d["views"]], d["statements"])


def _quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _ident(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def sanitize(name: str) -> str:
    name = re.sub(r"[^0-9a-zA-Z_]+", "_", name).strip("_").lower() or "table"
    return f"t_{name}" if name[0].isdigit() else name


def kind_of(path: Path) -> str:
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        raise DataError(
            f"{path} has an unknown file type '{path.suffix or '(none)'}'.",
            hint="da reads CSV/TSV, Parquet, JSON Lines, XLSX, SQLite and DuckDB files.",
        )
    return kind


def build_catalog(paths: list[str]) -> Catalog:
    """Register every source; raise DataError with one sentence for the first bad one."""
    cat = Catalog()
    con = duckdb.connect(":memory:")
    taken: set[str] = set()
    loaded: set[str] = set()

    def need(ext: str) -> None:
        if ext not in loaded:
            stmt = extensions.load_statement(ext)
            con.execute(stmt)
            cat.statements.append(stmt)
            loaded.add(ext)

    def add(base: str, source: Path, detail: str, select: str) -> None:
        name = sanitize(base)
        if name in taken:
            name = sanitize(f"{source.stem}_{base}")
        n = 2
        while name in taken:
            name, n = f"{sanitize(base)}_{n}", n + 1
        taken.add(name)
        stmt = f"CREATE VIEW {_ident(name)} AS {select}"
        con.execute(stmt)
        cat.statements.append(stmt)
        cat.views.append(View(name, str(source), detail))

    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise DataError(f"Source {raw} does not exist.")
        if path.is_dir():
            raise DataError(f"Source {raw} is a directory; pass the data files in it.")
        path = path.resolve()
        kind = kind_of(path)
        try:
            with path.open("rb") as f:
                head = f.read(16)
        except OSError as e:
            raise DataError(f"Source {raw} cannot be read: {e.strerror}.") from e
        if not head:
            raise DataError(f"Source {raw} is empty.")
        cat.sources.append(str(path))
        q = _quote(str(path))
        try:
            if kind == "csv":
                add(path.stem, path, "", f"SELECT * FROM read_csv({q})")
            elif kind == "parquet":
                add(path.stem, path, "", f"SELECT * FROM read_parquet({q})")
            elif kind == "json":
                add(path.stem, path, "", f"SELECT * FROM read_json_auto({q})")
            elif kind == "xlsx":
                need("excel")
                for sheet in _sheet_names(path, raw):
                    add(sheet, path, sheet, f"SELECT * FROM read_xlsx({q}, sheet={_quote(sheet)})")
            elif kind in ("sqlite", "duckdb"):
                if kind == "sqlite" and head.startswith(b"DUCK", 8):
                    kind = "duckdb"
                alias = sanitize(f"src_{len(cat.sources)}_{path.stem}")
                if kind == "sqlite":
                    need("sqlite")
                    attach = f"ATTACH {q} AS {_ident(alias)} (TYPE sqlite, READ_ONLY)"
                else:
                    attach = f"ATTACH {q} AS {_ident(alias)} (READ_ONLY)"
                con.execute(attach)
                cat.statements.append(attach)
                tables = con.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_catalog = ? ORDER BY table_name",
                    [alias],
                ).fetchall()
                if not tables:
                    raise DataError(f"Source {raw} holds no tables.")
                for (table,) in tables:
                    add(table, path, table, f"SELECT * FROM {_ident(alias)}.{_ident(table)}")
        except duckdb.Error as e:
            raise DataError(f"Source {raw} cannot be read as {kind}: {_first_line(e)}.") from e
    con.close()
    return cat


def _sheet_names(path: Path, raw: str) -> list[str]:
    import zipfile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as e:
        raise DataError(f"Source {raw} is not a readable XLSX workbook.") from e
    try:
        names = [ws.title for ws in wb.worksheets if ws.max_row is None or ws.max_row > 1]
    finally:
        wb.close()
    if not names:
        raise DataError(f"Source {raw} has no sheet with data.")
    return names


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0].rstrip(".")
