"""The OpenAI-compatible backend against a scripted local server, through the real CLI."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import SALES, answer_step, code_step, run_da

from da_cli.agent import protocol
from da_cli.errors import ModelError
from da_cli.models.openai_compat import _matched_stop, parse_spec

COUNT = 'print(sql("SELECT count(*) AS n FROM orders").n[0])'


class Scripted(BaseHTTPRequestHandler):
    """Streams the next scripted reply the way OpenAI does: cut at the first stop string,
    which is dropped, then finish_reason "stop"."""

    replies: list[str] = []
    requests: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append({"path": self.path, "auth": self.headers["Authorization"], **body})
        text = self.replies.pop(0)
        cuts = [text.find(s) for s in body.get("stop", []) if s in text]
        if cuts:
            text = text[: min(cuts)]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for i in range(0, len(text), 7):
            self._event({"choices": [{"index": 0, "delta": {"content": text[i : i + 7]}}]})
        self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        self._event({"choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 20}})
        self.wfile.write(b"data: [DONE]\n\n")

    def _event(self, obj: dict) -> None:
        self.wfile.write(f"data: {json.dumps(obj)}\n\n".encode())

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    Scripted.replies, Scripted.requests = [], []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_analyze_through_an_openai_compatible_endpoint(server, monkeypatch):
    monkeypatch.setenv("DA_OPENAI_API_KEY", "sk-test")
    Scripted.replies = [code_step(COUNT), answer_step("There are 5319 orders.")]
    r = run_da("analyze", str(SALES), "how many orders?", "--model", f"openai:{server}#tiny")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "There are 5319 orders."
    first, second = Scripted.requests
    assert first["path"] == "/v1/chat/completions"
    assert first["model"] == "tiny" and first["stream"] is True
    assert first["stop"] == protocol.STOP
    assert first["auth"] == "Bearer sk-test"
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    # The second call continues the same assistant turn, which holds the code and its output.
    last = second["messages"][-1]
    assert last["role"] == "assistant" and second["continue_final_message"] is True
    assert last["content"].endswith("</Code>\n<Execute>\n5319\n</Execute>\n")


def test_base_url_from_the_environment(server, monkeypatch):
    monkeypatch.setenv("DA_OPENAI_BASE_URL", server)
    Scripted.replies = [code_step(COUNT), answer_step("5319.")]
    r = run_da("analyze", str(SALES), "how many orders?", "--model", "openai:tiny", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["model"] == "openai:tiny" and out["answer"] == "5319."
    assert out["usage"]["prompt_tokens"] == 200


def test_an_unreachable_endpoint_is_a_model_error():
    r = run_da("analyze", str(SALES), "q", "--model", "openai:http://127.0.0.1:9/v1#x")
    assert r.returncode == 4
    assert "cannot be reached" in r.stderr and "Traceback" not in r.stderr


def test_spec_parsing(monkeypatch):
    monkeypatch.delenv("DA_OPENAI_BASE_URL", raising=False)
    assert parse_spec("openai:http://h:8000/v1/#org/model-7b") == (
        "http://h:8000/v1",
        "org/model-7b",
    )
    with pytest.raises(ModelError):
        parse_spec("openai:model")
    monkeypatch.setenv("DA_OPENAI_BASE_URL", "http://h/v1")
    assert parse_spec("openai:model") == ("http://h/v1", "model")


def test_the_dropped_stop_string_is_restored():
    assert _matched_stop("<Code>\nx", None, protocol.STOP) == "</Code>"
    assert _matched_stop("<Answer>\nok", None, protocol.STOP) == "</Answer>"
    assert _matched_stop("anything", "</Answer>", protocol.STOP) == "</Answer>"
    assert _matched_stop("<Code>x</Code> done", None, protocol.STOP) == ""


def test_several_analyses_are_concurrent_requests_with_their_own_seeds(server, monkeypatch):
    # Both analyses ask the same thing here, so the order the threads reach the server in
    # does not matter: each gets a code step, then an answer.
    Scripted.replies = [code_step(COUNT)] * 2 + [answer_step("There are 5319 orders.")] * 2
    r = run_da(
        "analyze", str(SALES), "how many orders?", "-k", "2", "--json",
        "--model", f"openai:{server}#tiny",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["agreement"]["agreeing"] == 2
    first_round = Scripted.requests[:2]
    assert sorted(q["temperature"] for q in first_round) == [0.0, 0.7]
    assert [q.get("seed") for q in first_round if q["temperature"] > 0] == [1009]
