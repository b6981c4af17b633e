import pytest

from da_cli.agent import prompts, protocol
from da_cli.models.catalog import EMBEDDED, SMALL_MODEL, is_assembled


def test_parse_step_with_code_takes_the_first_python_fence():
    step = protocol.parse_step(
        "<Analyze>\nCount rows.\n</Analyze>\n<Code>\n```python\nprint(1)\n```\n</Code>"
    )
    assert step.analyze == "Count rows."
    assert step.code == "print(1)"
    assert step.answer is None


def test_parse_step_with_answer():
    step = protocol.parse_step(
        "<Analyze>\nDone.\n</Analyze>\n<Answer>\nThere are 5 rows.\n</Answer>"
    )
    assert step.answer == "There are 5 rows."
    assert step.code is None


def test_code_without_fence_is_taken_whole():
    assert protocol.parse_step("<Code>\nx = 1\nprint(x)\n</Code>").code == "x = 1\nprint(x)"


def test_unclosed_code_block_still_parses():
    assert protocol.parse_step("<Analyze>a</Analyze><Code>\n```python\nprint(2)\n").code == (
        "print(2)\n"
    ).strip("\n")


def test_understand_block_is_read():
    step = protocol.parse_step("<Analyze>a</Analyze>\n<Understand>\ncols\n</Understand>\n")
    assert step.understand == "cols"


def test_an_answer_ends_at_a_protocol_tag_inside_it():
    # Sent back once, a model copies the Execute block that said why into its next Answer.
    text = (
        "<Analyze>\nDone.\n</Analyze>\n<Answer>\nThe coefficient is 0.21.\n\n<Execute>\n"
        "The answer states no value that an output shows.\n</Answer>"
    )
    assert protocol.parse_step(text).answer == "The coefficient is 0.21."
    # Held off "<Execute>" by the grammar, the 1.5B wrote "< Execute>" or "<Final Answer>".
    for tag in ("< Execute>", "<Final Answer>"):
        said = text.replace("<Execute>", tag)
        assert protocol.parse_step(said).answer == "The coefficient is 0.21.", tag
    assert protocol.parse_step("<Answer>\nA < B > C in 3 of 4.</Answer>").answer == (
        "A < B > C in 3 of 4."
    )
    assert protocol.parse_step("<Answer>\nA < B holds for 3 of 4.</Answer>").answer == (
        "A < B holds for 3 of 4."
    )


def test_a_looping_answer_is_cut_at_its_first_repeated_sentence():
    loop = "Since there are no orders, no customer has the most orders. "
    text = "The table is empty. " + loop * 12
    assert protocol.parse_step(f"<Answer>\n{text}").answer == "The table is empty. " + loop.strip()
    plain = "Paris sold 1,520.5. Paris sold 1,520.5 in total, ahead of Oslo."
    assert protocol.trim_repetition(plain) == plain


def test_normalize_code_ignores_whitespace_and_comments():
    a = "x = 1\n\n# comment\nprint( x )"
    b = "x = 1   # set\nprint( x )\n"
    assert protocol.normalize_code(a) == protocol.normalize_code(b)
    assert protocol.normalize_code("print('#')") != protocol.normalize_code("print('x')")


def test_execute_block_layout():
    assert protocol.execute_block("5") == "\n<Execute>\n5\n</Execute>\n"


@pytest.mark.parametrize(
    "grammar",
    [
        protocol.STEP_GRAMMAR,
        protocol.CODE_GRAMMAR,
        protocol.ANSWER_GRAMMAR,
        protocol.AFTER_ANALYZE_GRAMMAR,
        protocol.AFTER_ANALYZE_CODE_GRAMMAR,
        protocol.FIRST_GRAMMAR,
    ],
)
def test_grammars_compile_in_llama_cpp(grammar):
    from llama_cpp import LlamaGrammar

    assert LlamaGrammar.from_string(grammar, verbose=False) is not None


def test_tag_tokens_are_the_ten_protocol_strings():
    assert len(protocol.TAG_TOKENS) == 10
    assert "<Execute>" in protocol.TAG_TOKENS and "</Answer>" in protocol.TAG_TOKENS


def test_change_questions_get_the_change_example_and_helper():
    from da_cli.agent import loop

    def system(question: str) -> str:
        return loop.new_transcript(question, [], "profile", ["t"]).messages[0]["content"]

    assert "explain_change(" in system("Why did sales drop in March?")
    assert "explain_change(" in system("how did revenue change in 2025?")
    assert "explain_change(" not in system("How many orders are there?")
    for change in (
        "Q3 revenue dropped. Which region is responsible?",
        "Did revenue fall in Q3?",
        "How has churn changed since 2024?",
        "What caused the dip in July?",
    ):
        assert prompts.is_change_question(change), change
    for rule in (  # change words in a computation's wording (DABench dev questions)
        "Count the values that fall below Q1 - 1.5 * IQR or above Q3 + 1.5 * IQR.",
        "Values in this column should not be rounded or changed in any way.",
        "Drop these rows and create a new dataframe.",
        "Calculate the percentage change in the Close price from the previous day.",
        "Titles that do not fall within these four categories should be eliminated.",
    ):
        assert not prompts.is_change_question(rule), rule
    assert "shop_sales" in system("which city sold the most?")


@pytest.fixture(scope="module")
def vocab():
    """The embedded model's vocabulary (no weights): grammars are checked on real tokens."""
    model = EMBEDDED[SMALL_MODEL]
    if not is_assembled(model):
        pytest.skip("the embedded model (and so its vocabulary) is not installed")
    import llama_cpp

    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    loaded = llama_cpp.llama_model_load_from_file(str(model.path).encode(), params)
    yield llama_cpp.llama_model_get_vocab(loaded)
    llama_cpp.llama_model_free(loaded)


def writes(vocab, grammar: str, text: str) -> bool:
    """Whether llama.cpp's grammar lets a model write exactly `text` and stop there."""
    import ctypes
    import math

    import llama_cpp as c

    sampler = c.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
    one = (c.llama_token_data * 1)()
    array = c.llama_token_data_array(data=one, size=1, selected=-1, sorted=False)

    def allowed(token: int) -> bool:
        one[0].id, one[0].logit, one[0].p = token, 0.0, 0.0
        c.llama_sampler_apply(sampler, ctypes.byref(array))
        return math.isfinite(one[0].logit)

    raw = text.encode()
    tokens = (c.llama_token * (len(raw) + 8))()
    n = c.llama_tokenize(vocab, raw, len(raw), tokens, len(raw) + 8, False, False)
    try:
        for token in tokens[:n]:
            if not allowed(token):
                return False
            c.llama_sampler_accept(sampler, token)
        return allowed(c.llama_vocab_eos(vocab))
    finally:
        c.llama_sampler_free(sampler)


CODE = "```python\nprint(len(orders))\n```\n</Code>"


@pytest.mark.parametrize(
    "grammar", [protocol.STEP_GRAMMAR, protocol.CODE_GRAMMAR, protocol.FIRST_GRAMMAR]
)
def test_a_fence_opened_in_analyze_is_the_steps_code(vocab, grammar):
    opening = "<Analyze>\nTo answer this, I will count `orders` rows (x < 5).\n"
    assert writes(vocab, grammar, opening + "</Analyze>\n<Code>\n" + CODE)
    assert writes(vocab, grammar, opening + "\n" + CODE)
    # ... and the code ends the step: no invented output, no more analysis after it.
    assert not writes(vocab, grammar, opening + CODE[: -len("</Code>")] + "```output\n3\n```")
    assert not writes(vocab, grammar, opening + CODE + "\n</Analyze>")


@pytest.mark.parametrize(
    "grammar", [protocol.STEP_GRAMMAR, protocol.CODE_GRAMMAR, protocol.FIRST_GRAMMAR]
)
def test_a_code_tag_opened_in_analyze_is_the_steps_code_block(vocab, grammar):
    # Small models write "<Code>" inside Analyze and their code there, unfenced.
    opening = "<Analyze>\nTo answer this, I will count the rows.\n\n"
    assert writes(vocab, grammar, opening + "<Code>\n" + CODE)
    assert not writes(vocab, grammar, opening + "<Code>\nprint(1)\n</Analyze>\n<Code>\n" + CODE)
    # No other tag hides in Analyze text; an Answer opens there only where one may come.
    assert not writes(vocab, grammar, opening + "<Execute>\n3\n</Analyze>\n<Code>\n" + CODE)
    answer = opening + "<Answer>\nThere are 3.\n</Answer>"
    assert writes(vocab, grammar, answer) == (grammar == protocol.STEP_GRAMMAR)
    assert writes(
        vocab, grammar, opening.replace("rows", "rows (x <b> y)") + "</Analyze>\n<Code>\n" + CODE
    )


def test_analyze_and_answer_text_cannot_hide_a_closing_tag_behind_a_backtick(vocab):
    opening = "<Analyze>\nTo answer this, I will "
    hidden = opening + "`</Analyze>\nstill analysis\n</Analyze>\n<Code>\n" + CODE
    assert not writes(vocab, protocol.FIRST_GRAMMAR, hidden)
    assert writes(vocab, protocol.FIRST_GRAMMAR, opening + "`x`</Analyze>\n<Code>\n" + CODE)
    answer = "<Answer>\nThe total is `5319`.\n</Answer>"
    assert writes(vocab, protocol.ANSWER_GRAMMAR, answer)
    assert writes(vocab, protocol.ANSWER_GRAMMAR, "<Answer>\nIt is `5319`</Answer>")
    assert not writes(vocab, protocol.ANSWER_GRAMMAR, answer.replace("`5319`", "```\n5319\n```"))
    # A model sent back once went on after its Answer with an Execute of its own.
    assert not writes(vocab, protocol.ANSWER_GRAMMAR, answer.replace("\n</", "\n<Execute>\nok\n</"))
    assert writes(vocab, protocol.ANSWER_GRAMMAR, answer.replace("\n</", " (x <b> y)\n</"))


def test_a_fence_after_the_answer_text_ends_the_answer(vocab):
    fenced = "<Answer>\n@mean_fare[34.65]\n```\n</Answer>"
    assert writes(vocab, protocol.ANSWER_GRAMMAR, fenced)
    assert protocol.parse_step(fenced).answer == "@mean_fare[34.65]"
    assert protocol.parse_step(fenced.replace("```", "````")).answer == "@mean_fare[34.65]"
    assert protocol.parse_step("<Answer>\nIt is `x`\n</Answer>").answer == "It is `x`"
    # ... not the start of an explanation, and not an Answer of its own.
    assert not writes(vocab, protocol.ANSWER_GRAMMAR, fenced.replace("```\n", "```\nThis code"))
    assert not writes(vocab, protocol.ANSWER_GRAMMAR, "<Answer>\n```\n</Answer>")


def test_canonical_puts_inline_code_in_the_protocols_layout():
    inline = "<Analyze>\nCount them.\n\n```py\nprint(1)\n```\n</Code>"
    fixed = protocol.canonical(inline)
    assert fixed == "<Analyze>\nCount them.\n</Analyze>\n<Code>\n```python\nprint(1)\n```\n</Code>"
    assert protocol.parse_step(fixed).code == "print(1)"
    # Should a model go on after the fence, only the code is kept.
    chatty = "<Analyze>\nCount.\n```python\nprint(1)\n```\n```output\n9\n```\nSo 9."
    assert protocol.canonical(chatty).endswith("print(1)\n```\n</Code>")
    normal = "<Analyze>\nx\n</Analyze>\n<Code>\n```python\nprint(1)\n```\n</Code>"
    assert protocol.canonical(normal) == normal
    # A Code or Answer tag opened inside Analyze closes the Analyze before it.
    assert protocol.canonical(normal.replace("\n</Analyze>", "\n")) == normal
    answered = protocol.canonical("<Analyze>\nDone.\n<Answer>\n3 rows.\n</Answer>")
    assert answered == "<Analyze>\nDone.\n</Analyze>\n<Answer>\n3 rows.\n</Answer>"
    assert protocol.parse_step(answered).analyze == "Done."


@pytest.mark.parametrize(
    "text, prose",
    [
        # The budget ended mid-code in a backend without a grammar.
        (
            "<Analyze>\nSum revenue by region.\n</Analyze>\n<Code>\n```python\nsql('SELECT",
            "Sum revenue by region.",
        ),
        # The model wrote its own Execute (invented output) and went on.
        (
            "<Analyze>\nCount them.\n</Analyze>\n<Code>\nprint(1)\n</Code>\n"
            "<Execute>\n5319\n</Execute>\n<Analyze>\nThere are many.",
            "Count them.\n\nThere are many.",
        ),
        # Code opened as a fence inside Analyze, and a tag cut in half at the end.
        (
            "<Analyze>\nLook first.\n```python\ndf.head()\n```\nThen decide.\n</Ana",
            "Look first.\n\nThen decide.",
        ),
        (
            "<Understand>\nIt is monthly data.\n</Understand>\n<Answer>\nQ3 fell 12 %.",
            "It is monthly data.\n\nQ3 fell 12 %.",
        ),
        ("<Code>\n```python\nx = 1\n```\n</Code>", ""),
        ("No tags at all: 3 < 4.", "No tags at all: 3 < 4."),
    ],
)
def test_plain_text_never_keeps_protocol_markup(text, prose):
    out = protocol.plain_text(text)
    assert out == prose
    for tag in protocol.TAG_TOKENS:
        assert tag not in out
    assert "```" not in out
