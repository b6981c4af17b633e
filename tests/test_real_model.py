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


@pytest.mark.smoke
def test_grammar_fast_path_decodes_exactly_what_the_sampler_chain_does():
    # models/sampling.py tests only the greedy token against the grammar; llama-cpp-python's
    # chain masks the whole vocabulary. Greedy, both must give the same text, token for
    # token, past the 64-token repeat-penalty window and through forced grammar closings.
    # Each call starts from an empty KV cache: a prompt evaluated in another batch split
    # gives logits that differ in the last bits, which can flip a near-tie either way.
    from da_cli.agent import protocol
    from da_cli.eval.run import format_grammar
    from da_cli.models import load_model, sampling

    model = load_model(None)
    llm = model._llm
    messages = [
        {"role": "system", "content": "Answer with <Analyze> then <Code> blocks."},
        {"role": "user", "content": "Table `sales` has region and revenue. Total per region?"},
    ]
    cases = [
        ("", protocol.FIRST_GRAMMAR, 200),
        ("The mean is 3.5.\nThe final answer:\n", format_grammar(["mean", "n"]), 40),
    ]
    try:
        for continuation, grammar, n in cases:
            sampling.install(llm)
            llm.reset()
            fast = model.generate(messages, continuation, stop=[], grammar=grammar, max_tokens=n)
            assert isinstance(llm._sampler, sampling.GreedyGrammarSampler)
            del llm._init_sampler
            llm.reset()
            chain = model.generate(messages, continuation, stop=[], grammar=grammar, max_tokens=n)
            assert not isinstance(llm._sampler, sampling.GreedyGrammarSampler)
            assert fast.text == chain.text and fast.completion_tokens == chain.completion_tokens
        assert fast.text.startswith("@mean[") and "\n@n[" in fast.text
    finally:
        model.close()


@pytest.mark.smoke
def test_batched_sequences_share_the_prompt_and_sample_on_their_own():
    # K analyses in one llama.cpp batch: a shared prompt evaluated once for all, greedy
    # sequences decoding alike, sampled ones reproducible by their seed and under the
    # grammar (every one a well-formed first step).
    from da_cli.agent import protocol
    from da_cli.models import load_model
    from da_cli.models.base import Request

    model = load_model(None)
    try:
        messages = [
            {"role": "system", "content": "You analyse data. Answer with the protocol tags."},
            {"role": "user", "content": "Table orders(region, revenue). Which region sold most?"},
        ]

        def ask(temps_seeds):
            reqs = [
                Request(messages, "", protocol.STOP, protocol.FIRST_GRAMMAR, 48, t, s)
                for t, s in temps_seeds
            ]
            return model.generate_many(reqs)

        greedy, twin, sampled, other = ask([(0.0, 0), (0.0, 0), (0.9, 1), (0.9, 2)])
        assert greedy.text == twin.text and greedy.completion_tokens == 48
        prompt_tokens = len(model.tokenize(model.render(messages, "")))
        assert greedy.prompt_tokens == prompt_tokens
        again = ask([(0.0, 0), (0.0, 0), (0.9, 1), (0.9, 2)])
        assert again[0].prompt_tokens == 1  # the cache kept each sequence's prompt
        assert again[2].text == sampled.text and again[3].text == other.text
        assert len({greedy.text, sampled.text, other.text}) == 3
        for g in (greedy, sampled, other):
            assert g.text.startswith("<Analyze>")
    finally:
        model.close()
