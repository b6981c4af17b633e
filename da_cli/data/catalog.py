"""Sources registered as DuckDB views, read-only and lazily (nothing is loaded up front).

A `Catalog` is plain data: the SQL statements that recreate its views. The CLI's profiler
and the sandbox worker each replay them on their own connection, so generated code sees
exactly the tables the prompt describes. Sources are only ever opened for reading.
"""

import codecs
import csv
import glob
import hashlib
import io
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from da_cli import paths
from da_cli.data import extensions, locked, types, workbook
from da_cli.errors import DataError, EmptySource

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
# Exports have ragged rows and huge free-text fields; read them rather than refuse them.
# DuckDB's read buffer grows with max_line_size, so it stays at 32 MB (64 MB buffer).
# The strings pandas' read_csv has read as missing since long before 2.0 (2.0 added 'None',
# left out here: "None" is as often a category, a brand or an allergy, as a gap). DuckDB
# reads only the empty string so: a price column with one 'null' came out as text, every
# mean and corr over it failed, and `load()` disagreed with `pd.read_csv` on the same file.
MISSING_MARKERS = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null",
)  # fmt: skip
CSV_OPTIONS = (
    "null_padding=true, strict_mode=false, max_line_size=33554432, buffer_size=67108864, "
    f"nullstr=[{', '.join(repr(m) for m in MISSING_MARKERS)}]"
)
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy Office and encrypted OOXML


@dataclass(frozen=True)
class View:
    name: str  # the table name generated code and SQL use
    source: str  # absolute path of the file it reads
    detail: str  # sheet or table inside the source, or "" for a single-table file
    note: str = ""  # what reading it skipped or could not be sure of, for the profile
    converted: str = ""  # text columns read as numbers or dates (types.retype), for the profile


@dataclass
class Catalog:
    sources: list[str] = field(default_factory=list)
    views: list[View] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)
    # Files the views read besides `sources` (UTF-8 copies of legacy-encoded CSVs).
    derived: list[str] = field(default_factory=list)
    # One sentence each on what was skipped or is uncertain (an empty file in a directory,
    # a title row above a header), for front ends to show; views carry their own as well.
    notes: list[str] = field(default_factory=list)

    def connect(self) -> duckdb.DuckDBPyConnection:
        con = connect()
        for stmt in self.statements:
            con.execute(stmt)
        return con

    def to_dict(self) -> dict:
        return {
            "sources": self.sources,
            "views": [v.__dict__ for v in self.views],
            "statements": self.statements,
            "derived": self.derived,
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Catalog":
        views = [View(**v) for v in d["views"]]
        return cls(d["sources"], views, d["statements"], d.get("derived", []), d.get("notes", []))


def connect() -> duckdb.DuckDBPyConnection:
    # DuckDB draws a progress bar on stdout for long scans, which would garble the CLI's
    # output and the sandbox's captured cell output.
    con = duckdb.connect(":memory:")
    con.execute("SET enable_progress_bar = false")
    return con


def _quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _ident(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def sanitize(name: str) -> str:
    """A table name that works unquoted in SQL and as a Python variable: letters (accented
    ones too, `été`), digits and underscores. NFKC is how Python normalises identifiers,
    so the variable a cell writes is the table's own name."""
    name = unicodedata.normalize("NFKC", name)
    name = re.sub(r"[^\w]+", "_", name).strip("_").lower() or "table"
    if not name.isidentifier():  # a mark that no identifier may hold: fall back to ASCII
        ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        name = re.sub(r"[^0-9a-z_]+", "_", ascii_).strip("_") or "table"
    return f"t_{name}" if name[0].isdigit() else name


def kind_of(path: Path) -> str:
    kind = KINDS.get(path.suffix.lower())
    if path.suffix.lower() == ".xls":
        raise DataError(
            f"{path} is an old-format Excel file (.xls).",
            hint="Open it in Excel or LibreOffice and save it as .xlsx.",
        )
    if kind is None:
        raise DataError(
            f"{path} has an unknown file type '{path.suffix or '(none)'}'.",
            hint="da reads CSV/TSV, Parquet, JSON Lines, XLSX, SQLite and DuckDB files.",
        )
    return kind


def expand(raw: str) -> list[Path]:
    """The data files one command-line source names: a file, a directory (searched
    recursively, hidden entries skipped) or a quoted glob pattern."""
    path = Path(raw).expanduser()
    if not path.exists() and glob.has_magic(raw):
        matches = sorted(Path(m) for m in glob.glob(str(path), recursive=True))
        files = [m for m in matches if m.is_file() and m.suffix.lower() in KINDS]
        if not files:
            raise DataError(f"The pattern {raw} matches no data files.")
        return files
    if not path.exists():
        raise DataError(f"Source {raw} does not exist.")
    if not path.is_dir() and not path.is_file():
        # A FIFO, socket or device: opening one to sniff it could block forever.
        raise DataError(f"Source {raw} is not a regular file (a pipe, socket or device).")
    if path.is_dir():
        files = sorted(
            f
            for f in path.rglob("*")
            if f.is_file()
            and f.suffix.lower() in KINDS
            and not any(part.startswith(".") for part in f.relative_to(path).parts)
        )
        if not files:
            raise DataError(
                f"Directory {raw} holds no data files (CSV, TSV, Parquet, JSON Lines, "
                "XLSX, SQLite or DuckDB)."
            )
        return files
    return [path]


def build_catalog(paths_: list[str]) -> Catalog:
    """Register every source; raise DataError with one sentence for the first bad one."""
    cat = Catalog()
    con = connect()
    taken: set[str] = set()
    loaded: set[str] = set()
    empty: list[str] = []  # files skipped for having no data
    seen: set[str] = set()  # files registered so far

    def need(ext: str) -> None:
        if ext not in loaded:
            stmt = extensions.load_statement(ext)
            con.execute(stmt)
            cat.statements.append(stmt)
            loaded.add(ext)

    def add(base: str, source: Path, detail: str, select: str, note: str = "") -> None:
        name = sanitize(base)
        if name in taken:
            name = sanitize(f"{source.stem}_{base}")
        n = 2
        while name in taken:
            name, n = f"{sanitize(base)}_{n}", n + 1
        taken.add(name)
        select, converted = types.retype(con, select)
        stmt = f"CREATE VIEW {_ident(name)} AS {select}"
        con.execute(stmt)
        cat.statements.append(stmt)
        cat.views.append(View(name, str(source), detail, note, "; ".join(map(str, converted))))
        if note and not any(note in n for n in cat.notes):  # a database's note: once
            cat.notes.append(f"Table {name} ({source.name}): {note}")

    for raw in paths_:
        # A file named twice (or by a folder and again by name) is registered once.
        files = [f for f in dict.fromkeys(f.resolve() for f in expand(raw)) if str(f) not in seen]
        seen.update(map(str, files))
        # A folder of Parquet files is one dataset (often hive-partitioned): one view.
        parquet = [f for f in files if KINDS.get(f.suffix.lower()) == "parquet"]
        if len(parquet) > 1 and Path(raw).expanduser().is_dir():
            files = [f for f in files if f not in parquet]
            for f in parquet:
                _check_readable(f, str(f))
                cat.sources.append(str(f))
            listing = "[" + ", ".join(_quote(str(f)) for f in parquet) + "]"
            base = Path(raw).expanduser().resolve()
            try:
                add(
                    base.name,
                    base,
                    f"{len(parquet)} Parquet files",
                    f"SELECT * FROM read_parquet({listing}, union_by_name=true, "
                    "hive_partitioning=true)",
                )
            except duckdb.Error as e:
                raise DataError(f"Parquet files in {raw} cannot be read: {_first_line(e)}.") from e
        for path in files:
            label = raw if path == Path(raw).expanduser().resolve() else str(path)
            try:
                _add_file(cat, con, path, label, add, need)
            except EmptySource as e:
                if label == raw:  # named on its own: nothing to analyze is an error
                    raise
                cat.sources.remove(str(path))
                cat.notes.append(f"{e} It was skipped.")
                empty.append(path.name)
    if not cat.views:
        raise DataError(f"No source holds any data (empty: {', '.join(empty)}).")
    con.close()
    return cat


def _check_readable(path: Path, label: str) -> bytes:
    try:
        with path.open("rb") as f:
            head = f.read(65536)
    except OSError as e:
        raise DataError(f"Source {label} cannot be read: {e.strerror}.") from e
    if not head:
        raise EmptySource(f"Source {label} is empty.")
    return head


# Below this size a CSV is read by one thread: DuckDB's parallel scanner cannot pad ragged
# rows (null_padding) in a file with quoted newlines, and small files gain little from it.
SERIAL_CSV_BYTES = 64 << 20


def _csv_options(con, path: Path, encoding: str) -> tuple[str, str]:
    """read_csv options, and a note on what they skip: lenient about ragged rows, in the
    dialect DuckDB's strict sniffer finds, from the header down. Sniffing with strict_mode
    off can go badly wrong: a file with "" escapes and quoted newlines came out as 69
    columns and 1 row. Sniffing strictly goes wrong the other way on ragged rows (one
    column, split on nothing): when the strict sniff sees a single column and the lenient
    one several, the lenient options sniff on their own."""
    enc = f", encoding={_quote(encoding)}" if encoding != "utf-8" else ""
    opts = CSV_OPTIONS + enc
    if path.stat().st_size <= SERIAL_CSV_BYTES:
        opts += ", parallel=false"

    def sniff(extra: str) -> tuple | None:
        try:
            return con.execute(
                "SELECT Delimiter, Quote, Escape, SkipRows, HasHeader, len(Columns), "
                "DateFormat, len(list_filter(Columns, c -> c.type = 'DATE')) "
                f"FROM sniff_csv({_quote(str(path))}{enc}{extra})"
            ).fetchone()
        except duckdb.Error:
            return None

    strict = sniff("")
    if strict is None or (strict[5] < 2 and (sniff(", " + CSV_OPTIONS) or strict)[5] > 1):
        return opts, ""
    delim, quote, escape, skip, header = strict[:5]
    read, note = strict, ""
    if not header and not skip:
        # A title above the header (a spreadsheet export's "Sales report,,,,"): DuckDB sees
        # no header, and reads every column as text and the header as a row of data. Found
        # as in a workbook; DuckDB must then see a header below it, as wide as the table.
        rows = _first_rows(path, encoding, delim, quote)
        title = workbook.header_row(rows, _is_name) or 0
        below = sniff(f", skip={title}") if title else None
        if below is not None and below[4] and below[5] == strict[5]:
            skip, header, read = title, True, below
            note = workbook.as_note(workbook.skipped_rows(rows, title))
    layout = f", header={'true' if header else 'false'}, skip={int(skip)}"
    opts += f", delim={_quote(delim)}{layout}"
    for name, value in (("quote", quote), ("escape", escape)):
        if value != "(empty)":
            opts += f", {name}={_quote(value)}"
    dates = _date_format(read[6], lambda fmt: sniff(f"{layout}, dateformat={_quote(fmt)}"))
    if dates:
        opts += f", dateformat={_quote(dates)}"
    return opts, note


# A date format that opens with the day and the month as numbers, in either order
# ("%d/%m/%Y"); a year first ("%Y-%m-%d") is never read day first.
_DAY_MONTH = re.compile(r"%([dm])([^%\w])%([dm])(\2%[Yy].*)", re.DOTALL)


def _date_format(found: str | None, sniff) -> str | None:
    """The date format to read a CSV with when DuckDB's choice (`found`) is one of
    day/month and month/day (None: keep DuckDB's); `sniff(format)` reads the file with one.
    DuckDB picks one format for the whole file from the first values it parses: "10/1/2016"
    made it read day first, so 10 January, and the next column, "9/30/2017", stayed text.
    The order that reads more columns as dates wins, and month first where both read as
    many (pandas' reading, and the US one): a file whose days are all 12 or less says
    nothing either way."""
    m = _DAY_MONTH.fullmatch(found or "")
    if found is None or m is None or m.group(1) == m.group(3):
        return None
    first, sep, second, rest = m.groups()
    swapped = f"%{second}{sep}%{first}{rest}"
    month_first = {found: first == "m", swapped: second == "m"}
    counts = {}
    for fmt in month_first:
        read = sniff(fmt)
        counts[fmt] = read[7] if read else -1
    return max(counts, key=lambda fmt: (counts[fmt], month_first[fmt]))


def _first_rows(path: Path, encoding: str, delim: str, quote: str) -> list[list[object]]:
    """A CSV's first rows as Python's csv module reads them ([] if it cannot)."""
    q = quote if quote != "(empty)" else '"'
    try:
        text = "utf-8-sig" if encoding == "utf-8" else encoding  # no BOM in the first cell
        with path.open(encoding=text, errors="replace", newline="") as f:
            rows = csv.reader(io.StringIO(f.read(1 << 16)), delimiter=delim, quotechar=q)
            return [list(r) for r, _ in zip(rows, range(workbook.SCAN_ROWS), strict=False)]
    except (OSError, csv.Error, TypeError):
        return []


def _is_name(value: object) -> bool:
    try:
        float(str(value).replace(",", ""))
    except ValueError:
        return True
    return False


def _add_file(cat: Catalog, con, path: Path, raw: str, add, need) -> None:
    kind = kind_of(path)
    head = _check_readable(path, raw)
    cat.sources.append(str(path))
    q = _quote(str(path))
    try:
        if kind == "csv":
            read_path, encoding = _text_source(path, head, raw)
            if read_path != path:
                cat.derived.append(str(read_path))
            opts, note = _csv_options(con, read_path, encoding)
            add(
                path.stem,
                path,
                "",
                f"SELECT * FROM read_csv({_quote(str(read_path))}, {opts})",
                note,
            )
        elif kind == "parquet":
            add(path.stem, path, "", f"SELECT * FROM read_parquet({q})")
        elif kind == "json":
            add(path.stem, path, "", f"SELECT * FROM read_json_auto({q})")
        elif kind == "xlsx":
            if head.startswith(OLE_MAGIC):
                raise DataError(_ole_problem(path, raw))
            need("excel")
            sheets, skipped = workbook.layouts(path, raw)
            cat.notes += skipped
            for sheet in sheets:
                select = _whole_numbers_as_integers(con, workbook.select(con, path, sheet))
                select = _blank_text_as_null(con, select)
                add(sheet.sheet, path, sheet.sheet, select, sheet.note)
        elif kind in ("sqlite", "duckdb"):
            if kind == "sqlite" and head.startswith(b"DUCK", 8):
                kind = "duckdb"
            if kind == "sqlite" and not head.startswith(b"SQLite format 3\x00"):
                raise DataError(f"Source {raw} is not a SQLite database.")
            alias = sanitize(f"src_{len(cat.sources)}_{path.stem}")
            note = ""
            if kind == "sqlite":
                need("sqlite")
                if locked.is_locked(path):  # DuckDB would wait, then fail
                    copy, note = locked.snapshot(path, raw)
                    cat.derived.append(str(copy))
                    cat.notes.append(note)
                    q = _quote(str(copy))
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
                raise EmptySource(f"Source {raw} holds no tables.")
            for (table,) in tables:
                add(table, path, table, f"SELECT * FROM {_ident(alias)}.{_ident(table)}", note)
    except duckdb.Error as e:
        detail = _first_line(e)
        if "file is not a database" in detail or "malformed" in detail:
            raise DataError(f"Source {raw} is a damaged {kind} database.") from e
        raise DataError(f"Source {raw} cannot be read as {kind}: {detail}.") from e


def _whole_numbers_as_integers(con, select: str) -> str:
    """Excel stores every number as a double, so ids and counts would read 100001.0; a
    column whose values are all whole numbers is typed BIGINT instead. Workbooks are small
    enough to check every value."""
    columns = [r[0] for r in con.execute(f"DESCRIBE {select}").fetchall() if r[1] == "DOUBLE"]
    if not columns:
        return select
    checks = ", ".join(
        f"coalesce(bool_and({_ident(c)} = trunc({_ident(c)}) AND abs({_ident(c)}) < 9e15), false)"
        for c in columns
    )
    whole = con.execute(f"SELECT {checks} FROM ({select})").fetchone()
    casts = [
        f"CAST({_ident(c)} AS BIGINT) AS {_ident(c)}"
        for c, ok in zip(columns, whole, strict=True)
        if ok
    ]
    if not casts:
        return select
    return f"SELECT * REPLACE ({', '.join(casts)}) FROM ({select})"


def _blank_text_as_null(con, select: str) -> str:
    """A workbook's empty text cells read as '' (a sheet written from a table with gaps),
    where a CSV's read as missing: "How many visits had no insurer?" counted 0 of 300
    with `isna()`. Text that is empty or only spaces is read as missing, as in a CSV."""
    columns = [r[0] for r in con.execute(f"DESCRIBE {select}").fetchall() if r[1] == "VARCHAR"]
    if not columns:
        return select
    blanks = [f"nullif(trim({_ident(c)}), '') IS NULL AND {_ident(c)} IS NOT NULL" for c in columns]
    found = con.execute(
        "SELECT " + ", ".join(f"bool_or({b})" for b in blanks) + f" FROM ({select})"
    ).fetchone()
    nulls = [
        f"CASE WHEN trim({_ident(c)}) = '' THEN NULL ELSE {_ident(c)} END AS {_ident(c)}"
        for c, blank in zip(columns, found, strict=True)
        if blank
    ]
    return f"SELECT * REPLACE ({', '.join(nulls)}) FROM ({select})" if nulls else select


def _ole_problem(path: Path, raw: str) -> str:
    # Encrypted OOXML is wrapped in an OLE container holding an "EncryptedPackage" stream.
    with path.open("rb") as f:
        blob = f.read(64 << 20)
    if "EncryptedPackage".encode("utf-16-le") in blob:
        return f"Source {raw} is password-protected; save an unprotected copy and pass that."
    return f"Source {raw} is an old-format Excel file (.xls) named .xlsx; save it as .xlsx."


def _text_source(path: Path, head: bytes, raw: str) -> tuple[Path, str]:
    """The file DuckDB should read for this CSV, and its encoding. UTF-8 and UTF-16 are
    read in place, and so is Latin-1 without C1 bytes; a CP1252 file (curly quotes, €) is
    transcoded once into a cached UTF-8 copy, since DuckDB rejects those bytes."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return path, "utf-16"
    if b"\x00" in head:
        raise DataError(f"Source {raw} is binary data, not a text table.")
    st = path.stat()
    key = hashlib.sha256(f"{path}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:24]
    memo = paths.derived_dir() / "encodings" / f"{key}.json"
    if memo.is_file():
        found = json.loads(memo.read_text())
        if found["path"] == str(path) or Path(found["path"]).is_file():
            return Path(found["path"]), found["encoding"]
    read_path, encoding = path, _sniff_encoding(path)
    if encoding == "cp1252":
        read_path = memo.with_suffix(".csv")
        paths.ensure(read_path.parent)
        _transcode(path, read_path, "cp1252")
        encoding = "utf-8"
    paths.ensure(memo.parent)
    memo.write_text(json.dumps({"path": str(read_path), "encoding": encoding}))
    return read_path, encoding


def _sniff_encoding(path: Path) -> str:
    decoder = codecs.getincrementaldecoder("utf-8")()
    c1 = False  # bytes 0x80-0x9f: control codes in Latin-1, printable in CP1252
    utf8 = True
    with path.open("rb") as f:
        while chunk := f.read(16 << 20):
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
            if not utf8:
                c1 = c1 or re.search(rb"[\x80-\x9f]", chunk) is not None
                if c1:
                    break
    if utf8:
        return "utf-8"
    return "cp1252" if c1 else "latin-1"


def _transcode(src: Path, dst: Path, encoding: str) -> None:
    tmp = dst.with_suffix(".tmp")
    with (
        src.open(encoding=encoding, errors="replace", newline="") as fin,
        tmp.open("w", encoding="utf-8", newline="") as fout,
    ):
        while chunk := fin.read(4 << 20):
            fout.write(chunk)
    tmp.replace(dst)


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0].rstrip(".")
