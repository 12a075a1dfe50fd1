"""Every command in the README runs as written, on the tiny model: each shell snippet in bash (`endorm serve` started,
asked, stopped), each Python snippet in this process (the TRL GRPO script trains two steps). Lines that cannot run in
a test (`make`, the whole workflow) are skipped with the reason. The README stays a front door, and the links of
the README and the docs resolve.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import endorm

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TEXT = README.read_text(encoding="utf-8")
MODEL = "results/models/smollm2-135m-instruct"  # the README's model folder (what `make run` writes): the tiny model
PORT = "8000"  # the README's server port: a free one here
NOT_IN_A_TEST = {
    "make": "sets up .venv, then runs the whole workflow or the whole suite (the suite is where this runs)",
    "snakemake": "runs the workflow (tests/test_workflow.py runs it end to end on the tiny model)",
}


def fenced(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", TEXT, flags=re.S | re.M)


def commands(block: str) -> list[str]:
    """The block's commands: continuation lines joined, heredoc bodies and comments left out."""
    out, heredoc, pending = [], None, ""
    for line in block.splitlines():
        if heredoc is not None:
            heredoc = None if line.strip() == heredoc else heredoc
            continue
        line = pending + line
        if line.rstrip().endswith("\\"):
            pending = line.rstrip()[:-1] + " "
            continue
        pending = ""
        code = line.split(" #")[0].strip()
        if code and not code.startswith("#"):
            out.append(code)
            m = re.search(r"<<-?'?(\w+)'?", code)
            heredoc = m.group(1) if m else None
    return out


def program(command: str) -> str:
    return command.split()[0]


SHELL = fenced("bash")
PYTHON = fenced("python")


def shell(tmp_path: Path, script: str, **kw) -> subprocess.Popen | subprocess.CompletedProcess:
    """Runs a README snippet in bash with `endorm` as this interpreter's `python -m endorm.cli` and this checkout's
    endorm first on the path."""
    prelude = f'set -euo pipefail\nendorm() {{ "{sys.executable}" -m endorm.cli "$@"; }}\n'
    src = str(Path(endorm.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])),
           "HF_HUB_OFFLINE": "1"}
    args = ["bash", "-c", prelude + script.replace(MODEL, str(kw.pop("model")))]
    if kw.pop("background", False):
        return subprocess.Popen(args, cwd=tmp_path, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
    return subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def outputs(block: str) -> list[str]:
    """The files a snippet's commands name as outputs (`--output a,b`, `--png`, `--html`)."""
    names = re.findall(r"--(?:output|png|html) (\S+)", " ".join(commands(block)))
    return [n for name in names for n in name.split(",")]


def test_readme_is_a_front_door():
    size = len(TEXT.encode())
    assert size <= 12_800, f"README.md is {size} bytes: keep it a front door (at most about 12 KB), details in docs/"
    usage = next(i for i, line in enumerate(TEXT.splitlines(), 1) if line == "## Use it")
    assert usage <= 150, f"'## Use it' is on line {usage}: usage must start within the first 150 lines"
    assert len(SHELL) >= 4 and len(PYTHON) >= 2, "the README's snippets were not found (```bash / ```python blocks)"
    for code in SHELL + PYTHON:
        if not any(program(c) in NOT_IN_A_TEST for c in commands(code)) and "endorm" in code:
            assert MODEL in code, f"a snippet names a model other than {MODEL}, which the test maps:\n{code}"


@pytest.mark.slow  # the README's commands as real processes (RL training among them)
@pytest.mark.parametrize("block", SHELL, ids=[f"bash{i}-{program(commands(b)[0])}" for i, b in enumerate(SHELL)])
def test_readme_shell_snippet_runs(block, tmp_path, tiny_dir):
    cmds = commands(block)
    skipped = {program(c) for c in cmds} & set(NOT_IN_A_TEST)
    if skipped:
        assert {program(c) for c in cmds} <= set(NOT_IN_A_TEST), (
            f"a snippet mixes commands a test runs with {sorted(skipped)}, which it cannot: split the block\n{block}")
        pytest.skip("; ".join(f"{name}: {NOT_IN_A_TEST[name]}" for name in sorted(skipped)))
    serve = [c for c in cmds if c.startswith("endorm serve")]
    if serve:
        output = run_with_server(block, serve, tmp_path, tiny_dir)
        answer = json.loads(output)
        assert "scores" in answer, answer
        assert len(answer["scores"]) == 2 and all(math.isfinite(s) for s in answer["scores"]), answer
        return
    done = shell(tmp_path, block, model=tiny_dir)
    assert done.returncode == 0, f"exit {done.returncode}\n{block}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    for name in outputs(block):
        assert (tmp_path / name).is_file() and (tmp_path / name).stat().st_size > 0, f"{name} was not written"
    if "endorm accuracy" in block:
        assert re.search(r"^all\s+2\s+2\s", done.stdout, flags=re.M), done.stdout  # 2 pairs, 2 comparisons
    if "endorm token-rewards" in block:
        assert done.stdout.count("r_h") >= 2 and "<|im_end|>" in done.stdout, done.stdout  # a table per response


def run_with_server(block: str, serve: list[str], tmp_path: Path, model: Path) -> str:
    """Starts the snippet's `endorm serve` on a free port, waits until it answers, runs the rest of the snippet."""
    if shutil.which("curl") is None and "curl" in block:
        pytest.skip("curl is not installed")
    assert f"--port {PORT}" in serve[0] and f"localhost:{PORT}" in block, f"the server snippet must use port {PORT}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    rest = "\n".join(c for c in commands(block) if not c.startswith("endorm serve"))
    server = shell(tmp_path, serve[0].replace(f"--port {PORT}", f"--port {port}"), model=model, background=True)
    try:
        deadline = time.time() + 120
        while True:
            assert server.poll() is None, f"endorm serve exited {server.returncode}: {server.stderr.read()}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                assert time.time() < deadline, "endorm serve did not answer /health within 120 s"
                time.sleep(0.5)
        done = shell(tmp_path, rest.replace(f"localhost:{PORT}", f"localhost:{port}"), model=model)
        assert done.returncode == 0, f"exit {done.returncode}\n{rest}\n{done.stdout}\n{done.stderr}"
        return done.stdout
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the snippet's shell and the server in it
        server.wait(timeout=60)


@pytest.mark.parametrize("block", PYTHON, ids=[f"python{i}" for i in range(len(PYTHON))])
def test_readme_python_snippet_runs(block, tmp_path, tiny_dir, monkeypatch):
    assert MODEL in block
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}
    exec(compile(block.replace(MODEL, str(tiny_dir)), f"README.md (python snippet in {tmp_path.name})", "exec"),
         namespace)
    if "GRPOTrainer" in block:  # the reward in a TRL script: two optimizer steps on the endogenous reward
        trainer = namespace["trainer"]
        assert trainer.state.global_step == 2
        logged = [e["rewards/endorm/mean"] for e in trainer.state.log_history if "rewards/endorm/mean" in e]
        assert len(logged) == 2 and all(math.isfinite(r) for r in logged), trainer.state.log_history
        assert (tmp_path / trainer.args.output_dir / "model.safetensors").is_file()
    if "EndogenousReward.from_pretrained" in block:
        rm = namespace["rm"]
        assert math.isfinite(rm.score("What is 2+2?", "4"))


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def without_code(path: Path) -> str:
    return re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)


def anchors(path: Path) -> set[str]:
    return {slug(m) for m in re.findall(r"^#+ (.+)$", without_code(path), flags=re.M)}


@pytest.mark.parametrize("page", [README, ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve(page):
    """Every relative link of the README and the docs names a file that exists, and a heading where it has an anchor."""
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", without_code(page)):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path) if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading with that anchor")
    assert not broken, f"{page.name}: links that do not resolve:\n" + "\n".join(broken)
