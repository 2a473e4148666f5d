"""The README's Quick start and its pytest example run as written.

The blocks are taken from README.md itself: the bootstrap file is saved
under the name the text gives, the serve command runs with the built
binary in place of `cargo run --release --bin cognate --` (and on a free
port in place of 8085, in every block), and the Python blocks run in the
directory the server was started from.
"""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("COGNATE_BIN", os.path.join(ROOT, "target", "debug", "cognate"))
CARGO_RUN = "cargo run --release --bin cognate --"


def section(title):
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end]


def blocks(text):
    """(language, code, the prose before it) of each fenced block."""
    found = []
    last = 0
    for m in re.finditer(r"```(\w*)\n(.*?)```", text, re.S):
        found.append((m.group(1), m.group(2), text[last : m.start()]))
        last = m.end()
    return found


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def on_port(code, port):
    return code.replace("127.0.0.1:8085", f"127.0.0.1:{port}")


def wait_healthy(endpoint, proc):
    deadline = time.time() + 30
    while time.time() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            urllib.request.urlopen(f"{endpoint}/healthz", timeout=1)
            return
        except OSError:
            time.sleep(0.02)
    raise AssertionError(f"{endpoint} did not answer")


@pytest.fixture
def workdir():
    with tempfile.TemporaryDirectory(prefix="cognate-readme-") as d:
        yield d


def test_the_quick_start_runs_as_written(workdir):
    quick = blocks(section("Quick start"))
    languages = [language for language, _, _ in quick]
    assert languages == ["json", "sh", "python", "python"], languages
    (_, bootstrap, before_json), (_, command, _), (_, guest, _), (_, admin, _) = quick
    name = re.findall(r"`([\w.-]+\.json)`", before_json)[-1]
    with open(os.path.join(workdir, name), "w") as f:
        f.write(bootstrap)

    port = free_port()
    command = command.strip()
    assert command.startswith(CARGO_RUN), command
    args = command[len(CARGO_RUN) :].split() + ["--listen", f"127.0.0.1:{port}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("COGNATE_")}
    env["NO_COLOR"] = "1"
    server = subprocess.Popen(
        [BIN, *args], cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server)
        run = lambda code: subprocess.run(  # noqa: E731
            [sys.executable, "-c", on_port(code, port)],
            cwd=workdir,
            env={k: v for k, v in env.items() if not k.startswith("AWS_")},
            capture_output=True,
            text=True,
            timeout=60,
        )
        out = run(guest)
        assert out.returncode == 0, out.stderr
        expected = re.search(r"# (arn:aws:sts::\S+)", guest).group(1)
        assert out.stdout.strip() == expected

        out = run(admin)
        assert out.returncode == 0, out.stderr
        first = out.stdout.splitlines()[0]
        assert re.fullmatch(r"us-east-1:[0-9a-f-]{36}", first), out.stdout
        # Both pools: the bootstrap file's and the one just made.
        assert "quick start" in out.stdout and "my pool" in out.stdout
    finally:
        server.terminate()
        log = server.communicate(timeout=30)[0].decode()
    # The log names the credentials file and the changes, never the secret.
    assert "bootstrap quickstart.json: + create identity pool quick start" in log, log
    assert "admin-credentials.json" in log
    with open(os.path.join(workdir, "cognate-data", "admin-credentials.json")) as f:
        secret = json.load(f)["secret_access_key"]
    assert secret and secret not in log


def test_the_pytest_example_runs_as_written(workdir):
    quick = blocks(section("Quick start"))
    bootstrap = quick[0][1]
    with open(os.path.join(workdir, "quickstart.json"), "w") as f:
        f.write(bootstrap)
    testing = [
        (code, before)
        for language, code, before in blocks(section("Testing your app against cognate"))
        if language == "python"
    ]
    for code, _ in testing[:2]:
        file = re.match(r"# (\S+\.py)\n", code).group(1)
        with open(os.path.join(workdir, file), "w") as f:
            f.write(code)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COGNATE_", "AWS_"))}
    env["COGNATE_BIN"] = BIN
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", workdir],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed" in out.stdout, out.stdout
