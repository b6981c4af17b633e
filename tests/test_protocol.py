import pytest

from da_cli.agent import protocol


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
    assert "shop_sales" in system("which city sold the most?")
