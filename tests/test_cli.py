"""The `endorm` command line: its output contract, and clear errors with nothing partial left behind."""

import json

import pytest

from endorm.cli import main
from endorm.io import read_jsonl, write_jsonl
from test_reward import brute_force

PAIRS = [
    {"id": "b", "prompt": "What is two plus two?", "chosen": ["Four.", "4", "**4**"], "rejected": ["Five.", "5", "**5**"],
     "domain": "math"},
    {"id": "a", "prompt": "Hello world", "chosen": "Hello.", "rejected": "No.", "domain": "chat", "system": "Be kind."},
]


def test_token_rewards_reproduce_the_logits(tiny_dir, tiny, capsys):
    assert main(["token-rewards", "--model", str(tiny_dir), "--prompt", "What is two plus two?",
                 "--response", "Four.", "--alpha", "0.5", "--terminal", "bootstrap", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    model, _ = tiny
    ids = [t["token_id"] for t in out["tokens"]]
    q, v, lp = brute_force(model, out["prompt_ids"], ids, 0.5)
    assert [t["q"] for t in out["tokens"]] == pytest.approx(q, abs=1e-4)
    assert [t["logprob"] for t in out["tokens"]] == pytest.approx(lp, abs=1e-5)
    assert [t["value"] for t in out["tokens"]] == pytest.approx(v[:-1], abs=1e-4)
    assert out["value_after_last_token"] == pytest.approx(v[-1], abs=1e-4)
    assert out["total"] == pytest.approx(0.5 * sum(lp) + v[0] - v[-1], abs=1e-4)
    assert out["tokens"][-1]["text"] == "<|im_end|>"


def test_score_writes_rows_in_input_order_with_provenance(tiny_dir, tmp_path, capsys):
    pairs, out = tmp_path / "pairs.jsonl", tmp_path / "scores.jsonl"
    write_jsonl(pairs, PAIRS)
    assert main(["score", "--model", str(tiny_dir), "--input", str(pairs), "--output", str(out), "--quiet"]) == 0
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == ["b", "a"] and [r["domain"] for r in rows] == ["math", "chat"]
    assert len(rows[0]["score_chosen"]) == 3 and len(rows[1]["score_rejected"]) == 1
    meta = json.loads((tmp_path / "scores.jsonl.meta.json").read_text())
    assert meta["method"] == "endorm" and meta["options"]["reward"]["terminal"] == "zero" and meta["rows"] == 2
    metrics = tmp_path / "m.json"
    # one response per side is a valid pair file but not an RM-Bench row: the metric says which row
    assert main(["rmbench-metrics", "--scores", str(out), "--output", str(metrics)]) == 2
    assert f"{out}, row 2: RM-Bench rows need a 3x3 comparison matrix, got 1x1" in capsys.readouterr().err
    assert not metrics.exists()
    # `endorm accuracy` takes any shape: row b is 3x3 (9 comparisons), row a one pair
    assert main(["accuracy", str(out), "--json", "--output", str(metrics), "--resamples", "100"]) == 0
    acc = json.loads(capsys.readouterr().out)
    assert acc["overall"]["comparisons"] == 10 and set(acc["domains"]) == {"math", "chat"}
    assert acc["interval"]["method"] == "bootstrap" and json.loads(metrics.read_text()) == acc


def test_rmbench_metrics_cli(tmp_path):
    scores, out = tmp_path / "s.jsonl", tmp_path / "m.json"
    write_jsonl(scores, [{"id": 1, "domain": "chat", "score_chosen": [3, 2, 1], "score_rejected": [0, 0, 0]}])
    assert main(["rmbench-metrics", "--scores", str(scores), "--output", str(out)]) == 0
    m = json.loads(out.read_text())
    assert m["chat"] == 100.0 and m["n"] == 1 and set(m) >= {"easy", "normal", "hard", "avg", "avg_micro"}


@pytest.mark.parametrize("content,message", [
    ('{"id": 1, "prompt": "p", "chosen": "x", "rejected": "y"}\n{oops\n', "line 2: not valid JSON"),
    ('{"id": 1, "prompt": "p", "chosen": "x"}\n', "row 1: missing field 'rejected'"),
    ('{"id": 1, "prompt": "p", "chosen": [1], "rejected": "y"}\n', r"row 1: field 'chosen'\[0\] must be a string"),
])
def test_bad_input_is_a_clear_error_and_leaves_nothing(tiny_dir, tmp_path, capsys, content, message):
    pairs, out = tmp_path / "pairs.jsonl", tmp_path / "scores.jsonl"
    pairs.write_text(content)
    assert main(["score", "--model", str(tiny_dir), "--input", str(pairs), "--output", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(pairs) in err and __import__("re").search(message, err)
    assert not out.exists() and list(tmp_path.iterdir()) == [pairs]


def test_not_a_causal_lm(tmp_path, capsys):
    folder = tmp_path / "vision"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "vit"}))
    assert main(["token-rewards", "--model", str(folder), "--prompt", "a", "--response", "b"]) == 2
    assert "not a causal LM" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["token-rewards", "--model", str(empty), "--prompt", "a", "--response", "b"]) == 2
    assert "no config.json" in capsys.readouterr().err


def test_unknown_options(tiny_dir, tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    write_jsonl(pairs, PAIRS)
    assert main(["score", "--model", str(tiny_dir), "--input", str(pairs), "--output", str(tmp_path / "o.jsonl"),
                 "--method", "magic"]) == 2
    assert "unknown method 'magic'" in capsys.readouterr().err
    # argument errors return 2 like every other error (no SystemExit escapes main)
    assert main(["score", "--model", str(tiny_dir), "--input", str(pairs), "--output", "x", "--terminal", "none"]) == 2
    assert "endorm: error: score: argument --terminal" in capsys.readouterr().err
    assert main(["score", "--model", str(tiny_dir), "--input", str(pairs), "--output", "a,b", "--method", "endorm"]) == 2


def test_output_read_by_a_pipe_that_closes_early(tmp_path):
    """`endorm accuracy --json scores | head -c 1`: the closed pipe ends the command quietly, as other tools do."""
    import json
    import subprocess
    import sys

    scores = tmp_path / "scores.jsonl"
    scores.write_text("".join(json.dumps({"id": i, "score_chosen": [1.0], "score_rejected": [0.0], "domain": f"d{i}"})
                              + "\n" for i in range(2000)))
    proc = subprocess.run(f"{sys.executable} -m endorm.cli accuracy --json {scores} | head -c 1", shell=True,
                          capture_output=True, text=True, timeout=120)
    assert proc.stdout == "{" and "error" not in proc.stderr and "Traceback" not in proc.stderr
