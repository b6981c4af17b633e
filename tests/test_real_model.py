"""The real embedded model through the real CLI. Slow (tens of seconds each); `make test`
runs the ones marked smoke, `make test-all` runs them all."""

import json
import re

import pytest
from conftest import SALES, run_da

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


def test_embedded_model_answers_the_demo_question_from_the_data():
    r = run_da("analyze", str(SALES), "why did Q3 drop?", "--json")
    assert r.returncode in (0, 6), r.stderr
    out = json.loads(r.stdout)
    assert out["answer"].strip()
    assert any(t["kind"] == "execute" and not t.get("error") for t in out["turns"])
    outputs = " ".join(t["text"] for t in out["turns"] if t["kind"] == "execute")
    quoted = re.findall(r"\d[\d,.]*\d", out["answer"])
    assert all(q.replace(",", "") in outputs.replace(",", "") for q in quoted if len(q) > 3)
