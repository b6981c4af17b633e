"""The loop as a function over a transcript, in-process with the replay model."""

import json

import pytest
from conftest import SALES, answer_step, code_step

from da_cli.agent import loop
from da_cli.data.catalog import build_catalog
from da_cli.models.replay import ReplayModel
from da_cli.sandbox import Sandbox


@pytest.fixture
def session(tmp_path):
    catalog = build_catalog([str(SALES)])
    with Sandbox(catalog, tmp_path / "ws") as sandbox:

        def run(
            *outputs: str | dict,
            grammar: bool = False,
            question: str = "q?",
            which: tuple[str, list[str]] | None = None,
            named_values: list[tuple[str, str]] | None = None,
            **budget,
        ):
            script = tmp_path / "script.jsonl"
            rows = [o if isinstance(o, dict) else {"text": o} for o in outputs]
            script.write_text("".join(json.dumps(r) + "\n" for r in rows))
            model = ReplayModel(script)
            model.supports_grammar = grammar  # plays what a grammar-bound model wrote
            t = loop.new_transcript(
                question, [SALES], "profile", ["orders"], which=which, named_values=named_values
            )
            steps = list(loop.run(t, model, sandbox, loop.Budget(**budget)))
            return t, steps, model

        yield run


def test_state_persists_from_turn_one_to_turn_three(session):
    t, _, _ = session(
        code_step("x = 20"), code_step("y = 1"), code_step("print(x + y + 21)"), answer_step("42")
    )
    executes = [s for s in t.steps if s.kind == "execute"]
    assert executes[2].text == "42" and t.answer == "42"


def test_each_generation_continues_the_same_assistant_turn(session):
    t, _, model = session(code_step("print(5319)"), answer_step("5319 orders."))
    first, second = model.history
    assert first["continuation"] == ""
    assert second["continuation"].endswith("\n<Execute>\n5319\n</Execute>\n")
    assert second["messages"] == first["messages"]
    assert (
        first["messages"][0]["role"] == "system"
        and "# Instruction" in first["messages"][1]["content"]
    )


def test_a_repeat_is_dropped_and_the_next_step_sampled_in_a_changed_context(session):
    _, _, model = session(code_step("print(1)"), code_step("print(1)"), answer_step("1"))
    assert [h["temperature"] for h in model.history] == [0.0, 0.0, loop.RUT_TEMPERATURE]
    third = model.history[2]["continuation"]
    assert third.count("<Code>") == 1  # the repeated step is not in the transcript
    assert third.endswith(loop.REPEAT_NOTE + "\n</Execute>\n")


def test_an_answer_whose_analysis_repeats_one_from_before_new_output_is_sampled_again(session):
    # The 1.5B, sent back to decide a choice in code, printed "poor fit", then copied its
    # earlier Analyze ("... Therefore, the model fits well.") and its "good fit" Answer.
    stale = "The value is 42."
    t, _, model = session(
        code_step("print(6 * 7)", stale),
        code_step("print(6 * 8)"),
        answer_step("The value is 42.", stale),  # reads the old output, not the new one
        answer_step("The value is 48.", "The new output shows 48."),
        question="What is the value?",
    )
    assert t.answer == "The value is 48."
    again = model.history[3]
    assert again["temperature"] == loop.RUT_TEMPERATURE
    assert again["continuation"].endswith("48\n" + loop.STALE_NOTE + "\n</Execute>\n")
    assert again["continuation"].count(stale) == 1  # the copied step is not in the transcript


def test_a_failed_cell_written_again_runs_with_the_line_its_output_mended(session):
    # The 1.5B read "Line 2 with it: ..." and wrote df["wind_speed"] again, until its budget
    # ran out.
    failing = 'df = load("orders")\nkept = df.dropna(subset=["unitprice"])\nprint(len(kept))'
    t, _, model = session(code_step(failing), code_step(failing), answer_step("5319"))
    assert len(model.history) == 3  # no generation for the mended line
    assert t.code[-1] == failing.replace('"unitprice"', '"unit_price"')
    assert [s.text for s in t.steps if s.kind == "execute"][-1] == "5319"
    assert "as the output gives it.\n</Analyze>\n<Code>" in model.history[2]["continuation"]
    assert any(s.kind == "notice" and s.repeated for s in t.steps) and t.answer == "5319"


def test_a_failed_cell_written_again_without_a_mended_line_is_dropped_as_a_repeat(session):
    failing = 'x = 20\ny = x + "a"'
    t, _, model = session(
        code_step(failing), code_step(failing), code_step("print(21)"), answer_step("21")
    )
    assert t.code == [failing, "print(21)"] and t.answer == "21"
    assert model.history[2]["temperature"] == loop.RUT_TEMPERATURE
    assert loop.MENDED_ANALYZE[:12] not in model.history[2]["continuation"]


def test_a_mended_cell_that_ran_before_is_not_run_again(session):
    failing = 'df = load("orders")\nkept = df.dropna(subset=["unitprice"])\nprint(len(kept))'
    mended = failing.replace('"unitprice"', '"unit_price"')
    t, _, _ = session(
        code_step(mended), code_step(failing), code_step(failing), answer_step("5319")
    )
    assert t.code == [mended, failing] and t.answer == "5319"


# Revenue counted "3 standard deviations from the mean" as the 1.5B wrote it: above 3 * std.
_COUNTED = (
    'df = load("orders")\n'
    "mean_revenue = df['revenue'].mean()\n"
    "threshold = 3 * df['revenue'].std()\n"
    "print((df['revenue'] > threshold).sum())"
)
_FROM_MEAN = "How many orders have a revenue more than 3 standard deviations from its mean?"


def test_an_answer_from_values_compared_with_their_deviation_runs_them_from_the_mean(session):
    # The 1.5B counted "3 standard deviations from the mean" as x > 3 * std, the mean
    # computed and unread, and answered that count however it was told otherwise.
    t, _, model = session(
        code_step(_COUNTED), answer_step("225"), answer_step("144"), question=_FROM_MEAN
    )
    centred = _COUNTED.replace("(df['revenue'] >", "((df['revenue'] - mean_revenue).abs() >")
    assert t.code == [_COUNTED, centred] and t.answer == "144"
    executes = [s.text for s in t.steps if s.kind == "execute"]
    assert executes[0].startswith("225\n(`mean_revenue` was computed") and executes[1] == "144"
    last = model.history[2]["continuation"]
    assert "225\n</Answer>" not in last and last.endswith("\n<Execute>\n144\n</Execute>\n")
    assert "with df['revenue'] - mean_revenue." in last
    # Answered again from the centred cell: taken as it is.
    assert len(model.history) == 3


def test_an_answer_that_keeps_the_first_runs_number_is_restated_from_the_rewritten_cell(session):
    # Shown 13 from the rewritten cell below the 4008 of its first run, the 1.5B answered
    # 4008 (5 of 32 outlier counts of the unseen sets).
    t, steps, _ = session(
        code_step(_COUNTED), answer_step("225"), answer_step("225 orders."), question=_FROM_MEAN
    )
    assert t.answer == "144 orders." and t.restated
    assert "Answer restated from the rewritten cell's output: 225 is 144." in [
        s.text for s in steps if s.kind == "notice"
    ]


def test_an_answer_from_a_deviation_its_library_divides_otherwise_runs_with_the_ddof(session):
    # Asked for "the population standard deviation (σ)", the 1.5B wrote pandas' .std().
    cell = 'df = load("orders")\nprint(round(df["units"].std(), 4))'
    question = "What is the population standard deviation of units in orders?"
    t, _, model = session(
        code_step(cell), answer_step("2.134"), answer_step("2.1338"), question=question
    )
    assert t.code == [cell, cell.replace(".std()", ".std(ddof=0)")] and t.answer == "2.1338"
    assert [s.text for s in t.steps if s.kind == "execute"] == ["2.134", "2.1338"]
    assert "I will run the cell with ddof=0 in each." in model.history[2]["continuation"]


def test_a_count_of_a_mask_taken_with_len_runs_with_its_true_values(session):
    # The 1.5B reported len(outliers) of outliers = (x < low) | (x > high): every row.
    cell = 'df = load("orders")\nbig = df["units"] > {n}\nprint(len(big))'
    t, _, model = session(
        code_step(cell.format(n=5)), answer_step("5319"), answer_step("710"), question="How many?"
    )
    assert t.code[-1] == cell.format(n=5).replace("len(big)", "int(big.sum().sum())")
    # The sandbox's note says so too; the 1.5B answered from len() beside it.
    executes = [s.text for s in t.steps if s.kind == "execute"]
    assert executes[0].startswith("5319\nlen(big) is 5,319") and executes[1] == "710"
    assert t.answer == "710"
    assert "len(big) is the number of rows" in model.history[2]["continuation"]
    # Every row True: the count is the same, the Answer stands, no step is added.
    t, _, model = session(code_step(cell.format(n=0)), answer_step("5319"), question="How many?")
    assert t.code == [cell.format(n=0)] and t.answer == "5319" and len(model.history) == 2


def test_a_cell_that_would_not_rerun_alike_is_not_rewritten(session):
    # Run again, `df["units"] = df["units"] * 2` doubles once more: its output would differ
    # for that, not for the rewrite.
    cells = [
        'df = load("orders")',
        'df["units"] = df["units"] * 2\nbig = df["units"] > 5\nprint(len(big))',
    ]
    t, _, model = session(*map(code_step, cells), answer_step("5319"), question="How many?")
    assert t.code == cells and t.answer == "5319" and len(model.history) == 3


def test_repeats_without_end_force_a_partial_answer(session):
    t, _, _ = session(*[code_step("print(1)")] * 5, answer_step("1"))
    assert t.partial and t.stop_reason == "repeated code"


def test_a_forced_answer_with_invented_numbers_is_flagged(session):
    t, _, _ = session(code_step("print(1)"), answer_step("It is 4321."), max_turns=1)
    assert t.partial and t.unverified == ["4321"]


def test_an_answer_that_stands_after_its_send_back_has_its_invented_numbers_flagged(session):
    # Sent back for a total no output showed, the 1.5B answered it again: it stands, flagged.
    t, _, _ = session(
        code_step("print(len(orders))"), answer_step("It is 4321."), answer_step("It is 4321.")
    )
    assert t.answer == "It is 4321." and not t.partial and t.unverified == ["4321"]
    assert t.rejected_answers == 1
    t, _, _ = session(code_step("print(6 * 7)"), answer_step("It is 42."))
    assert t.unverified == []


def test_an_average_read_off_a_table_printed_in_part_is_sent_back(session):
    # The 1.5B printed the orders of each customer (pandas showed 10 of 275 rows) and
    # answered the first row's count as the average.
    per = 'per = orders.groupby("region").size().reindex(range(80), fill_value=36)\n'
    question = "On average, how many orders does a region place?"
    t, _, model = session(
        code_step(per + "print(per)"),
        answer_step("On average a region places 36 orders."),
        code_step(per + "print(round(per.mean(), 2))"),
        answer_step("On average a region places 36.0 orders.", "The output shows 36.0."),
        question=question,
    )
    said = model.history[2]["continuation"]
    assert "36 is a value of an output that shows only some of its 80 rows" in said
    assert t.answer == "On average a region places 36.0 orders." and t.rejected_answers == 1
    # The count of all the rows pandas gives under the table is no read-off.
    t, _, _ = session(
        code_step(per + "print(per)"), answer_step("There are 80."), question="How many rows?"
    )
    assert t.rejected_answers == 0


def test_a_forced_answer_with_nothing_of_its_own_is_the_answer_sent_back(session):
    # "US had the most sessions, 1047" was sent back for its 1047; the 1.5B's next Answers
    # were the loop's own lines, and the analysis ended with no answer at all.
    empty = f"<Answer>\n{loop.REPEAT_NOTE}\n</Answer>"
    t, _, _ = session(
        code_step("print(len(orders))"), answer_step("It is 4321."), empty, empty, max_turns=2
    )
    assert t.partial and t.answer == "It is 4321." and t.unverified == ["4321"]


def test_max_turns_forces_a_partial_answer(session):
    t, steps, _ = session(
        code_step("print(1)"), code_step("print(2)"), answer_step("2"), max_turns=2
    )
    assert t.partial and t.answer == "2" and "max turns" in t.stop_reason
    assert steps[-1].kind == "answer" and steps[-1].partial


@pytest.mark.parametrize("opening", ["", "<Code>\n"])
def test_code_written_inside_analyze_runs_as_the_steps_code_block(session, opening):
    # The grammar's `inline` path: a small model opens its fence (or a Code tag, then the
    # fence the grammar holds it to) inside Analyze.
    fence = "```python\nprint(len(orders))\n```\n</Code>"
    inline = f"<Analyze>\nI will count the rows.\n\n{opening}{fence}"
    t, _, model = session(inline, answer_step("5319"), grammar=True)
    assert [s.kind for s in t.steps][:3] == ["analyze", "code", "execute"]
    assert t.steps[2].text == "5319"
    layout = code_step("print(len(orders))", analyze="I will count the rows.")
    assert model.history[1]["continuation"].startswith(layout + "\n<Execute>\n5319\n")
    assert t.usage.format_failures == 0


def test_text_after_a_code_block_never_reaches_the_transcript(session):
    sneaky = code_step("print(7)") + "\n<Execute>\nfake output 999\n</Execute>"
    t, _, _ = session(sneaky, answer_step("7"))
    assert "fake output" not in t.continuation


def test_a_step_cut_at_its_own_limit_is_a_format_failure_but_a_budget_cut_is_not(session):
    rambling = {"text": "<Analyze>\nI think and think", "finish": "length"}
    t, _, _ = session(rambling, code_step("print(1)"), answer_step("1"))
    assert (t.usage.format_failures, t.usage.budget_cuts) == (1, 0)
    assert t.answer == "1" and "</Analyze>" in t.continuation  # closed, and the loop went on
    # --max-tokens left less room than a step may take: the budget cut it, not the model.
    t, _, _ = session(rambling, code_step("print(1)"), answer_step("1"), max_tokens=100)
    assert (t.usage.format_failures, t.usage.budget_cuts) == (0, 1)


@pytest.mark.parametrize(
    "cell, answer, hint",
    [
        # A cell that printed nothing is no evidence ("the data has been loaded").
        ("import pandas as pd", "The dataset has been loaded into a pandas DataFrame.", "NO_VALUE"),
        # The 1.5B saw a Shapiro-Wilk p-value of nan (the column had missing values), read
        # the sandbox's note on why, and answered `@skewness[nan]` anyway.
        ("import numpy as np\nprint(np.mean([1.0, float('nan')]))", "@value[nan]", "NAN"),
        # A cell that only shows what its code spelled out computed nothing: the 1.5B
        # wrote `country = "Albania"` after two failed cells, saw it echoed and answered it.
        ("country = 'Albania'", "Albania has the most.", "NO_VALUE"),
        ('print("@country[Albania]")', "@country[Albania]", "NO_VALUE"),
        # The 1.5B unpacked pearsonr's (r, p) as (p_value, _) and answered r as the p-value.
        ("print(-0.0783)", "@p_value[-0.0783]", "P_VALUE"),
    ],
)
def test_an_answer_without_a_value_is_sent_back_once(session, cell, answer, hint):
    t, steps, model = session(
        code_step(cell),
        answer_step(answer),
        code_step("print(6 * 7)"),
        answer_step("The value is 42.", "The new output shows 42."),
        question="What is the value?",
    )
    assert t.answer == "The value is 42." and t.rejected_answers == 1
    hint = getattr(loop, f"{hint}_HINT").split("{value}")[-1]
    assert hint in model.history[2]["continuation"]
    assert any(s.kind == "notice" and hint in s.text for s in steps)


def test_nan_is_a_value_an_answer_gives_only_where_it_states_one():
    from da_cli.agent import grounding

    # An Answer of nan alone, too: the 1.5B answered "NaN" for a slope of data with gaps.
    for stated in ("The p-value is nan because", "r = NaN", "@p[ nan ]", "it returns NaN.", "NaN"):
        assert grounding.states_nan(stated), stated
    for said in ("The column has 3 NaN values.", "No NaN in the data.", "nanmean gave 2"):
        assert not grounding.states_nan(said), said


def test_a_p_value_outside_zero_and_one_is_found_where_an_answer_names_it():
    from da_cli.agent import grounding

    for stated, value in (
        ("@p_value[-0.0783]", "-0.0783"),
        ("@normality_test_p_value[45.2194]", "45.2194"),
        ("The p-value is 1.3, so", "1.3"),
        ("r = 0.2, p = 12", "12"),
    ):
        assert grounding.impossible_p_value(stated) == value, stated
    for said in ("@p_value[0.0000]", "p-value of 2e-05", "p < 0.05", "pclass = 3", "top = 5"):
        assert grounding.impossible_p_value(said) is None, said


CHOOSE = (
    "Is r linear? Consider it linear if r >= 0.5, else none. Answer with @kind[kind] where "
    '"kind" is a string that can either be "linear", "nonlinear", or "none".'
)


def test_a_choice_no_output_shows_is_sent_back_to_be_decided_in_code(session):
    r = code_step("r = 0.31\nprint(r)")
    decided = code_step("r = 0.31\nprint('linear' if r >= 0.5 else 'none')")

    def hint(*steps) -> str | None:
        """What the loop said of the first Answer (None: it stood)."""
        last = answer_step("@kind[none]", "The rule says none.")
        t, _, model = session(*steps, decided, last, question=CHOOSE)
        return model.history[2]["continuation"] if t.rejected_answers else None

    said = 'No output shows which of "linear", "nonlinear", "none" the answer is.'
    # The 1.5B printed r = 0.31 and answered "linear" against the question's own rule.
    assert said in hint(r, answer_step("r is 0.31, @kind[linear]"))
    # A choice an output printed stands, where code decided it; not where code spelled it.
    assert hint(decided, answer_step("@kind[none]")) is None
    assert said in hint(code_step("print('none')"), answer_step("@kind[none]"))
    # An answer that names an option and no value is told to decide it, not to print a value.
    told = hint(r, answer_step("@kind[none]"))
    assert said in told and loop.NO_VALUE_HINT not in told


def test_a_value_rounded_wrongly_is_sent_back_with_its_right_rounding(session):
    # The 1.5B printed 1013.5345316934721, answered 1013.54, and told only that no output
    # showed that, printed the same mean again and answered 1013.54 again.
    t, _, model = session(
        code_step("print(1013.5345316934721)"),
        answer_step("@average[1013.54]"),
        code_step("print(round(1013.5345316934721, 2))"),
        answer_step("@average[1013.53]", "Rounded in code, it is 1013.53."),
        question="What is the average, to two decimals?",
    )
    assert t.answer == "@average[1013.53]" and t.rejected_answers == 1
    said = "The answer quotes 1013.54 where an output shows 1013.5345316934721, which rounds to "
    assert (
        said + "1013.53. Print the values rounded in code (round(x, 2))"
        in (model.history[2]["continuation"])
    )


def test_fewer_significant_digits_than_asked_are_sent_back(session):
    # The 1.5B printed f"{r:.4f}" and answered 0.0045 for 4 significant digits of 0.004467.
    # Here `r` is bound to something else after the print, so the loop's own print of it
    # (next test) finds no value that rounds to the answer's, and the model is told.
    question = "What is the ratio of a to b? Give 4 significant digits."
    t, _, model = session(
        code_step('r = sum([0.002, 0.002467])\nprint(f"{r:.4f}")\nr = "done"'),
        answer_step("The correlation is 0.0045, close to 0."),
        code_step('print(f"{r:.4g}")'),
        answer_step("The correlation is 0.004467.", "Printed with .4g, it is 0.004467."),
        question=question,
    )
    assert t.answer == "The correlation is 0.004467." and t.rejected_answers == 1
    said = "The question asks for 4 significant digits, and 0.0045 has 2. Print the value with "
    # The line to run, with the cell's own name: told in words, the 1.5B wrote :.4f again.
    line = '4 significant digits, then answer from that output:\nprint(f"{r:.4g}")'
    assert said + line in model.history[2]["continuation"]
    # An answer that gives them stands, whatever else it quotes; so does any answer to a
    # question that asks for no significant digits.
    for answer, asked in (("It is 0.004467, close to 0.0.", question), ("0.0045", "What is r?")):
        cell = code_step("r = sum([0.002, 0.002467])\nprint(r, round(r, 4))")
        t, _, _ = session(cell, answer_step(answer), question=asked)
        assert t.rejected_answers == 0 and t.answer == answer


def test_an_answer_short_of_significant_digits_is_restated_from_the_output_that_has_them(session):
    # Sent back, the 1.5B printed 0.00447 and then answered 0.0045 again (4 of 4 such
    # analyses on unseen tables): the output it ran says which value it meant.
    question = "What is the ratio of a to b? Give 4 significant digits."
    t, _, _ = session(
        code_step('r = sum([0.002, 0.00247])\nprint(f"{r:.4f}")\nr = None'),
        answer_step("The correlation is 0.0045, close to 0."),
        code_step('r = sum([0.002, 0.00247])\nprint(f"{r:.4g}")'),
        answer_step("The correlation is 0.0045 (weak).", "It printed 0.00447."),
        question=question,
    )
    assert t.answer == "The correlation is 0.00447 (weak)." and t.rejected_answers == 1
    assert t.restated  # a repair: synth's inspector does not keep it as well formed
    said = "Answer restated with the significant digits asked for: 0.0045 is 0.00447 in an output."
    assert [s.text for s in t.steps if s.kind == "notice"][-1] == said
    assert not t.unverified


@pytest.mark.parametrize(
    "cell, answer, line, restated",
    [
        # Sent back with the line to run, the 1.5B ran its `:.4f` again and answered 0.0056
        # again: the loop prints the value the cell printed at fixed decimals itself.
        ('slope = 0.0056123\nprint(f"{slope:.4f}")', "The slope is 0.0056.", "slope", "0.005612"),
        # .4g drops a trailing zero (0.0663 is three digits); the loop's print keeps it.
        ("slope = 0.066300001\nprint(round(slope, 4))", "It is 0.0663.", "slope", "0.06630"),
        # Of the values the cell printed, the one that rounds to the answer's number.
        ('r, p = 0.5, 0.0012346\nprint(f"{r:.2f} {p:.4f}")', "p = 0.0012", "p", "0.001235"),
    ],
)
def test_a_value_short_of_significant_digits_is_printed_by_the_loop(
    session, cell, answer, line, restated
):
    question = "What is the slope of y on x? Give 4 significant digits."
    t, _, model = session(code_step(cell), answer_step(answer), question=question)
    assert t.answer == answer.replace(answer.split()[-1].rstrip("."), restated)
    assert t.rejected_answers == 0 and t.restated and len(model.history) == 2
    printed = f'print(f"{{{line}:#.4g}}")'
    assert [s.text for s in t.steps if s.kind == "code"][-1] == printed
    assert [s.text for s in t.steps if s.kind == "execute"][-1].strip() == restated
    notice = [s.text for s in t.steps if s.kind == "notice"][-1]
    assert notice == (
        f"Answer restated with the significant digits asked for: "
        f"{answer.split()[-1].rstrip('.')} is {restated}, printed by {printed}."
    )
    assert not t.unverified


def test_a_number_is_restated_only_from_one_output_value_that_rounds_to_it():
    from da_cli.agent import grounding

    restate = grounding.with_significant
    # More digits than asked are rounded to what was asked; no digit is made up past the
    # output's own (0.00447, printed by .4g, stays as printed).
    assert restate("r = -0.0017.", ["-0.0016843"], 4) == ("r = -0.001684.", "-0.0017", "-0.001684")
    assert restate("r = 0.0045", ["0.00447"], 4)[0] == "r = 0.00447"
    assert restate("slope 12.3", ["12.3456 and 1200"], 4)[0] == "slope 12.35"
    # No output value that rounds to it, two that disagree, or the digits given: unchanged.
    assert restate("r = 0.0045", ["0.00439"], 4) is None
    assert restate("r = 0.0045", ["0.004471 0.004512"], 4) is None
    assert restate("r = 0.004471", ["0.0044712"], 4) is None


def test_an_answer_with_no_number_where_digits_are_asked_is_sent_back(session):
    # The 1.5B saw a slope of nan (data with gaps) and answered that it "cannot be
    # determined due to missing values": words an output printed, and no number.
    question = "What is the slope of y on x? Give 4 significant digits."
    t, _, model = session(
        code_step("print(float('nan'))"),
        answer_step("The slope cannot be determined due to missing values."),
        code_step("print(0.004467)"),
        answer_step("The slope is 0.004467.", "Without the gaps it is 0.004467."),
        question=question,
    )
    assert t.answer == "The slope is 0.004467." and t.rejected_answers == 1
    assert loop.NAN_HINT in model.history[2]["continuation"]


def test_significant_digits_as_asked_and_as_written():
    from da_cli.agent import grounding

    assert grounding.significant_asked("Give 4 significant digits.") == 4
    assert grounding.significant_asked("to three significant figures") == 3
    assert grounding.significant_asked("Is the result significant at 5 %?") is None
    written = {"0.0045": 2, "0.004467": 4, "12.30": 4, "-0.0008": 1, "1,234.5": 5, "1200": 2}
    assert {tok: grounding.significant_digits(tok) for tok in written} == written
    assert grounding.short_of_significant("r = 0.0045 (n = 1200)", 4) == "0.0045"
    assert grounding.short_of_significant("There are 1200 rows.", 4) is None


def test_the_choices_a_text_offers_and_the_ones_it_names():
    from da_cli.agent import grounding

    assert grounding.choice_lists(CHOOSE) == [["linear", "nonlinear", "none"]]
    assert grounding.choice_lists("one of 'yes', 'no' and either \"a\" or \"b\"") == [
        ["yes", "no"],
        ["a", "b"],
    ]
    assert grounding.choice_lists('the "mean" column') == []
    options = ["Normal", "Not Normal"]
    assert grounding.named_choices("It is Not Normal.", options) == ["Not Normal"]
    assert grounding.named_choices("normal, then not normal", options) == ["Normal", "Not Normal"]
    assert grounding.named_choices("nonlinear", ["linear", "nonlinear"]) == ["nonlinear"]
    assert grounding.named_choices("abnormality", options) == []
    # An output that names another choice than the answer's does not back it.
    assert grounding.undecided_choice("@kind[linear]", ["none"], CHOOSE) is not None
    assert grounding.undecided_choice("@kind[linear]", ["kind = linear"], CHOOSE) is None
    assert grounding.undecided_choice("42", ["42"], "What is the value?") is None


def test_the_loops_own_lines_copied_into_an_answer_are_not_part_of_it(session):
    t, _, _ = session(
        code_step("print(6 * 7)"),
        answer_step("It is 42. " + loop.NO_VALUE_HINT + " " + loop.REPEAT_NOTE),
        question="What is the value?",
    )
    assert t.answer == "It is 42."
    # Nor what follows a line that opens with a tag: the 1.5B went on past its Answer with
    # "<execute>" and a copy of the loop's note, or "<Final Answer>" and the Answer again.
    for spill in ("\n\n<execute>\nThe question asks for 4 digits", "\n< Final Answer>\nIt is 42."):
        t, _, _ = session(code_step("print(6 * 7)"), answer_step("It is 42." + spill))
        assert t.answer == "It is 42."


def test_a_name_whose_number_the_answer_cut_off_is_sent_back(session):
    # Shown the customer "Lumen Works 204", the 1.5B answered "Lumen Works has the most
    # rows, 204": the name's number taken for a count.
    frame = "print(pd.DataFrame({'name': ['Lumen Works 204'], 'n': [7]}))"
    t, _, model = session(
        code_step(frame),
        answer_step("Lumen Works has the most rows, 204."),
        code_step(frame.replace("'n'", "'orders'")),
        answer_step("Lumen Works 204 has the most rows, 7.", "It is Lumen Works 204, 7 rows."),
        question="Which customer has the most rows?",
    )
    assert t.answer == "Lumen Works 204 has the most rows, 7." and t.rejected_answers == 1
    said = 'An output shows the name "Lumen Works 204", and the answer gives it as "Lumen Works"'
    assert said in model.history[2]["continuation"]
    assert not t.restated
    # Told, the 1.5B printed the cut name and answered it again (5 of 5 unseen-table
    # analyses): then the name is restated whole, as the one cell that has it printed it.
    t, _, _ = session(
        code_step(frame),
        answer_step("Lumen Works has the most rows, 204."),
        code_step("print('Lumen Works')"),
        answer_step("Lumen Works has the most rows.", "The name is Lumen Works."),
        question="Which customer has the most rows?",
    )
    assert t.answer == "Lumen Works 204 has the most rows." and t.restated
    said = 'Answer restated with the whole name: "Lumen Works" is "Lumen Works 204" in an output.'
    assert [s.text for s in t.steps if s.kind == "notice"][-1] == said
    # An answer that does not give the name's number took it for nothing else: the name is
    # restated at once. Sent back, the 1.5B looked the 882 of "Dr Chen Partners 882" up as
    # an id and answered that there was no such doctor.
    t, _, _ = session(
        code_step(frame),
        answer_step("Lumen Works has the most rows, 7."),
        question="Which customer has the most rows?",
    )
    assert t.answer == "Lumen Works 204 has the most rows, 7."
    assert t.restated and t.rejected_answers == 0
    assert [s.text for s in t.steps if s.kind == "notice"][-1] == said


def test_a_date_in_words_is_restated_in_the_form_the_question_asks_for(session):
    from da_cli.agent import grounding

    # Asked "In which month (YYYY-MM)", the 1.5B printed 2022-01 and answered "January 2022".
    question = "In which month (YYYY-MM) were the most orders placed?"
    t, _, _ = session(
        code_step("print(pd.Period('2022-01-09', 'M'))"),
        answer_step("January 2022 had the most orders."),
        question=question,
    )
    assert t.answer == "2022-01 had the most orders." and t.restated
    said = (
        'Answer restated in the form the question asks for: "January 2022" is 2022-01 in an output.'
    )
    assert [s.text for s in t.steps if s.kind == "notice"][-1] == said
    # No output printed that month: nothing to restate it from.
    t, _, _ = session(
        code_step("print(pd.Period('2022-02-09', 'M'))"),
        answer_step("January 2022 had the most orders."),
        question=question,
    )
    assert t.answer == "January 2022 had the most orders." and not t.restated
    assert grounding.in_asked_form("Which date? (YYYY-MM-DD)", "March 2022", ["2022-03-09"]) is None
    assert grounding.in_asked_form("Which month?", "March 2022", ["2022-03"]) is None


def test_an_answer_from_code_that_never_selected_the_questions_year_is_sent_back(session):
    # "In 2026, which department had the highest total salary?": the 1.5B summed all years.
    t, _, model = session(
        code_step("print('Support')"),
        answer_step("Support had the highest total salary."),
        code_step("year = 2026\nprint('Sales')"),
        answer_step("Sales had the highest total salary in 2026.", "Sales, in 2026."),
        question="In 2026, which department had the highest total salary?",
    )
    assert t.answer == "Sales had the highest total salary in 2026." and t.rejected_answers == 1
    said = "The question asks about 2026, and no cell selected it: keep the rows of 2026"
    assert said in model.history[2]["continuation"]
    from da_cli.agent import grounding

    # A number that is no year, or a year a cell has: nothing to say.
    assert grounding.years_unused("Is 2,020 or 20201 or 2020.5 a total?", ["x = 1"]) == []
    assert grounding.years_unused("From 2021 to 2022?", ["t[t.y == 2021]", "2022"]) == []
    # One day of the year is not the year; dates bounding it are; a day asked is no year.
    shipped = "What is the total weight of shipments shipped on 2020?"
    assert grounding.years_unused(shipped, ["sql(\"... WHERE d = '2020-06-13'\")"]) == ["2020"]
    assert grounding.years_unused(shipped, ["d >= '2020-01-01' and d < '2021-01-01'"]) == []
    assert grounding.years_unused(shipped, ["d.between('2020-03-01', '2020-12-31')"]) == []
    assert grounding.years_unused("What was shipped on 2020-06-13?", ["x = 1"]) == []
    # The text a print writes selects nothing: the 1.5B kept one day of 2023 and printed
    # "hired in 2023" in its sentence. A query printed is code.
    day = "h = df[df['hire_date'] == '2023-10-06']['salary'].mean()\n"
    hired = "Hired in 2023?"
    assert grounding.years_unused(hired, [day + 'print(f"hired in 2023: {h:.2f}")']) == ["2023"]
    assert grounding.years_unused(hired, [day + "print(sql('SELECT 2023'), 'in 2023')"]) == []
    # A name is no selection: the 1.5B kept one day of 2020 in `df_2020`.
    one_day = "# keep 2020-06-17\ndf_2020 = df[df['started_at'] == '2020-06-17']"
    assert grounding.years_unused("Most revenue in 2020?", [one_day]) == ["2020"]
    assert grounding.years_unused("In 2020?", ["x[x.y == 2020]", "f'{2020}'", "y=2020"]) == []
    assert grounding.statistic_uncomputed("The median?", ['print("median:", x.max())']) == (
        "median",
        "x.median()",
    )
    assert grounding.statistic_uncomputed("The median?", ['print(f"{x.median()}")']) is None


def test_an_answer_from_code_that_never_computed_the_statistic_asked_for_is_sent_back(session):
    # Asked for the median transactions per account, the 1.5B printed the largest count.
    t, _, model = session(
        code_step("print(732)"),
        answer_step("The median is 732."),
        code_step("print(orders.groupby('region').size().median())"),
        answer_step("The median is 1330.0.", "The output shows the median."),
        question="What is the median number of orders per region?",
    )
    said = model.history[2]["continuation"]
    assert "The question asks for the median, and no cell computes one" in said
    assert t.rejected_answers == 1
    from da_cli.agent import grounding

    uncomputed = grounding.statistic_uncomputed
    assert uncomputed("What is the std of x?", ["x.std(ddof=0)"]) is None
    assert uncomputed("Correlation of a and b?", ["pearsonr(a, b)"]) is None
    assert uncomputed("The 90th percentile?", ["np.percentile(x, 90)"]) is None
    assert uncomputed("Use analysis of variance (ANOVA).", ["f_oneway(a, b)"]) is None
    assert uncomputed("Why did the median drop?", ['explain_change("t")']) is None
    assert uncomputed("Standardize x with z-scores.", ["StandardScaler()"]) is None
    assert uncomputed("What is the variance of x?", ["x.mean()"]) == ("variance", "x.var()")


def test_an_answer_from_code_that_never_selected_the_rows_the_question_names_is_sent_back(
    session,
):
    # "the correlation of age and wait for first visits": the 1.5B correlated every visit.
    question = "What is the total revenue of Online orders?"
    t, _, model = session(
        code_step("print(1000.5)"),  # a total of every row
        answer_step("The total is 1000.5."),
        code_step("online = orders[orders['channel'] == 'Online']\nprint(500.25)"),
        answer_step("The total is 500.25.", "The output shows the Online total."),
        question=question,
        named_values=[("channel", "Online")],
    )
    said = model.history[2]["continuation"]
    assert (
        "The question is about channel 'Online', and no cell selected those rows: keep only "
        "them (df['channel'] == 'Online')"
    ) in said
    assert t.rejected_answers == 1
    from da_cli.agent import grounding

    # Spelled in any case, or read from the question by explain_change: selected.
    assert grounding.values_unselected([("c", "Online")], ["x[x.c == 'online']"]) == []
    assert grounding.values_unselected([("c", "Web")], ["sql(\"... LIKE '%web%'\")"]) == []
    # In a name it selects nothing: `store_total` summed every channel.
    assert grounding.values_unselected([("c", "Store")], ["store_total = x.sum()"]) == [
        ("c", "Store")
    ]
    assert grounding.values_unselected([("c", "Web")], ['explain_change("orders")']) == []


def test_an_answer_naming_no_value_of_the_column_a_which_question_asks_about_is_sent_back(
    session,
):
    # Asked "which country", the 1.5B printed BR and answered "Brazil".
    countries = ["BR", "DE", "FR", "IN", "US"]
    t, _, model = session(
        code_step("print('BR', 229.75)"),
        answer_step("Brazil has the highest average duration, 229.75 s."),
        code_step("print(f'country: {\"BR\"}')"),
        answer_step("BR has the highest average duration, 229.75 s.", "The country is BR."),
        question="Which country has the highest average duration?",
        which=("country", countries),
    )
    assert t.answer == "BR has the highest average duration, 229.75 s." and t.rejected_answers == 1
    said = (
        "The question asks which country, and the answer names none of its values as the "
        "data has them (BR, DE, FR, IN, US). Print the country value from code"
    )
    assert said in model.history[2]["continuation"]
    from da_cli.agent import grounding

    # A code in capitals only in its own case ("in", "us" are words); a longer value, or
    # true/false, in any; never inside another word.
    assert not grounding.names_a_value("Most sessions come in from us", countries)
    assert grounding.names_a_value("Sessions from IN last longest", countries)
    assert grounding.names_a_value("The FOLLOW-UP visits", ["follow-up", "new"])
    assert grounding.names_a_value("True: on time ships take longer", ["false", "true"])
    assert not grounding.names_a_value("Newark leads", ["New", "Old"])
    # The values an output shows come first in the hint.
    assert grounding.values_shown(countries, ["US  207.9\nIN  206.4"], 3) == ["IN", "US", "BR"]


def test_an_answer_naming_a_row_below_the_top_of_a_printed_ranking_is_sent_back(session):
    # Shown "Science 21, Arts 11", the 1.5B answered "Arts has the most rows".
    query = "SELECT region, count(*) AS n FROM orders GROUP BY region ORDER BY n DESC"
    t, _, model = session(
        code_step(f'print(sql("{query}"))'),  # North 1446, East 1434, West 1412, South 1027
        answer_step("East has the most orders, 1434."),
        code_step(f'print(sql("{query} LIMIT 1"))'),
        answer_step("North has the most orders, 1446.", "North is first."),
        question="Which region has the most orders?",
        which=("region", ["East", "North", "South", "West"]),
    )
    assert t.answer == "North has the most orders, 1446." and t.rejected_answers == 1
    said = (
        "The answer names East, which an output shows with 1434, and North with 1446: the "
        "question asks for the most. Print the region with the most alone from code"
    )
    assert said in model.history[2]["continuation"]
    from da_cli.agent import grounding

    values, shown = ["Arts", "Business", "Science"], ["Business 3.5\nArts 11\nScience 21"]
    misread = grounding.misread_ranking
    assert misread("Which has the fewest?", "Arts", shown, values) == (
        "fewest", "Arts", "11", ["Business"], "3.5"
    )  # fmt: skip
    # The top itself, the second asked for, a change up or down, or no ranking: nothing.
    assert misread("Which has the most?", "Science, 21", shown, values) is None
    assert misread("Which has the second most?", "Arts", shown, values) is None
    assert misread("Which changed the most?", "Arts", shown, values) is None
    assert misread("Which has the most?", "Arts", ["Arts 11 and Science 21 and 4"], values) is None


def test_a_numbered_name_is_one_cell_of_a_printed_table():
    from da_cli.agent import grounding

    frame = "              name  n\n0  Lumen Works 204  7"
    assert grounding.split_name("Lumen Works, 204 rows", [frame]) == (
        "Lumen Works 204",
        "Lumen Works",
    )
    assert grounding.split_name("Lumen Works 204, 7 rows", [frame]) is None
    # A sentence is no table: "mean 3" printed alone, or a year in a title, names nothing.
    assert grounding.split_name("The mean is 3.", ["mean 3", "Total for 2021"]) is None
    # Restated only from one printed name: "Store" of "Store 12" and "Store 13" is no one.
    two = "  store  n\n0  Store 12  5\n1  Store 13  4"
    assert grounding.with_whole_name("Store sold most.", [two]) is None
    restated = grounding.with_whole_name("Lumen Works, 204 rows: Lumen Works leads", [frame])
    whole = "Lumen Works 204"
    assert restated == (f"{whole}, 204 rows: {whole} leads", "Lumen Works", whole)


def test_after_an_answer_is_sent_back_the_next_step_must_run_code(session):
    from da_cli.agent import protocol

    t, _, model = session(
        code_step("r = 0.21"),  # silent, but it shows what it assigned
        answer_step("The correlation is 0.85."),  # no output shows 0.85: sent back
        code_step("print(1 / 0)"),  # code it must write; this one fails
        code_step("print(round(r, 2))"),
        answer_step("The correlation is 0.21.", "The new output shows 0.21."),
        grammar=True,
        question="What is the correlation?",
    )
    assert t.steps[1].text == "r = 0.21"
    grammars = [h["grammar"] for h in model.history]
    # Until a cell has run without error since the answer went back, only code may follow.
    assert grammars[2] == grammars[3] == protocol.CODE_GRAMMAR
    assert grammars[1] == grammars[4] == protocol.STEP_GRAMMAR
    assert t.answer == "The correlation is 0.21." and t.rejected_answers == 1


def test_a_question_naming_a_population_or_sample_deviation_gets_what_the_libraries_default_to():
    # pandas' .std() is a sample's (n - 1): the 1.5B, asked for the population standard
    # deviation of a fare, used it and answered 49.69 for 49.67.
    def user(question: str) -> str:
        return loop.new_transcript(question, [SALES], "profile", ["orders"]).messages[1]["content"]

    text = user("What is the population standard deviation of the revenue?")
    assert text.endswith(
        "# Question\nWhat is the population standard deviation of the revenue?\nNote: A "
        "population standard deviation or variance divides by n: pandas' .std() and .var() "
        "divide by n - 1 unless given ddof=0 (np.std divides by n).\n"
    )
    assert "ddof=1" in user("Report the sample variance of units.")
    plain = user("What is the standard deviation of the revenue?")
    assert plain.endswith("# Question\nWhat is the standard deviation of the revenue?\n")
    # A fitted line's slope is not a correlation, and significant digits are not decimals:
    # on unseen tables the 1.5B answered r for a slope and 0.0045 for 4 significant digits.
    slope = user("If units is fitted as a straight line of price, what is the slope?")
    assert "np.polyfit(x, y, 1)[0]" in slope and "a correlation coefficient is not" in slope
    digits = user("What is the correlation of units and price? Give 4 significant digits.")
    assert 'print f"{x:.Ng}"' in digits and "np.polyfit" not in digits
    assert ".Nf" not in digits  # named, the wrong format was the one it wrote
    assert "Note:" not in user("Which region has the highest revenue?")
    # Which variable is y, in the question's words: the 1.5B fitted 3 of 5 lines the other
    # way round.
    assert slope.endswith('Note: In this question y is "units" and x is "price".\n')
    assert 'y is "revenue" and x is "ad spend"' in user(
        "What is the slope when revenue is regressed on ad spend?"
    )
    assert 'y is "sales" and x is "temperature"' in user("The slope of sales against temperature?")
    assert "y is" not in user("What is the slope of the least squares line?")
    # Both sides of the mean: the 1.5B counted values above 3 standard deviations, no mean.
    sides = user("How many fares lie more than 3 standard deviations away from the mean?")
    assert "(x - x.mean()).abs() > k * x.std()" in sides
    # The most change up or down is in absolute value: the 1.5B took the largest rise.
    most = user("Which region changed the most, up or down, from 2021 to 2022?")
    assert "change.abs().idxmax()" in most
    assert "abs()" not in user("Which region grew the most from 2021 to 2022?")
    # The IQR rule's bounds, and a model's error: the 1.5B wrote x > 1.5 * iqr, and answered
    # .score() (R²) for a mean squared error.
    assert "q1 - 1.5 * iqr" in user("How many outliers does the IQR method find in price?")
    mse = user("Train a linear regression and report its MSE.")
    assert "mean_squared_error(y_test, model.predict(X_test))" in mse and "iqr" not in mse
    # A weekday by name: the 1.5B grouped by .dt.weekday and named 2 as Tuesday.
    for question in ("On which weekday is the wait longest?", "Busiest day of the week?"):
        assert ".dt.day_name()" in user(question)
    assert "day_name" not in user("On which day were the most orders placed?")
    # A share of rows the question names is out of those rows: the 1.5B divided the Senior
    # remote employees by every employee. Where the value is the condition, no note.
    from da_cli.agent.prompts import share_note

    senior = [("level", "Senior")]
    note = share_note("What percentage of Senior employees work remotely?", senior)
    assert note == (
        "A share of the Senior rows is out of those rows: divide the count that meets the "
        "condition among rows with level 'Senior' by the count of rows with level 'Senior', "
        "not by all rows."
    )
    assert share_note("Which level has the highest share of Senior staff?", senior) is None
    assert share_note("What share of Senior staff in 2024?", senior) is None
    # An amount of time in another unit than the column's: the 1.5B kept duration_s > 10 for
    # "longer than 10 minutes".
    question = "How many sessions lasted longer than 10 minutes or 1.5 hours?"
    shown = loop.new_transcript(
        question, [], "p", ["t"], columns=["duration_s", "wait_minutes", "transit_days"]
    ).messages[1]["content"]
    assert "duration_s is in seconds: 10 minutes is 600 seconds." in shown
    assert "wait_minutes is in minutes: 10 minutes" not in shown  # its own unit
    assert "10 minutes is 0.00694444 days" not in shown  # another kind of time
    from da_cli.agent.prompts import percent_notes, unit_notes

    # A percentage against a column of percents or of fractions: the 1.5B wrote
    # attendance_pct < 0.7 of a column of 0 to 100.
    below = "How many enrollments have an attendance below 70 percent?"
    shares = {"attendance_pct": 100.0, "grade": 98.0, "conversion_rate": 0.4}
    assert percent_notes(below, shares) == [
        "attendance_pct holds percents (up to 100): 70 percent is 70.",
        "conversion_rate holds fractions (up to 0.4): 70 percent is 0.7.",
    ]
    assert percent_notes("How many enrollments?", shares) == []

    assert unit_notes("More than 3 days in transit?", ["transit_days"]) == []
    assert unit_notes("Waits over 1 hour?", ["wait_minutes"]) == [
        "wait_minutes is in minutes: 1 hour is 60 minutes."
    ]
    shown = loop.new_transcript(
        "What percentage of Senior employees work remotely?", [], "p", ["t"], named_values=senior
    ).messages[1]["content"]
    assert note in shown


def test_a_failed_line_run_again_without_the_merge_its_output_gave_runs_with_it(tmp_path):
    # Told "readings has no column 'site': it is a column of devices" and the merge to run
    # first, the 1.5B said it had merged, wrote its filter on `site` again without it, and
    # answered a number it never saw.
    (tmp_path / "readings.csv").write_text("device_id,humidity\n1,40.5\n2,61.0\n1,55.0\n")
    (tmp_path / "devices.csv").write_text("device_id,site\n1,Warehouse\n2,North\n")
    catalog = build_catalog([str(tmp_path / "readings.csv"), str(tmp_path / "devices.csv")])
    first = "readings = load('readings')\nw = readings[readings['site'] == 'Warehouse']"
    again = "w = readings[readings['site'] == 'Warehouse']\nprint(w['humidity'].max())"
    own = "readings = readings.merge(load('devices'))\n" + again

    def run(second: str) -> tuple[loop.Transcript, list]:
        script = tmp_path / "script.jsonl"
        outputs = [code_step(first), code_step(second), answer_step("The highest is 55.0.")]
        script.write_text("".join(json.dumps({"text": o}) + "\n" for o in outputs))
        with Sandbox(catalog, tmp_path / "ws") as sandbox:
            t = loop.new_transcript("q?", [], "profile", ["readings", "devices"])
            return t, list(loop.run(t, ReplayModel(script), sandbox, loop.Budget()))

    t, steps = run(again)
    merge = "readings = readings.merge(load('devices'), on='device_id')"
    assert t.code[1] == f"{merge}\n{again}" and f"```python\n{merge}\n" in t.continuation
    assert any("the cell runs with that merge as line 1" in s.text for s in steps)
    assert t.answer == "The highest is 55.0."
    # A cell that merges by itself runs as written.
    t, _ = run(own)
    assert t.code[1] == own and t.answer == "The highest is 55.0."


def test_a_failed_line_written_again_in_a_new_cell_runs_as_its_output_mended_it(session):
    # Told to divide channel_totals['order_id'], the 1.5B wrote a new cell around the same
    # failing division.
    first = "per = orders.groupby('region')['units'].sum().reset_index()\nshare = per / 10"
    again = "share = per / 10\nprint(int(share.max()))"
    t, steps, _ = session(code_step(first), code_step(again), answer_step("It is 1."))
    assert t.code[1] == "share = per['units'] / 10\nprint(int(share.max()))"
    assert any("the cell runs with line 1 as the output mended it" in s.text for s in steps)
    assert not [s for s in t.steps if s.kind == "execute"][1].error
