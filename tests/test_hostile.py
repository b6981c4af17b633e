"""Hostile generated code, driven through the real CLI with the replay model: each case must
be contained, come back to the model as an Execute error, and the session must still reach
its Answer. Afterwards the source is byte-identical, no process is left and nothing was
written outside the workspace."""

import json
import os
import socket
import sys
import threading

import pytest
from conftest import answer_step, code_step, run_da, sha256

from da_cli.sandbox import isolation

MARK = f"da-hostile-{os.getpid()}"

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="namespace containment is Linux-only"
)


def test_namespaces_are_available():
    # The Makefile installs bubblewrap; without it every case below would prove less.
    assert isolation.bubblewrap(), "bubblewrap is missing or cannot create namespaces"


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "data" / "orders.csv"
    path.parent.mkdir()
    path.write_bytes(b"id,amount\n1,10\n2,20\n")
    return path


@pytest.fixture
def listener():
    """A server on 127.0.0.1 that records whether anything connected."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    hits: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            hits.append("connected")
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], hits
    stop.set()
    thread.join()
    server.close()


def analyze(replay, source, code: str) -> dict:
    model = replay(code_step(code), answer_step("contained"))
    r = run_da(
        "analyze",
        str(source),
        "q",
        "--model",
        model,
        "--json",
        "--cell-timeout",
        "5",
        timeout=180,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["answer"] == "contained"
    return out


def execute_error(out: dict) -> str:
    (turn,) = [t for t in out["turns"] if t["kind"] == "execute"]
    assert turn.get("error"), f"the model was not told the cell failed: {turn['text']!r}"
    return turn["text"]


def processes_with(marker: str) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(pid)
        except OSError:
            pass
    return found


def test_a_socket_to_a_local_server_fails(replay, source, listener):
    port, hits = listener
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3)"
    text = execute_error(analyze(replay, source, code))
    assert "Error" in text
    assert hits == []


def test_writing_outside_the_workspace_fails(replay, source, tmp_path):
    target = tmp_path / "escaped.txt"
    text = execute_error(analyze(replay, source, f"open({str(target)!r}, 'w').write('x')"))
    assert "Error" in text
    assert not target.exists()


@pytest.mark.parametrize(
    "code",
    ["import os\nos.remove({src!r})", "open({src!r}, 'a').write('tampered')"],
    ids=["delete", "modify"],
)
def test_the_source_cannot_be_deleted_or_changed(replay, source, code):
    before = sha256(source)
    text = execute_error(analyze(replay, source, code.format(src=str(source))))
    assert "Read-only file system" in text or "Device or resource busy" in text
    assert sha256(source) == before


def test_files_outside_the_sources_cannot_be_read(replay, source, tmp_path):
    key = tmp_path / "home" / ".ssh" / "id_ed25519"
    key.parent.mkdir(parents=True)
    key.write_text("PRIVATE-KEY-" + MARK)
    out = analyze(replay, source, f"print(open({str(key)!r}).read())")
    assert "No such file or directory" in execute_error(out)
    assert MARK not in json.dumps(out)


def test_a_fork_bomb_is_contained(replay, source):
    out = analyze(replay, source, "import os\nwhile True:\n    os.fork()")
    assert execute_error(out)


def test_allocating_30_gb_fails(replay, source):
    assert "MemoryError" in execute_error(analyze(replay, source, "b = bytearray(30 << 30)"))


def test_an_endless_loop_is_interrupted(replay, source):
    assert "TimeoutError" in execute_error(analyze(replay, source, "while True:\n    pass"))


def test_killing_the_parent_does_not_reach_the_cli(replay, source):
    # In its own PID namespace the worker's parent is bubblewrap's init, which ignores the
    # signal; the CLI is invisible. The session simply goes on to its Answer.
    analyze(replay, source, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)")


def test_a_daemon_does_not_outlive_its_cell(replay, source):
    code = (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', {MARK!r}],"
        " start_new_session=True)"
    )
    assert "background" in execute_error(analyze(replay, source, code))
    assert processes_with(MARK) == []


def test_printing_100_mb_comes_back_cut(replay, source):
    out = analyze(replay, source, "print('x' * 100_000_000)")
    (turn,) = [t for t in out["turns"] if t["kind"] == "execute"]
    assert "bytes of output cut" in turn["text"]
    assert len(turn["text"]) < 10_000


def test_after_the_suite_nothing_is_left(tmp_path):
    # Runs last in this module (pytest keeps file order): no process of any case survives.
    assert processes_with(MARK) == []
    base = str(tmp_path.parent)  # every case's DA_HOME and workspace live under here

    def cwd(pid: str) -> str:
        try:
            return os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            return ""

    assert [p for p in processes_with("da_cli.sandbox.worker") if cwd(p).startswith(base)] == []
