import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import msoffcrypto
import pandas as pd
import pytest
from conftest import SALES, WAREHOUSE, answer_step, run_da, sha256
from msoffcrypto.format.ooxml import OOXMLFile

from da_cli.data.catalog import MISSING_MARKERS as MISSING
from da_cli.data.catalog import build_catalog, sanitize
from da_cli.data.profile import profile, render
from da_cli.errors import DataError


def test_every_xlsx_sheet_is_a_view():
    cat = build_catalog([str(SALES)])
    assert [v.name for v in cat.views] == ["orders", "products", "regions"]
    con = cat.connect()
    assert con.execute("SELECT count(*) FROM orders").fetchone()[0] == 5319


def test_every_sqlite_table_is_a_view_and_read_only():
    cat = build_catalog([str(WAREHOUSE)])
    names = {v.name for v in cat.views}
    assert {"customers", "orders", "order_items", "products"} <= names
    alias = next(s for s in cat.statements if s.startswith("ATTACH")).split(" AS ")[1].split()[0]
    con = cat.connect()
    with pytest.raises(duckdb.Error, match="read-only|read only"):
        con.execute(f"CREATE TABLE {alias}.x(i INT)")


def test_colliding_names_get_the_file_stem(tmp_path):
    (tmp_path / "orders.csv").write_text("a,b\n1,2\n")
    cat = build_catalog([str(SALES), str(tmp_path / "orders.csv")])
    assert "orders" in [v.name for v in cat.views]
    assert "orders_orders" in [v.name for v in cat.views]


def test_profile_shows_real_columns_and_counts():
    text = render(profile(build_catalog([str(SALES)])))
    for name in ("order_date", "region", "channel", "revenue", "5,319 rows"):
        assert name in text
    assert "West" in text


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.csv", None, "does not exist"),
        ("empty.csv", b"", "is empty"),
        ("x.foo", b"1", "unknown file type"),
        ("old.xls", b"1", "old-format Excel"),
        ("bad.xlsx", b"not a zip at all", "not a readable XLSX"),
        ("garbage.csv", bytes(range(256)) * 40, "binary data"),
        ("garbage.db", b"\x13\x37" * 2000, "not a SQLite database"),
        ("damaged.db", b"SQLite format 3\x00" + b"\xff" * 4000, "damaged sqlite database"),
        ("", None, "holds no data files"),
        ("*.parquet", None, "matches no data files"),
    ],
)
def test_bad_sources_raise_one_sentence(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message) as err:
        build_catalog([str(path)])
    assert "\n" not in str(err.value)


def test_sqlite_without_tables_is_a_data_error(tmp_path):
    db = tmp_path / "empty.db"
    sqlite3.connect(db).execute("PRAGMA user_version = 1").connection.close()
    with pytest.raises(DataError):
        build_catalog([str(db)])


def test_sanitize_names():
    assert sanitize("Q3 Sales (EU)") == "q3_sales_eu"
    assert sanitize("2024") == "t_2024"


def test_accented_letters_stay_in_table_names(tmp_path):
    assert sanitize("été") == "été"
    assert sanitize("Ventes Année 2024") == "ventes_année_2024"
    assert sanitize("Ｑ３ ﬁnance") == "q3_finance"  # NFKC, as Python reads identifiers
    (tmp_path / "été.csv").write_text("x\n1\n")
    cat = build_catalog([str(tmp_path / "été.csv")])
    assert [v.name for v in cat.views] == ["été"]
    assert cat.connect().execute("SELECT x FROM été").fetchone() == (1,)


def test_a_file_named_twice_is_one_table(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "p.csv").write_text("x\n1\n")
    cat = build_catalog([str(folder / "p.csv"), str(folder / "p.csv"), str(folder)])
    assert [v.name for v in cat.views] == ["p"]
    assert cat.sources == [str(folder / "p.csv")]


def test_two_files_of_one_name_each_say_their_own_file(tmp_path):
    for year in ("2024", "2025"):
        (tmp_path / year).mkdir()
        (tmp_path / year / "sales.csv").write_text(f"year\n{year}\n")
    cat = build_catalog(
        [str(tmp_path / "2024" / "sales.csv"), str(tmp_path / "2025" / "sales.csv")]
    )
    text = render(profile(cat))
    assert "Table `sales` (1 rows) from 2024/sales.csv" in text
    assert "Table `sales_sales` (1 rows) from 2025/sales.csv" in text


def _rows(path) -> list[tuple]:
    cat = build_catalog([str(path)])
    return cat.connect().execute(f'SELECT * FROM "{cat.views[0].name}"').fetchall()


def test_header_only_csv_is_an_empty_table(tmp_path):
    (tmp_path / "h.csv").write_text("a,b,c\n")
    cat = build_catalog([str(tmp_path / "h.csv")])
    assert _rows(tmp_path / "h.csv") == []
    assert "0 rows" in render(profile(cat))


def test_ragged_rows_are_padded_not_refused(tmp_path):
    (tmp_path / "r.csv").write_text("a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n")
    rows = _rows(tmp_path / "r.csv")
    assert len(rows) == 4
    assert rows[1][:3] == (4, 5, None)


def test_a_title_above_a_csv_header_is_skipped_and_said(tmp_path):
    # A spreadsheet exported as CSV keeps its title: DuckDB saw no header, read every
    # column as text and the header as a row of data.
    body = "".join(f"{r},{REGIONS[r % 4]},{r * 2.5},\n" for r in range(30))
    path = tmp_path / "report.csv"
    path.write_text("\ufeffSales report 2025,,,\nunits,region,revenue,\n" + body, encoding="utf-8")
    cat = build_catalog([str(path)])
    got = cat.connect().execute(f"SELECT * FROM {cat.views[0].name}")
    assert [d[0] for d in got.description][:3] == ["units", "region", "revenue"]
    rows = got.fetchall()
    assert len(rows) == 30 and rows[3][:3] == (3, "West", 7.5)
    text = render(profile(cat))
    assert 'Note: 1 row was skipped above the header (a title: "Sales report 2025")' in text
    assert "the header is row 2" in text


def test_a_csv_of_numbers_without_a_header_is_read_from_its_first_row(tmp_path):
    # A first row with a gap is no title when no row below it reads as names.
    (tmp_path / "n.csv").write_text(",1,2\n" + "".join(f"{i},{i * 2},{i * 3}\n" for i in range(20)))
    cat = build_catalog([str(tmp_path / "n.csv")])
    assert len(_rows(tmp_path / "n.csv")) == 21 and not cat.views[0].note


@pytest.mark.parametrize(
    "start, end, read",
    [
        # DuckDB read "10/1/2016" day first (10 January) and left "9/30/2017" as text.
        ("10/1/2016", "9/30/2017", ("2016-10-01", "2017-09-30")),
        ("13/1/2016", "30/9/2017", ("2016-01-13", "2017-09-30")),  # day first, and only so
        ("10/1/2016", "9/3/2017", ("2016-10-01", "2017-09-03")),  # either: month first
    ],
)
def test_slashed_dates_are_read_in_the_order_that_reads_them_all(tmp_path, start, end, read):
    path = tmp_path / "budget.csv"
    path.write_text("dept,start,end\n" + "".join(f"d{i},{start},{end}\n" for i in range(5)))
    rows = _rows(path)
    assert [(str(r[1]), str(r[2])) for r in rows] == [read] * 5


def test_the_strings_pandas_reads_as_missing_are_missing_and_none_stays_a_word(tmp_path):
    # A price column with one 'null' was text to DuckDB: every mean and corr over it failed,
    # and load() disagreed with pd.read_csv. "None" can be a category, so it stays text.
    csv = tmp_path / "prices.csv"
    csv.write_text(
        "day,close,region,allergy\n1,10.5,EU,None\n2,null,NA,None\n3,N/A,,nuts\n4,12.0,US,\n"
    )
    catalog = build_catalog([str(csv)])
    frame = catalog.connect().sql("SELECT * FROM prices").df()
    assert frame["close"].dtype.kind == "f" and frame["close"].isna().sum() == 2
    assert frame["region"].isna().tolist() == [False, True, True, False]
    assert frame["allergy"].tolist()[:3] == ["None", "None", "nuts"]
    assert frame.equals(pd.read_csv(csv, keep_default_na=False, na_values=list(MISSING)))
    assert "- close (DOUBLE): 10.5 .. 12.0, 50% null" in render(profile(catalog, cache=False))


def test_timestamps_with_a_time_zone_profile_and_load(tmp_path):
    # "2017-01-01T00:00:00Z" is TIMESTAMP WITH TIME ZONE to DuckDB, whose conversion to pandas
    # needs pytz, which pandas 3 no longer installs: every question on such a file failed.
    csv = tmp_path / "weather.csv"
    csv.write_text("time,temperature\n2017-01-01T00:00:00Z,-1.7\n2017-01-01T00:10:00Z,-1.5\n")
    catalog = build_catalog([str(csv)])
    assert "time" in render(profile(catalog, cache=False))
    frame = catalog.connect().sql("SELECT * FROM weather").df()
    assert frame["time"].dt.tz is not None and len(frame) == 2


def test_quoted_newlines_and_apostrophes_keep_their_columns(tmp_path):
    # Like a news-articles export: "" escapes, apostrophes and newlines inside quoted text.
    # DuckDB's lenient sniffer took ' for the quote here (19 columns, a garbled header), and
    # its parallel scanner refused null_padding with quoted newlines.
    import random

    import pandas as pd

    rng = random.Random(1)
    words = "it's the company's new app, isn't it? users' 'verified' badge, plus {{x}} and "
    words += '"GMA" got a look'
    pool = words.split()

    def text() -> str:
        return "\n".join(" ".join(rng.choice(pool) for _ in range(40)) for _ in range(3))

    n = 10
    frame = pd.DataFrame(
        {
            "author": ["ABC News"] * n,
            "description": [
                f'An "about this account" feature for user {i}, it\'s new' for i in range(n)
            ],
            "text": [text() for _ in range(n)],
            "neg": [0.1 * i for i in range(n)],
        }
    )
    frame.to_csv(tmp_path / "articles.csv", index=True)
    cat = build_catalog([str(tmp_path / "articles.csv")])
    got = cat.connect().execute('SELECT * FROM "articles" ORDER BY 1').df()
    assert list(got.columns)[1:] == ["author", "description", "text", "neg"]
    assert len(got) == n and list(got["text"]) == list(frame["text"])


def test_a_ten_megabyte_field_is_read(tmp_path):
    (tmp_path / "big.csv").write_text("id,text\n1," + "x" * 10_000_000 + "\n2,short\n")
    rows = _rows(tmp_path / "big.csv")
    assert len(rows[0][1]) == 10_000_000 and rows[1] == (2, "short")


def test_latin1_and_cp1252_csv_are_read(tmp_path):
    (tmp_path / "l.csv").write_bytes("name,city\nJosé,São Paulo\n".encode("latin-1"))
    assert _rows(tmp_path / "l.csv") == [("José", "São Paulo")]
    (tmp_path / "w.csv").write_bytes("name,price\n“quoted”,€5\n".encode("cp1252"))
    cat = build_catalog([str(tmp_path / "w.csv")])
    assert cat.connect().execute("SELECT * FROM w").fetchall() == [("“quoted”", "€5")]
    assert cat.derived and Path(cat.derived[0]).parent != tmp_path  # a copy, elsewhere


def test_password_protected_xlsx_is_one_sentence(tmp_path):
    with open(SALES, "rb") as plain, open(tmp_path / "locked.xlsx", "wb") as out:
        OOXMLFile(plain).encrypt("secret", out)
    with open(tmp_path / "locked.xlsx", "rb") as f:
        assert msoffcrypto.OfficeFile(f).is_encrypted()
    with pytest.raises(DataError, match="password-protected"):
        build_catalog([str(tmp_path / "locked.xlsx")])


WRITER = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN EXCLUSIVE")
con.execute("INSERT INTO t VALUES (-1)")
print("locked", flush=True)
sys.stdin.read()  # hold the lock until the test closes stdin
con.execute("ROLLBACK")
"""


def test_sqlite_locked_by_a_writer_in_another_process_is_still_read(tmp_path):
    # POSIX locks do not block their owner, so the writer must be another process.
    db = tmp_path / "busy.db"
    setup = sqlite3.connect(db)
    setup.execute("CREATE TABLE t (i INTEGER)")
    setup.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(100)])
    setup.commit()
    setup.close()
    before = sha256(db)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert writer.stdout.readline() == b"locked\n"
        start = time.monotonic()
        cat = build_catalog([str(db)])
        rows = cat.connect().execute("SELECT count(*), min(i) FROM t").fetchone()
        assert time.monotonic() - start < 8
    finally:
        writer.communicate(timeout=10)
    assert rows == (100, 0)  # the committed state, without the writer's row
    assert "was locked by another program" in render(profile(cat))
    assert "was locked by another program" in cat.notes[0]
    assert sha256(db) == before


def test_directory_and_glob_sources(tmp_path):
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.csv").write_text("y\n2\n")
    (tmp_path / ".hidden.csv").write_text("z\n3\n")
    (tmp_path / "notes.md").write_text("not data")
    assert [v.name for v in build_catalog([str(tmp_path)]).views] == ["a", "b"]
    assert [v.name for v in build_catalog([str(tmp_path / "*.csv")]).views] == ["a"]


def test_folder_of_parquet_is_one_view(tmp_path):
    con = duckdb.connect()
    for year in (2024, 2025):
        part = tmp_path / "sales" / f"year={year}"
        part.mkdir(parents=True)
        con.execute(f"COPY (SELECT range AS i FROM range(10)) TO '{part}/p.parquet'")
    cat = build_catalog([str(tmp_path / "sales")])
    assert [v.name for v in cat.views] == ["sales"]
    got = cat.connect().execute("SELECT year, count(*) FROM sales GROUP BY 1 ORDER BY 1")
    assert got.fetchall() == [(2024, 10), (2025, 10)]


def test_a_fifo_source_is_refused_at_once_with_the_data_exit_code(tmp_path, replay):
    # Opening a FIFO to sniff it blocks until a writer appears, i.e. forever.
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    r = run_da("analyze", str(fifo), "q", "--model", replay(answer_step("x")), timeout=30)
    assert r.returncode == 3, r.stderr
    assert "not a regular file" in r.stderr
    assert "Traceback" not in r.stderr


def _workbook(path: Path, rows: list[list], title: str | None = None) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Report"
    if title:
        ws.append([title])
        ws.merge_cells("A1:D1")
        ws.append(["Prepared by finance, March 2025"])
        ws.merge_cells("A2:D2")
        ws.append([])
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


REGIONS = ["North", "South", "East", "West"]
TABLE = [["region", "month", "units", "revenue"]] + [
    [REGIONS[i % 4], f"2025-{i % 12 + 1:02d}", i, i * 10.5] for i in range(40)
]


def test_a_title_above_the_header_is_skipped_and_said(tmp_path):
    cat = build_catalog([str(_workbook(tmp_path / "t.xlsx", TABLE, title="Sales report 2025"))])
    (view,) = cat.views
    got = cat.connect().execute(f"SELECT * FROM {view.name}")
    assert [d[0] for d in got.description] == ["region", "month", "units", "revenue"]
    assert len(got.fetchall()) == 40
    text = render(profile(cat))
    assert 'Note: 2 rows were skipped above the header (a title: "Sales report 2025")' in text
    assert "the header is row 4" in text


def test_a_blank_row_inside_a_sheet_does_not_end_it(tmp_path):
    rows = TABLE[:21] + [[]] + TABLE[21:]
    assert len(_rows(_workbook(tmp_path / "gap.xlsx", rows))) == 40


def test_empty_text_cells_of_a_sheet_read_as_missing_as_in_a_csv(tmp_path):
    # A sheet written from a table with gaps held '' where its CSV held nothing:
    # "How many visits had no insurer?" counted 0 of 300.
    rows = [["visit", "insurer", "fee"], [1, "Public", 10.5], [2, "", 11.0], [3, "  ", 9.0]]
    rows += [[4, None, 8.0], [5, "Vita", 7.5]]
    got = _rows(_workbook(tmp_path / "visits.xlsx", rows))
    assert [r[1] for r in got] == ["Public", None, None, None, "Vita"]
    assert got[0] == (1, "Public", 10.5)  # numbers and filled text as they were


def test_a_sheet_without_a_header_row_says_so(tmp_path):
    cat = build_catalog([str(_workbook(tmp_path / "n.xlsx", [r[2:] for r in TABLE[1:]]))])
    assert "looks like a header" in cat.views[0].note
    assert "Note: " in render(profile(cat))


def test_formulas_without_saved_values_say_why_the_sheet_is_empty(tmp_path):
    rows = [["a", "b", "total"]] + [[i, f"=A{i + 1}*2", f"=A{i + 1}+B{i + 1}"] for i in range(1, 6)]
    rows = [rows[0]] + [[f"=ROW()*{i}", *r[1:]] for i, r in enumerate(rows[1:], 1)]
    cat = build_catalog([str(_workbook(tmp_path / "calc.xlsx", rows))])
    text = render(profile(cat))
    assert "(0 rows)" in text
    assert "15 formula cells among the first rows have no saved value" in text


def test_an_empty_workbook_in_a_directory_is_skipped_with_a_note(tmp_path):
    from openpyxl import Workbook

    Workbook().save(tmp_path / "empty.xlsx")
    (tmp_path / "a.csv").write_text("x\n1\n")
    cat = build_catalog([str(tmp_path)])
    assert [v.name for v in cat.views] == ["a"]
    assert cat.sources == [str(tmp_path / "a.csv")]
    assert cat.notes == [
        f"Source {tmp_path / 'empty.xlsx'} has no sheet with data. It was skipped."
    ]
    with pytest.raises(DataError, match="has no sheet with data"):
        build_catalog([str(tmp_path / "empty.xlsx")])  # named on its own, it is an error
