"""The real embedded model through the real CLI. Slow (tens of seconds each); `make test`
runs the ones marked smoke, `make test-all` runs them all."""

import json
import re

import pytest
from conftest import SALES, WAREHOUSE, run_da

from da_cli.models.catalog import SMALL_MODEL

pytestmark = pytest.mark.slow


@pytest.mark.smoke
def test_embedded_model_counts_the_orders(default_model):
    r = run_da("analyze", str(SALES), "-", "--json", stdin="how many orders are there?\n")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["model"] == default_model
    assert "5319" in out["answer"].replace(",", "")
    assert out["code"], "the answer must come from code that ran"
    assert out["usage"]["format_failures"] == 0


@pytest.mark.smoke
def test_embedded_model_finds_the_planted_cause_of_the_q3_drop(default_model):
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
def test_embedded_model_joins_tables_to_name_the_top_customer(default_model):
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

    model = load_model(SMALL_MODEL)
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

    model = load_model(SMALL_MODEL)
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


@pytest.mark.smoke
def test_a_sampled_step_depends_on_its_seed_alone_not_on_what_was_sampled_before():
    # One analysis samples after a repeat (K = 1 goes through `generate`, not the batch).
    # llama-cpp-python, given no seed, draws the next from its last one: the same question
    # answered otherwise after other questions had sampled in the same `da eval` run.
    from da_cli.agent import protocol
    from da_cli.models import load_model
    from da_cli.models.base import Request, generate_all

    model = load_model(SMALL_MODEL)
    try:
        messages = [{"role": "user", "content": "Name three colours, then stop."}]

        def ask(seed: int) -> str:
            req = Request(messages, "", protocol.STOP, None, 24, 0.9, seed)
            return generate_all(model, [req])[0].text

        first = ask(7)
        ask(8), ask(9)  # other sampled steps in the same process
        assert ask(7) == first
        assert len({first, ask(8), ask(9)}) > 1
    finally:
        model.close()


def _speculative_cases():
    """The agent's first step on examples/sales.xlsx and its step after a table was printed
    (it restates the table: the copying case), with the protocol's grammar and without."""
    from da_cli.agent import protocol
    from da_cli.agent.session import Session

    opening = Session([str(SALES)]).opening("Which region had the highest revenue in 2025?")
    table = (
        "region | revenue | orders\nNorth | 643806.2 | 754\nEast | 621877.03 | 725\n"
        "West | 568549.31 | 619\nSouth | 439822.41 | 547"
    )
    first_step = (
        "<Analyze>\nTo answer this, I will sum the 2025 revenue of each region.\n</Analyze>\n"
        '<Code>\n```python\nprint(sql("SELECT region, sum(revenue) AS revenue, count(*) AS '
        "orders FROM orders WHERE year(order_date) = 2025 GROUP BY region ORDER BY revenue "
        'DESC"))\n```\n</Code>' + protocol.execute_block(table)
    )
    return opening.messages, [
        ("", protocol.FIRST_GRAMMAR, 200),
        ("", None, 200),
        (first_step, protocol.STEP_GRAMMAR, 160),
        (first_step, None, 160),
    ]


class _Decoder:
    """The embedded model through LlamaCppModel.generate, each call from the same evaluated
    prompt: the KV cache holds it, evaluated once, and the call evaluates its last token
    again, alone (the same logits on every side, see the test above). `mode`: "plain"
    (llama-cpp-python's create_completion), "undrafted" (models/speculative.py with drafting
    off: one token a batch) or "drafted". Returns the Generation, every sampled token (not
    in plain mode) and what the KV cache holds after the call."""

    def __init__(self, monkeypatch) -> None:
        from da_cli.models import load_model, speculative

        self.model = load_model(SMALL_MODEL)
        self.llm = self.model._llm
        self.drafting = True
        endings = self.endings = []

        class Recorded(speculative.Ending):
            def __init__(self, *args) -> None:
                super().__init__(*args)
                endings.append(self)

        draft = speculative.PromptLookup.draft
        monkeypatch.setattr(speculative, "Ending", Recorded)
        monkeypatch.setattr(
            speculative.PromptLookup,
            "draft",
            lambda lookup, limit=16: draft(lookup, limit) if self.drafting else [],
        )

    def __call__(self, messages, continuation, grammar, n, mode: str):
        from da_cli.agent import protocol

        self.model.speculative = mode != "plain"
        self.drafting = mode == "drafted"
        llm = self.llm
        prompt = self.model.tokenize(self.model.render(messages, continuation))
        if llm.n_tokens < len(prompt) or llm.input_ids[: len(prompt)].tolist() != prompt:
            llm.reset()
            llm.eval(prompt)
        llm._ctx.kv_cache_seq_rm(-1, len(prompt), -1)
        llm.n_tokens, llm._requires_eval = len(prompt), True
        gen = self.model.generate(
            messages, continuation, stop=protocol.STOP, grammar=grammar, max_tokens=n
        )
        tokens = None if mode == "plain" else self.endings[-1].tokens
        return gen, tokens, self.llm.input_ids[: self.llm.n_tokens].tolist()


def test_speculative_machinery_ends_a_call_exactly_as_create_completion(monkeypatch):
    # With drafting off, models/speculative.py decodes one token a batch, as llama-cpp-
    # python does, so its logits are the same: its text, token count, finish reason (stop
    # strings, end of turn, max_tokens), the restored stop string and the KV-cache
    # bookkeeping that the next call's prefix reuse reads must be exactly create_completion's.
    decode = _Decoder(monkeypatch)
    messages, cases = _speculative_cases()
    cases.append(("", None, 7))  # ends by max_tokens
    try:
        for continuation, grammar, n in cases:
            ours, _, our_cache = decode(messages, continuation, grammar, n, "undrafted")
            plain, _, plain_cache = decode(messages, continuation, grammar, n, "plain")
            assert ours.text == plain.text
            assert (ours.completion_tokens, ours.finish) == (plain.completion_tokens, plain.finish)
            assert our_cache == plain_cache
    finally:
        decode.model.close()


def test_speculative_decoding_parts_from_plain_decoding_only_at_near_ties(monkeypatch):
    # Verifying drafts in one batch picks, at each position, the token the sampler picks
    # from that batch's logits. llama.cpp's batched CPU kernels give logits up to about 0.3
    # away from its one-token ones, so where plain decoding's two best tokens are that close
    # the texts can part. Where they part, plain decoding's margin must be that small: a
    # wrongly taken draft would sit far below the best token. Where they do not, everything
    # else must agree too. (The test above shows undrafted decoding is plain decoding.)
    import numpy as np

    decode = _Decoder(monkeypatch)
    llm = decode.llm
    messages, cases = _speculative_cases()
    try:
        for continuation, grammar, n in cases:
            fast, fast_tokens, fast_cache = decode(messages, continuation, grammar, n, "drafted")
            plain, plain_tokens, plain_cache = decode(
                messages, continuation, grammar, n, "undrafted"
            )
            if fast.text == plain.text:
                assert fast_tokens == plain_tokens and fast_cache == plain_cache
                assert (fast.completion_tokens, fast.finish) == (
                    plain.completion_tokens,
                    plain.finish,
                )
                continue
            pairs = enumerate(zip(fast_tokens, plain_tokens, strict=False))
            short = min(len(fast_tokens), len(plain_tokens))  # one ended there (end of turn)
            j = next((i for i, (a, b) in pairs if a != b), short)
            assert j > 0, "the first token comes from the same prompt evaluation"
            # Plain decoding's logits at j: the same call, one token at a time, up to j.
            decode(messages, continuation, grammar, j, "undrafted")
            llm.eval([plain_tokens[j - 1]])
            row = llm._ctx.get_logits_ith(-1)
            logits = np.ctypeslib.as_array(row, shape=(llm.n_vocab(),)).copy()
            seen = np.array(sorted(set(plain_tokens[:j][-llm.last_n_tokens_size :])))
            hit = logits[seen]
            logits[seen] = np.where(hit <= 0, hit * 1.1, hit / 1.1)  # the repeat penalty
            plain_pick, fast_pick = ((*t, llm.token_eos())[j] for t in (plain_tokens, fast_tokens))
            margin = logits[plain_pick] - logits[fast_pick]
            assert 0 <= margin < 1.0, (continuation[:20], grammar is not None, j, margin)
    finally:
        decode.model.close()
