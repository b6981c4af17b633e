import gzip
import json
import re

import pytest
from conftest import answer_step, code_step, run_da

from da_cli.eval.dabench import Task, conform, extract, load_tasks, matches, precisions, score
from da_cli.eval.run import summarize


@pytest.mark.parametrize(
    "value, label, ok",
    [
        ("34.65", "34.65", True),
        ("34.650000000", "34.65", True),  # numbers within 1e-6
        ("34.6500004", "34.65", True),
        ("34.66", "34.65", False),
        ("0.3", "0.30000000000000004", True),
        ("Male", "Male", True),
        ("male", "Male", False),  # strings compare exactly
        ("34.65%", "34.65", False),
        ("nan", "1.0", False),
    ],
)
def test_one_sub_answer_by_the_official_rule(value, label, ok):
    assert matches(value, label) is ok


def test_every_sub_answer_must_be_right_for_the_question():
    labels = (("mean_a", "1.5"), ("mean_b", "2.0"), ("count", "7"))
    all_right = "The means are @mean_a[1.5], @mean_b[2.00] and @count[7]."
    one_wrong = "@mean_a[1.5] @mean_b[2.1] @count[7]"
    one_missing = "@mean_a[1.5] @count[7]"
    assert score(all_right, labels).correct
    assert (score(one_wrong, labels).right, score(one_wrong, labels).correct) == (2, False)
    assert score(one_missing, labels).right == 2
    assert not score("", labels).correct


def test_a_name_given_twice_keeps_its_last_value():
    assert extract("@x[1] then, corrected: @x[ 2 ]") == {"x": "2"}
    assert score("@x[1] @x[2]", (("x", "2"),)).correct


def test_task_names_and_placeholders_come_from_the_format():
    task = Task(1, "q", "c", '@mean_fare[mean_fare_value] and @n[count] where "count"…', "f", "x")
    assert task.names == ["mean_fare", "n"]
    assert {"mean_fare_value", "count"} <= task.placeholders
    assert "Answer format: @mean_fare[" in task.instruction()


def task_with(format_: str, constraints: str = "") -> Task:
    return Task(1, "q", constraints, format_, "f", "easy")


@pytest.mark.parametrize(
    "format_, constraints, want",
    [
        # One precision named anywhere holds for every name.
        ("@a[x] @b[y] where both are numbers.", "Round to 2 decimal places.", {"a": 2, "b": 2}),
        # Each placeholder's own sentence; a string gets none.
        (
            '@r[r_value] @p[p_value] @kind[k] where "r_value" is a number between -1 and 1, '
            'rounded to two decimal places. "p_value" is a number between 0 and 1, rounded to '
            'four decimal places. "k" is a string.',
            "",
            {"r": 2, "p": 4},
        ),
        # A description shared by two names; a placeholder written without quotes.
        (
            "@mean_a[mean_a] @mean_b[mean_b] @sd_a[sd] where 'mean_a' and 'mean_b' are numbers "
            "rounded to 2 decimal places. where sd is rounded to three decimal places.",
            "",
            {"mean_a": 2, "mean_b": 2, "sd_a": 3},
        ),
        # An integer described on its own, before a sentence with another precision.
        (
            '@n[count] @m[mean] @s[std] where "count" is an integer. where "mean" is rounded '
            'to two decimal places. where "std" is rounded to three decimal places.',
            "",
            {"m": 2, "s": 3},
        ),
        ("@a[x] where x is the mean.", "", {}),
    ],
)
def test_the_precision_each_answer_name_asks_for(format_, constraints, want):
    assert precisions(task_with(format_, constraints)) == want


def test_the_format_self_check_rounds_only_numbers_with_too_many_decimals():
    task = task_with(
        '@r[r_value] @p[p_value] @kind[k] where "r_value" is rounded to two decimal places. '
        '"p_value" is rounded to four decimal places. "k" is a string.'
    )
    given = {"r": "0.2051", "p": "0.00005", "kind": "linear"}
    assert conform(given, task) == {"r": "0.21", "p": "0.0001", "kind": "linear"}  # half up
    assert conform({"r": "0.2", "p": "1e-5"}, task) == {"r": "0.2", "p": "0.0000"}
    assert conform({"r": "about 0.2051", "p": "nan"}, task) == {"r": "about 0.2051", "p": "nan"}


def test_a_value_the_format_calls_a_whole_number_is_rounded_to_one():
    """`@mean_cases[mean_value] where "mean_value" is a positive integer`: the 1.5B computed
    the right mean, 2081990.36, and wrote it whole."""
    from da_cli.eval.run import is_whole, wholes

    task = task_with('@mean_cases[mean_value] where "mean_value" is a positive integer.')
    assert wholes(task) == {"mean_cases"}
    assert conform({"mean_cases": "2081990.3598"}, task, whole={"mean_cases"}) == {
        "mean_cases": "2081990"
    }
    assert conform({"mean_cases": "2081990.3598"}, task) == {"mean_cases": "2081990.3598"}
    assert is_whole("n", "@n[integer]") and is_whole("d", '@d[days] where "days" is a whole number')
    assert not is_whole("r", '@r[r] where "r" is a float, the integer part rounded.')
    assert not is_whole("c", '@c[name] where "name" is a string, e.g. an integer id.')
    several = '@m[month, year] where "month" and "year" are integers.'
    assert not is_whole("m", several)  # two values in one slot: free text
    # A precision the format states for the name wins over its type word.
    both = task_with('@n[n] where "n" is an integer mean, rounded to two decimal places.')
    assert conform({"n": "3.14159"}, both, whole=wholes(both)) == {"n": "3.14"}


def test_a_list_is_laid_out_as_the_formats_placeholder_lays_it_out():
    from da_cli.eval.dabench import separators

    tight = task_with("@ids[id1,id2,...] @n[count] @pair[low, high]")
    assert separators(tight) == {"ids": ",", "pair": ", "}
    given = {"ids": "(HA2)121, 326", "n": "3", "pair": "1,2"}
    assert conform(given, tight) == {"ids": "(HA2)121,326", "n": "3", "pair": "1, 2"}
    assert conform({"ids": "a, , b"}, tight) == {"ids": "a, , b"}  # an empty item: as written
    assert separators(task_with("@x[a,b, c]")) == {}  # the format itself is not consistent


@pytest.fixture
def bench(tmp_path):
    data = tmp_path / "bench"
    (data / "tables").mkdir(parents=True)
    (data / "tables" / "t.csv").write_text("x,y\n1,10\n2,20\n3,60\n")
    questions = [
        {
            "id": 7,
            "question": "Mean of y?",
            "constraints": "Two decimals.",
            "format": "@mean_y[value]",
            "file_name": "t.csv",
            "level": "easy",
        },
        {
            "id": 9,
            "question": "Max of x?",
            "constraints": "",
            "format": "@max_x[value]",
            "file_name": "t.csv",
            "level": "hard",
        },
    ]
    labels = [
        {"id": 7, "common_answers": [["mean_y", "30.00"]]},
        {"id": 9, "common_answers": [["max_x", "3"]]},
    ]
    (data / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    (data / "labels.jsonl").write_text("".join(json.dumps(row) + "\n" for row in labels))
    return data


def test_load_tasks_filters_by_level(bench):
    assert [t.id for t in load_tasks(bench)] == [7, 9]
    assert [t.id for t in load_tasks(bench, level="hard")] == [9]
    assert load_tasks(bench)[0].labels == (("mean_y", "30.00"),)


def test_eval_runs_the_agent_scores_and_resumes(bench, replay, tmp_path):
    model = replay(
        code_step('print(sql("SELECT round(avg(y), 2) AS m FROM t"))'),
        answer_step("The mean is @mean_y[30.0]."),
        code_step('print(sql("SELECT max(x) FROM t"))'),
        answer_step("The max is @max_x[4]."),
    )
    out = tmp_path / "runs.jsonl"
    args = ["eval", "dabench", "--data", str(bench), "--model", model, "-o", str(out), "--json"]
    r = run_da(*args)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert (summary["questions"], summary["correct"], summary["accuracy"]) == (2, 1, 50.0)
    assert summary["by_level"] == {
        "easy": {"questions": 1, "accuracy": 100.0},
        "hard": {"questions": 1, "accuracy": 0.0},
    }
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(row["id"], row["correct"]) for row in rows] == [(7, True), (9, False)]
    assert "<Execute>\n" in rows[0]["turn"] and "30.0" in rows[0]["turn"]  # for failure analysis
    # A second run finds both done and runs nothing (the replay script is used up).
    again = run_da(*args)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["correct"] == 1
    assert len(out.read_text().splitlines()) == 2


def test_eval_scores_every_analysis_of_a_vote(bench, replay, tmp_path):
    # Scored before the analyses' own answers were in the record, a run never said whether
    # one of them was right where the vote was not.
    steps = [code_step(f'print(sql("SELECT max(x) + {d} FROM t"))') for d in (0, 1)]
    steps += [answer_step(f"The max is @max_x[{v}].") for v in (3, 4)]
    out = tmp_path / "voted.jsonl"
    args = ["--data", str(bench), "--level", "hard", "-o", str(out), "-k", "2"]
    r = run_da("eval", "dabench", *args, "--model", replay(*steps))
    assert r.returncode == 0, r.stderr
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["samples_correct"] == [True, False] and row["correct"]


def test_rescore_scores_a_results_file_again_without_a_model(bench, tmp_path):
    out = tmp_path / "runs.jsonl"
    rows = [
        {"id": 7, "level": "easy", "answer": "@mean_y[30.004]", "formatted": "", "correct": False,
         "right": 0, "total": 1, "seconds": 1.0},
        {"id": 9, "level": "hard", "answer": "", "formatted": "@max_x[3]", "correct": False,
         "right": 0, "total": 1, "seconds": 1.0},
    ]  # fmt: skip
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = run_da("eval", "dabench", "--data", str(bench), "-o", str(out), "--rescore", "--json",
               "-m", "/nonexistent.gguf")  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    # 30.004 is 30.00 at the two decimals the constraints ask for; the raw rule says no.
    assert (summary["correct"], summary["accuracy"], summary["accuracy_raw"]) == (2, 100.0, 50.0)
    again = [json.loads(line) for line in out.read_text().splitlines()]
    assert again[0]["conformed"] == {"mean_y": "30.00"} and again[0]["correct_raw"] is False
    # results/ keeps runs gzip-compressed: they score again as they are, and stay compressed.
    packed = tmp_path / "runs.jsonl.gz"
    packed.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    r = run_da("eval", "dabench", "--data", str(bench), "-o", str(packed), "--rescore", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["correct"] == 2
    assert [json.loads(x) for x in gzip.decompress(packed.read_bytes()).splitlines()] == again
    nothing = tmp_path / "none.jsonl"
    for flag in ("--rescore", "--reformat"):
        missing = run_da("eval", "dabench", "--data", str(bench), flag, "-o", str(nothing))
        assert missing.returncode == 2 and "Traceback" not in missing.stderr
        assert f"{flag} needs the results file" in missing.stderr
    base = ("eval", "dabench", "--data", str(bench), "-o", str(out))
    for extra, says in (
        (("--rescore", "--reformat"), "not both"),
        (("--reformat", "--no-grammar"), "needs the grammar"),
        (("--reformat", "-m", f"replay:{tmp_path / 'x.jsonl'}"), "takes a grammar"),
    ):
        if "replay:" in extra[-1]:
            (tmp_path / "x.jsonl").write_text('{"text": "x"}\n')
        r = run_da(*base, *extra)
        assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_reformat_runs_only_the_format_step_again_on_the_recorded_turn(bench, tmp_path):
    from da_cli.eval.run import FORMAT_PROMPT, reformat
    from da_cli.models.replay import ReplayModel

    script = tmp_path / "script.jsonl"
    script.write_text(json.dumps({"text": "@mean_y[30.00]"}) + "\n")
    model = ReplayModel(script)
    model.supports_grammar = True  # the replay ignores the grammar; llama.cpp would apply it
    task = load_tasks(bench)[0]
    turn = "<Analyze>\nMean.\n</Analyze>\n<Answer>\nThe mean of y is thirty.\n</Answer>"
    record = {"id": 7, "answer": "The mean of y is thirty.", "formatted": "@mean_y[0]",
              "turn": turn, "seconds": 1.0}  # fmt: skip
    reformat(record, task, model)
    assert record["formatted"] == "@mean_y[30.00]" and record["correct"] is True
    (call,) = model.history  # one generation: the format step, on the recorded turn
    assert call["continuation"] == turn + FORMAT_PROMPT and '"@mean_y["' in call["grammar"]
    assert "t.csv" in call["messages"][-1]["content"]  # the prompt, rebuilt with its profile
    done = {"id": 7, "answer": "@mean_y[30.0]", "turn": turn, "seconds": 1.0}
    assert reformat(done, task, model)["formatted"] == "" and len(model.history) == 1
    cut = {"id": 7, "answer": "", "formatted": "@mean_y[0]", "turn": "x" * 12000}
    assert reformat(cut, task, model)["formatted"] == "@mean_y[0]"  # the turn was cut: as is
    from da_cli.cli.evaluate import _check_reformat
    from da_cli.errors import UsageError

    results = tmp_path / "runs.jsonl"
    results.write_text(json.dumps({"id": 7, "model": "another-model"}) + "\n")
    with pytest.raises(UsageError, match="analyses by another-model"):
        _check_reformat(results, model)  # continuing them needs the model that made them


def test_an_empty_value_the_model_wrote_is_an_answer(bench):
    from da_cli.eval.dabench import Task
    from da_cli.eval.run import needs_format

    task = Task(1, "Outliers?", "", "@outliers[list_of_ids] @n[count]", bench / "t.csv", "easy")
    assert not needs_format(task, "@outliers[] @n[0]")  # none: the step must not invent some
    assert needs_format(task, "@outliers[list_of_ids] @n[0]")  # the placeholder, copied
    assert needs_format(task, "There are none. @n[0]")


def test_summary_of_nothing():
    assert summarize([]) == {"questions": 0}


def test_a_vote_that_chose_wrong_where_one_analysis_was_right_is_counted(bench):
    from da_cli.eval.run import rescore

    task = load_tasks(bench)[1]  # @max_x, label 3
    voted = {
        "id": 9,
        "answer": "@max_x[4]",
        "formatted": "",
        "seconds": 1.0,
        "agreement": {"split": True},
        "sample_answers": ["@max_x[4]", "The max is @max_x[3]."],
    }
    rescore(voted, task)
    assert voted["correct"] is False and voted["samples_correct"] == [False, True]
    one = rescore({"id": 7, "answer": "@max_x[3]", "formatted": "", "seconds": 1.0}, task)
    s = summarize([voted, one])
    assert (s["voted"], s["split_votes"], s["missed_by_vote"]) == (1, 1, 1)
    assert "voted" not in summarize([one])


def test_not_a_dabench_dir_is_a_usage_error(tmp_path):
    r = run_da("eval", "dabench", "--data", str(tmp_path))
    assert r.returncode == 2
    assert "not a DABench directory" in r.stderr


def test_the_format_step_forces_numbers_where_the_format_asks_for_them():
    from llama_cpp import LlamaGrammar

    from da_cli.eval.run import format_grammar

    spec = (
        "@mean_fare[mean_fare_value] a float rounded to two decimals. @sex[gender] Male or Female"
    )
    grammar = format_grammar(["mean_fare", "sex"], spec)
    assert '"@mean_fare[" number "]"' in grammar and '"@sex[" text1 "]"' in grammar
    shared = "@a[mean_fare] @b[mean_fare] where mean_fare is a float rounded to 2 decimals."
    assert format_grammar(["a", "b"], shared).count("number") == 3  # both, and the rule
    LlamaGrammar.from_string(grammar, verbose=False)  # llama.cpp accepts it


def _language(grammar: str, rule: str) -> re.Pattern:
    """The text one rule of a format grammar admits, as a regular expression: its free-text
    rules are alternatives of a character class and another rule, or nothing."""
    rules = dict(line.split(" ::= ", 1) for line in grammar.splitlines() if " ::= " in line)

    def expand(name: str) -> str:
        if name == "tail":
            return rules["tail"]
        alts = []
        for alt in rules[name].split(" | "):
            if alt == '""':
                alts.append("")
            else:
                cls, ref = alt.split(" ")
                alts.append(cls + expand(ref))
        return "(?:" + "|".join(alts) + ")"

    return re.compile(expand(rule))


def test_the_format_step_never_writes_the_placeholder_back():
    """`@country_name[country]` was the 1.5B's formatted answer where its Answer said Congo;
    `@outliers[country1,country2,...]` where it had found none."""
    from llama_cpp import LlamaGrammar

    from da_cli.eval.run import format_grammar

    spec = '@country_name[country] @outliers[country1,country2,...] where "country" is a string.'
    grammar = format_grammar(["country_name", "outliers"], spec)
    LlamaGrammar.from_string(grammar, verbose=False)  # llama.cpp accepts it
    name, outliers = _language(grammar, "text0"), _language(grammar, "text1")
    for refused in ("country", "Country", "COUNTRY_NAME", "country_name"):
        assert not name.fullmatch(refused)
    for given in ("Congo", "countryside", "Count", "", "Côte d'Ivoire", "country_2", "countryé"):
        assert name.fullmatch(given)
    for copied in ('country where "country" is a string', "country,", "Country_name x"):
        assert not name.fullmatch(copied)  # the placeholder as a word, then the format's text
    assert not outliers.fullmatch("country1,country2,...") and not outliers.fullmatch("outliers")
    assert outliers.fullmatch("") and outliers.fullmatch("Kuwait, Saudi Arabia")
    assert not name.fullmatch("a]b") and not name.fullmatch("a\nb")


def test_the_format_step_reads_each_values_own_clause():
    """A format describes its values in one closing sentence; each value's type comes from
    the clause about it, so a word the format asks for is not forced into a number."""
    from da_cli.eval.run import is_number

    closing = (
        '@r[r_value] @kind[kind] where "r_value" is a number rounded to two decimals. '
        '"kind" is a string, either "up" or "down" based on the p-value.'
    )
    assert is_number("r", closing) and not is_number("kind", closing)
    phrase = '@verdict[A string, either "Yes" or "No"] @p[The p-value, rounded to 3 decimals]'
    assert not is_number("verdict", phrase) and is_number("p", phrase)
    listed = '@low[x] @mid[y] @top[z] where "x", "y" and "z" are floats.'
    assert all(is_number(n, listed) for n in ("low", "mid", "top"))
    general = "@low[low]\n@top[top]\nwhere each answer is rounded to two decimals."
    assert is_number("low", general) and is_number("top", general)
    several = '@pair[low, high] where "low" and "high" are integers.'
    assert not is_number("pair", several)  # two values in one slot: free text
    prose = '@m[mean] @s[std] where "mean" and "std" are the mean and std of x, rounded.'
    assert is_number("m", prose) and is_number("s", prose)
    assert is_number("n", "@n[integer]") and not is_number("c", "@c[country_name]")
    # The first type word decides; a later "either", "list" or "categories" does not.
    assert is_number("p", '@p[p_value] where "p_value" is a number. Use either test.')
    assert is_number("n", '@n[n] where "n" is an integer, the number of categories.')
    assert not is_number("a", "@a[x_val] @b[y_val] where x_val is a string and y_val is a float.")
    assert is_number("b", "@a[x_val] @b[y_val] where x_val is a string and y_val is a float.")


def test_the_format_step_keeps_a_value_to_the_choices_the_format_lists():
    from llama_cpp import LlamaGrammar

    from da_cli.eval.run import choices, format_grammar

    spec = (
        '@r[r_value] @kind[kind] where "r_value" is a number. "kind" is a string that can '
        'either be "up", "flat", or "down" based on the "trend" test.'
    )
    assert choices("kind", spec) == ["up", "flat", "down"] and choices("r", spec) == []
    grammar = format_grammar(["r", "kind"], spec)
    assert '"@kind[" ("up" | "flat" | "down") "]"' in grammar
    LlamaGrammar.from_string(grammar, verbose=False)
    assert choices("v", "@v[A string, either 'Normal' or 'Not Normal']") == ["Normal", "Not Normal"]
    assert choices("v", '@v[v_val] where v_val should be "yes", "no" or "maybe"') == [
        "yes",
        "no",
        "maybe",
    ]
    assert choices("v", r'@v[x] where "x" is either "a\b" or "c"') == []  # not a literal
    # Quoted words that are not a list of choices are no constraint.
    assert choices("s", '@s[status] where "status" is either "Normal" if p > 0.05, or not.') == []


def test_two_runs_are_compared_pair_by_pair_with_mcnemars_exact_test(tmp_path):
    from da_cli.eval import compare

    assert compare.mcnemar(0, 6) == 2 / 64  # all six discordant pairs one way
    assert abs(compare.mcnemar(1, 9) - 2 * 11 / 1024) < 1e-12
    assert compare.mcnemar(3, 3) == 1.0 and compare.mcnemar(0, 0) == 1.0
    before, after = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    rows_a = [{"id": i, "correct": i < 5} for i in range(10)]
    rows_b = [{"id": i, "correct": i < 5 or i in (7, 8, 9)} for i in range(1, 12)]
    before.write_text("".join(json.dumps(r) + "\n" for r in rows_a) + '{"id": 99, "corr')
    after.write_text("".join(json.dumps(r) + "\n" for r in rows_b))
    r = run_da("eval", "compare", str(before), str(after), "--json")
    assert r.returncode == 0, r.stderr
    c = json.loads(r.stdout)  # ids 1..9 in both; 7, 8, 9 right only after
    assert (c["questions"], c["before_right"], c["after_right"]) == (9, 4, 7)
    assert (c["only_before"], c["only_after"], c["p_value"]) == (0, 3, 0.25)
    other = tmp_path / "c.jsonl"
    other.write_text('{"id": 500, "correct": true}\n')
    r = run_da("eval", "compare", str(before), str(other))
    assert r.returncode == 2 and "no question in common" in r.stderr
    # results/ keeps its runs gzip-compressed: they compare as they are.
    packed = tmp_path / "b.jsonl.gz"
    packed.write_bytes(gzip.compress(after.read_bytes()))
    r = run_da("eval", "compare", str(before), str(packed), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["only_after"] == 3, r.stderr
    junk = tmp_path / "d.jsonl"
    junk.write_bytes(b"\x1f\x8b not gzip at all")
    r = run_da("eval", "compare", str(before), str(junk))
    assert r.returncode == 2 and "is not a results file" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_eval_tasks_scores_questions_whose_labels_code_computed(replay, tmp_path):
    # Questions `da synth` asks of a table it computed the labels for, answered by a replay
    # model: the first right, the second wrong; scored by the inspector's answer checks.
    data = tmp_path / "shop.csv"
    rows = [
        f"{r},{c},{100 + 37 * i % 250}"
        for i, (r, c) in enumerate(
            [(r, c) for r in ("North", "South", "East", "West") for c in ("Web", "Store")] * 6
        )
    ]
    data.write_text("region,channel,revenue\n" + "\n".join(rows) + "\n")
    tasks = tmp_path / "tasks.jsonl"
    r = run_da("synth", str(data), "--questions-only", "-o", str(tasks), "--n", "2",
               "--heldout", "0")  # fmt: skip
    assert r.returncode == 0, r.stderr
    items = [json.loads(line) for line in tasks.read_text().splitlines()]
    numeric = [i for i in items if any(c["kind"] == "number" for c in i["checklist"])]
    assert numeric, items
    value = next(c["args"]["value"] for c in numeric[0]["checklist"] if c["kind"] == "number")
    steps = []
    for say in (value, 987654321)[: len(items)]:
        steps += [code_step(f"print(sum([{say!r}]))"), answer_step(f"It is {say}.")]
    out = tmp_path / "before.jsonl"
    args = ["eval", "tasks", str(tasks), "-m", replay(*steps), "-o", str(out), "--json"]
    r = run_da(*args)
    assert r.returncode == 0, r.stderr
    results = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(results) == len(items) and results[0]["id"] != results[-1]["id"]
    first = next(x for x in results if x["question"] == numeric[0]["question"])
    assert first["correct"] and all(c["ok"] for c in first["checks"])
    assert not results[-1]["correct"]
    assert json.loads(r.stdout)["correct"] == 1
    # --rescore reads the checks from the tasks file as it is now and runs no model: a
    # label moved out of the first answer's reach makes it wrong, the file rewritten.
    moved = []
    for item in items:
        for c in item["checklist"]:
            if c["kind"] == "number":
                c["args"]["value"] += 1000
        moved.append(json.dumps(item))
    tasks.write_text("\n".join(moved) + "\n")
    r = run_da("eval", "tasks", str(tasks), "-o", str(out), "--rescore", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["correct"] == 0
    again = [json.loads(line) for line in out.read_text().splitlines()]
    assert [x["id"] for x in again] == [x["id"] for x in results]
    assert not any(x["correct"] for x in again) and again[0]["answer"] == results[0]["answer"]
    r = run_da("eval", "tasks", str(tasks), "-o", str(tmp_path / "gone.jsonl"), "--rescore")
    assert r.returncode == 2 and "needs the results file" in r.stderr
    r = run_da("eval", "tasks", str(tmp_path / "none.jsonl"), "-m", "replay:/x")
    assert r.returncode == 2 and "No tasks file" in r.stderr


def test_a_compressed_results_file_is_appended_to_and_read_back_whole(tmp_path):
    from da_cli.eval import results

    out = tmp_path / "runs.jsonl.gz"
    results.write(out, [{"id": 1, "correct": True}])
    with results.appender(out) as f:
        f.write(json.dumps({"id": 2, "correct": False}) + "\n")
    # An interrupted run: its last member flushed but never closed.
    f = results.appender(out)
    f.write(json.dumps({"id": 3, "correct": True}) + "\n")
    f.flush()
    assert list(results.read(out)) == [1, 2, 3]
    f.close()
    plain = tmp_path / "runs.jsonl"
    with results.appender(plain) as f:
        f.write(json.dumps({"id": "a", "correct": True}) + "\n")
    assert plain.read_text().startswith("{")  # a plain name stays plain text
    assert results.read(plain)["a"]["correct"] is True
