"""Planted causes of a change (tests/planted.py): `explain_change` alone must name every
key of each cause (and, where a price or a rate was cut, that it moved); `da analyze` with
the embedded model must name them in its answer (slow; two datasets also run as smoke).

The helper is called as the prompt leads the model to call it: the first table the profile
lists for the question, the period as the question says it, the measure as it names it."""

import json
import re

import pytest
from conftest import run_da
from planted import generate, specs

from da_cli.data.catalog import build_catalog
from da_cli.data.drivers import explain_change
from da_cli.data.profile import by_relevance, profile

SPECS = specs(30)
SMOKE = {1020, 1021}  # a price cut with a notes table beside it; untyped SQLite by month


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("planted")


@pytest.mark.parametrize("spec", SPECS, ids=[s.id for s in SPECS])
def test_explain_change_names_the_planted_cause(spec, folder):
    case = generate(spec, folder)
    catalog = build_catalog([str(case.path)])
    table = by_relevance(profile(catalog, cache=False), case.question)[0].name
    assert table.startswith(case.table), "the data table comes first, not the notes"
    report = explain_change(catalog.connect(), table, case.period, measure=case.measure)
    assert report.cause is not None, str(report)
    named = set(report.cause.groups[0].group.split(", "))
    assert named == {f"{k}={v}" for k, v in case.cause.items()}, str(report)
    text = str(report)
    for value in case.cause.values():
        assert value in text.splitlines()[-1], "the summary line names the cause"
    mechanism = report.mechanism[-1]
    if spec.mechanism == "price":
        assert mechanism.moved == "price", str(report)
    else:
        assert mechanism.moved == "volume", str(report)


def _model_params():
    out = []
    for s in SPECS:
        marks = [pytest.mark.slow] + ([pytest.mark.smoke] if s.seed in SMOKE else [])
        out.append(pytest.param(s, marks=marks, id=s.id))
    return out


@pytest.mark.parametrize("spec", _model_params())
def test_embedded_model_names_the_planted_cause(spec, folder):
    case = generate(spec, folder)
    r = run_da("analyze", str(case.path), case.question, "--json")
    assert r.returncode in (0, 6), r.stderr  # 6: a budget ran out, a partial answer printed
    out = json.loads(r.stdout)
    answer = out["answer"]
    missing = [v for v in case.cause.values() if not re.search(re.escape(v), answer, re.I)]
    assert not missing, f"{case.question} -> {answer}"
