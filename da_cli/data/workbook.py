"""Where the table is on each sheet of an XLSX workbook, and what reading it will lose.

DuckDB's `read_xlsx` takes the first row as the header and stops at the first empty row.
Real workbooks open with a title (often merged across the table) and a blank line, so a
40 x 4 table came out as one column of a few rows, without a word. Here the first rows of
each sheet are read with openpyxl to find the header: the first row, all text, that spans
most of the table's width (a title or a merged banner fills one or two cells). The sheet is
then read from that row down to its last row, blank lines kept out, and every guess that
changes or may lose something is said in a note. Formula cells a program wrote without
computing them have no saved value: that is said too, since such a sheet reads as empty.
"""

import math
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from openpyxl.utils import get_column_letter

from da_cli.errors import DataError, EmptySource

SCAN_ROWS = 30  # the header must be among a sheet's first rows
EXCEL_ROWS = 1_048_576  # the last row of a sheet, for a sheet that does not say its size
HEADER_SHARE = 0.6  # a header fills at least this share of the table's widest row


@dataclass(frozen=True)
class SheetLayout:
    sheet: str
    range: str  # "B4:F120": header row to last row, first to last column
    header: bool | None  # True: the first row of `range` holds the names; None: DuckDB guesses
    note: str = ""  # what was skipped or cannot be trusted, for the profile; "" if nothing


def layouts(path: Path, raw: str) -> tuple[list[SheetLayout], list[str]]:
    """The table on each sheet with data, and notes on sheets skipped as empty. Raises
    EmptySource when no sheet holds any data."""
    from openpyxl import load_workbook

    try:
        values = load_workbook(path, read_only=True, data_only=True)
        formulas = load_workbook(path, read_only=True, data_only=False)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as e:
        raise DataError(f"Source {raw} is not a readable XLSX workbook.") from e
    found: list[SheetLayout] = []
    skipped: list[str] = []
    try:
        for ws, wf in zip(values.worksheets, formulas.worksheets, strict=True):
            layout = _layout(ws, wf)
            if layout is None:
                skipped.append(f"Sheet {ws.title} of {path.name} is empty; it was skipped.")
            else:
                found.append(layout)
    finally:
        values.close()
        formulas.close()
    if not found:
        raise EmptySource(f"Source {raw} has no sheet with data.")
    return found, skipped


def _filled(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def header_row(rows: list[list[object]], is_name: Callable[[object], bool]) -> int | None:
    """The index of the first row that reads as a header: every filled cell a name, across
    most of the widest row's width (a title or a merged banner fills one or two cells)."""
    filled = [[i for i, v in enumerate(r) if _filled(v)] for r in rows]
    widest = max((len(f) for f in filled), default=0)
    need = max(1, min(2, widest), math.ceil(HEADER_SHARE * widest))
    return next(
        (i for i, f in enumerate(filled) if len(f) >= need and all(is_name(rows[i][j]) for j in f)),
        None,
    )


def skipped_rows(rows: list[list[object]], header_at: int) -> list[str]:
    """What reading the table from row `header_at` leaves out above it, for the note."""
    skipped = [i for i in range(header_at) if any(_filled(v) for v in rows[i])]
    if not skipped:
        return []
    first = next(str(v).strip() for v in rows[skipped[0]] if _filled(v))
    what = f"{len(skipped)} rows were" if len(skipped) > 1 else "1 row was"
    notes = [
        f'{what} skipped above the header (a title: "{first[:60]}"); the header is '
        f"row {header_at + 1}"
    ]
    if any(sum(map(_filled, rows[i])) > 1 for i in skipped):
        notes.append(
            "the skipped rows fill more than one cell (a two-row header?): check the column names"
        )
    return notes


def _layout(ws, wf) -> SheetLayout | None:
    rows: list[list[object]] = []
    uncomputed = 0  # formula cells without a saved value
    for row, frow in zip(
        ws.iter_rows(max_row=SCAN_ROWS, values_only=True),
        wf.iter_rows(max_row=SCAN_ROWS, values_only=True),
        strict=False,
    ):
        rows.append(list(row))
        uncomputed += sum(
            1
            for v, f in zip(row, frow, strict=False)
            if v is None and isinstance(f, str) and f.startswith("=")
        )
    filled = [[i for i, v in enumerate(r) if _filled(v)] for r in rows]
    if not any(filled) and not uncomputed:
        return None
    widest = max((len(f) for f in filled), default=0)
    found = header_row(rows, lambda v: isinstance(v, str))
    notes: list[str] = []
    if found is None:
        # No row is all text and wide enough: a table without a header, or a layout this
        # cannot read. Read it from its first row, as DuckDB would, and say so.
        header_at = next(i for i, f in enumerate(filled) if f) if any(filled) else 0
        header = None
        if widest > 1:
            notes.append(
                f"no row among the first {len(rows)} looks like a header (a row of names "
                "across the table), so the sheet was read from its first row; check the "
                "column names"
            )
    else:
        header_at, header = found, True
    notes += skipped_rows(rows, header_at)
    columns = [j for f in filled[header_at:] for j in f] or [0]
    first_col, last_col = min(filled[header_at] or columns), max(columns)
    # The size the sheet declares, unless the rows already read contradict it.
    last_row = ws.max_row if ws.max_row and ws.max_row >= len(rows) else EXCEL_ROWS
    if uncomputed:
        notes.append(
            f"{uncomputed} formula cell{'s' if uncomputed > 1 else ''} among the first rows "
            "have no saved value (the file was written by a program that does not calculate "
            "formulas), so they read as empty; open and save it in Excel or LibreOffice"
        )
    cells = (
        f"{get_column_letter(first_col + 1)}{header_at + 1}:"
        f"{get_column_letter(last_col + 1)}{last_row}"
    )
    return SheetLayout(ws.title, cells, header, as_note(notes))


def as_note(notes: list[str]) -> str:
    """Clauses joined into the one sentence a view's note is ("" for none)."""
    note = "; ".join(notes)
    return note[:1].upper() + note[1:] + "." if note else ""


def select(con, path: Path, layout: SheetLayout) -> str:
    """SQL reading the sheet's table: from its header row to its last row, without the
    blank rows (read_xlsx would otherwise stop at the first one and drop the rest)."""
    q = "'" + str(path).replace("'", "''") + "'"
    sheet = "'" + layout.sheet.replace("'", "''") + "'"
    options = f"sheet={sheet}, range='{layout.range}', stop_at_empty=false"
    if layout.header is not None:
        options += f", header={str(layout.header).lower()}"
    read = f"SELECT * FROM read_xlsx({q}, {options})"
    columns = [r[0] for r in con.execute(f"DESCRIBE {read}").fetchall()]
    kept = " OR ".join('"' + c.replace('"', '""') + '" IS NOT NULL' for c in columns)
    return f"{read} WHERE {kept}" if kept else read
