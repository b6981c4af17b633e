"""Several analyses of one question: run together, each in its own worker, and voted by
the values they state and the evidence behind them."""

import json

from conftest import SALES, answer_step, code_step, run_da

from da_cli.agent import vote
from da_cli.agent.loop import Budget
from da_cli.agent.session import SAMPLE_TEMPERATURE, Session
from da_cli.agent.transcript import Step, Transcript
from da_cli.models.replay import ReplayModel


def analysis(answer: str, outputs: list[str], *, error: bool = False, partial=False):
    t = Transcript("What is the mean price?", [])
    for out in outputs:
        t.steps += [Step("code", "print(x)"), Step("execute", out, error=error)]
    t.answer, t.partial = answer, partial
    t.steps.append(Step("answer", answer, partial=partial))
    return t


def test_values_compare_at_the_precision_written():
    a = vote.values("The mean close price is 570.68.")
    assert vote.agree(a, vote.values("It is about 570.7"))
    assert not vote.agree(a, vote.values("The mean close price is 571.9."))
    assert vote.agree(vote.values("@mean[12.50]"), vote.values("@mean[12.5]"))


def test_named_values_must_match():
    q = "Which region sold the most?"
    west = vote.values("The region West sold the most: 1,204 units.", q)
    assert vote.agree(west, vote.values("Sales peak in West, with 1204 units.", q))
    assert not vote.agree(west, vote.values("The region East sold the most: 1,204 units.", q))
    assert vote.values("@gender[female]").names == {"female"}
    assert vote.values("Yes, it is.").names == {"yes"}


def test_the_supported_majority_wins_and_says_so():
    ts = [
        analysis("The mean price is 42.50.", ["42.5"]),
        analysis("The mean price is 17.", ["17.0"]),
        analysis("The mean price is 42.5.", ["42.5"]),
    ]
    v = vote.choose(ts)
    assert v.groups[0] == [0, 2] and v.winner == 0
    assert v.summary() == "2 of 3 analyses agree (showing analysis 1)."
    assert not v.split and v.to_dict()["agreeing"] == 2


def test_evidence_outweighs_a_number_nobody_computed():
    # Two analyses agree on a number no cell printed; one computed its own: the pair's
    # weight (two ungrounded, failed-cell analyses) must not simply outvote it by count.
    ts = [
        analysis("The mean price is 99.", ["Traceback: KeyError"], error=True, partial=True),
        analysis("The mean price is 42.5.", ["42.5"]),
        analysis("The mean price is 99.", [], partial=True),
    ]
    v = vote.choose(ts)
    assert v.winner == 1
    assert v.split and v.summary().startswith("Split vote: the 3 analyses gave 2 different")


def test_a_tie_goes_to_the_greedy_analysis():
    v = vote.choose([analysis("It is 12.", ["12"]), analysis("It is 15.", ["15"])])
    assert v.winner == 0 and v.split


def script(tmp_path, *outputs: str) -> ReplayModel:
    path = tmp_path / "script.jsonl"
    path.write_text("".join(json.dumps({"text": o}) + "\n" for o in outputs))
    return ReplayModel(path)


def test_a_session_runs_its_analyses_together_each_in_its_own_worker(tmp_path):
    # Lockstep: each round asks every live analysis for one step (the replay plays them in
    # order), and each analysis's variables live in its own worker.
    model = script(
        tmp_path,
        code_step("x = 40"),
        code_step("x = 1"),
        code_step("print(x + 2)"),
        code_step("print(x + 2)"),
        answer_step("The answer is 42."),
        answer_step("The answer is 3."),
    )
    with Session([str(SALES)]) as s:
        s.start("What is the answer?", model, samples=2)
        steps = list(s.run(Budget()))
        executes = [(st.sample, st.text) for st in steps if st.kind == "execute"]
        assert executes == [(0, "x = 40"), (1, "x = 1"), (0, "42"), (1, "3")]
        assert [h["temperature"] for h in model.history[:2]] == [0.0, SAMPLE_TEMPERATURE]
        assert steps[-1].kind == "notice" and "Split vote" in steps[-1].text
        assert s.transcript is s.samples[0] and s.transcript.answer == "The answer is 42."
        assert s.transcript.agreement["samples"] == 2
        assert s.answer_workspace == s.workspace
        assert (s.workspace.parent / "sample-1" / s.workspace.name).is_dir()
        # Cells run at the same time: no two workers may share the file that captures output.
        assert s.sandbox.scratch != s._extra[0].scratch


def test_analyze_samples_flag_records_the_agreement(replay):
    model = replay(
        code_step("print(6 * 7)"),
        code_step("print(40 + 2)"),
        answer_step("It is 42."),
        answer_step("The value is 42."),
    )
    r = run_da("analyze", str(SALES), "What is the value?", "--model", model, "--json", "-k", "2")
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["answer"] == "It is 42."
    assert rec["agreement"]["agreeing"] == 2 and not rec["agreement"]["split"]
    assert "All 2 analyses agree." in r.stderr
    assert "[2/2]" in r.stderr


def test_the_python_api_takes_samples(monkeypatch, tmp_path):
    import da_cli

    model = script(
        tmp_path,
        code_step("print(6 * 7)"),
        code_step("print(40 + 2)"),
        answer_step("It is 42."),
        answer_step("42 it is."),
    )
    result = da_cli.analyze(SALES, "What is the value?", model=model, samples=2, save=False)
    assert result.answer == "It is 42." and result.record["agreement"]["agreeing"] == 2


def test_unsure_runs_the_other_analyses_only_when_the_greedy_answer_is_weak(tmp_path):
    # A clean greedy analysis (its number printed by a cell that ran) is the answer alone:
    # no other analysis, no worker, no vote.
    model = script(tmp_path, code_step("print(6 * 7)"), answer_step("It is 42."))
    with Session([str(SALES)]) as s:
        s.start("What is the answer?", model, samples=3, vote_when="unsure")
        steps = list(s.run(Budget()))
        assert (
            steps[-1].text
            == "The answer's evidence is clean; the other 2 analyses were not needed."
        )
        assert len(model.history) == 2 and s._extra == []
        assert s.samples == [s.transcript] and s.vote is None
        assert s.transcript.agreement is None and s.transcript.answer == "It is 42."


def test_unsure_votes_when_the_greedy_answer_is_weak(tmp_path):
    model = script(
        tmp_path,
        code_step("print(undefined_name)"),
        "It is 17.",  # the budget's forced answer, after a failed cell
        code_step("print(6 * 7)"),
        code_step("print(42)"),
        "It is 42.",
        "The answer is 42.",
    )
    with Session([str(SALES)]) as s:
        s.start("What is the answer?", model, samples=3, vote_when="unsure")
        steps = list(s.run(Budget(max_turns=1)))
        unsure = next(st for st in steps if st.text.startswith("Unsure"))
        assert unsure.text == (
            "Unsure (its last cell failed; the budget forced the answer; no output showed 17): "
            "running 2 more analyses to vote."
        )
        temperatures = [h["temperature"] for h in model.history]
        assert temperatures[:2] == [0.0, 0.0] and set(temperatures[2:]) == {SAMPLE_TEMPERATURE}
        assert [st.sample for st in steps if st.kind == "answer"] == [0, 1, 2]
        assert s.vote is not None and s.vote.groups[0] == [1, 2]
        assert s.transcript is s.samples[1] and s.transcript.answer == "It is 42."
        assert steps[-1].text == "2 of 3 analyses agree (showing analysis 2)."


def test_unsure_leaves_the_others_out_when_the_time_is_spent(tmp_path):
    model = script(tmp_path, "It is 17.")  # forced at once: the timeout has passed
    with Session([str(SALES)]) as s:
        s.start("What is the answer?", model, samples=3, vote_when="unsure")
        steps = list(s.run(Budget(timeout_s=1e-9)))
        assert steps[-1].text.endswith("but the time budget is spent.")
        assert len(model.history) == 1 and s.samples == [s.transcript] and s.vote is None


def test_vote_flag_takes_only_its_values(replay):
    model = replay(code_step("print(6 * 7)"), answer_step("It is 42."))
    args = ("analyze", str(SALES), "What is the value?", "--model", model, "-k", "3")
    r = run_da(*args, "--vote", "unsure", "--json")
    assert r.returncode == 0, r.stderr
    assert "agreement" not in json.loads(r.stdout)  # one clean analysis, nothing voted
    r = run_da(*args, "--vote", "sometimes")
    assert r.returncode == 2 and "sometimes" in r.stderr
