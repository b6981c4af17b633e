"""The real embedded model through the real CLI. Slow (tens of seconds each); `make test`
runs the ones marked smoke, `make test-all` runs them all."""

import json
import re

import pytest
from conftest import SALES, WAREHOUSE, run_da

pytestmark = pytest.mark.slow


@pytest.mark.smoke
def test_embedded_model_counts_the_orders():
    r = run_da("analyze", str(SALES), "-", "--json", stdin="how many orders are there?\n")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["model"] == "qwen2.5-coder-0.5b"
    assert "5319" in out["answer"].replace(",", "")
    assert out["code"], "the answer must come from code that ran"
    assert out["usage"]["format_failures"] == 0


@pytest.mark.smoke
def test_embedded_model_finds_the_planted_cause_of_the_q3_drop():
    # examples/README.md: Q3 2025 fell because West/Retail collapsed (-88.9 %).
    r = run_da("analyze", str(SALES), "why did Q3 drop?", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    answer = out["answer"]
    assert "West" in answer and "Retail" in answer
    assert out["unverified_numbers"] == []
    outputs = " ".join(t["text"] for t in out["turns"] if t["kind"] == "execute")
    for number in re.findall(r"\d[\d,]*\.\d+", answer):
        assert number in outputs, f"{number} is in the answer but in no output"


@pytest.mark.smoke
def test_embedded_model_joins_tables_to_name_the_top_customer():
    # examples/README.md: customer 197, Pioneer Distribution NV, has the most orders (83).
    r = run_da("analyze", str(WAREHOUSE), "which customer has the most orders?", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert "Pioneer Distribution NV" in out["answer"]
    assert "83" in out["answer"]
    assert out["unverified_numbers"] == []
