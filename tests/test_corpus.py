"""The training corpus (train/corpus.py): varied tables from seeds, whole datasets held out,
readable by da, and nothing from the evaluation set."""

import json

from da_cli.data.catalog import build_catalog
from da_cli.synth import guard
from train import corpus


def test_the_corpus_spans_domains_and_formats_and_holds_out_whole_datasets(tmp_path):
    manifest = corpus.build(tmp_path / "a", n=12, seed=3, heldout=0.3)
    assert len({m["domain"] for m in manifest}) == 9
    assert {m["format"] for m in manifest} == {"csv", "xlsx", "sqlite"}
    held = [m for m in manifest if m["split"] == "heldout"]
    assert held and len(held) < len(manifest)
    for m in manifest:  # each dataset's files lie under its own split only
        assert all(f.startswith(m["split"] + "/") for f in m["files"])
    assert json.loads((tmp_path / "a" / "manifest.json").read_text()) == manifest
    # The same seed makes the same files; the split of a dataset never depends on how many
    # others there are.
    again = corpus.build(tmp_path / "b", n=6, seed=3, heldout=0.3)
    assert [m["split"] for m in again] == [m["split"] for m in manifest[:6]]
    first = manifest[0]["files"][0]
    if first.endswith(".csv"):
        assert (tmp_path / "a" / first).read_bytes() == (tmp_path / "b" / first).read_bytes()


def test_every_dataset_reads_in_da_with_missing_values_and_dates(tmp_path):
    manifest = corpus.build(tmp_path, n=9, seed=1)
    guard.check_sources([p for p in tmp_path.rglob("*") if p.is_file()])  # not DABench files
    missing = dated = 0
    for m in manifest:
        files = [tmp_path / f for f in m["files"]]
        catalog = build_catalog([str(files[0].parent)] if len(files) > 1 else [str(files[0])])
        con = catalog.connect()
        assert {v.name for v in catalog.views} >= set(m["tables"]), m["name"]
        for table, rows in m["tables"].items():
            assert con.sql(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] == rows
            cols = con.sql(f'DESCRIBE "{table}"').fetchall()
            dated += any(c[1] in ("DATE", "TIMESTAMP") for c in cols)
            nulls = " + ".join(f'COUNT(*) - COUNT("{c[0]}")' for c in cols)
            missing += con.sql(f'SELECT {nulls} FROM "{table}"').fetchone()[0] > 0
    assert dated >= 9 and missing >= 6
