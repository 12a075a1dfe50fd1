"""The benchmark runs every variant for real and checks the engine against the common-way scorer."""

import json

import pytest

from endorm.cli import main


@pytest.mark.slow  # every benchmark variant, timed for real
def test_bench_on_tiny_model(tiny_dir, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--model", str(tiny_dir), "--rows", "2", "--prompt-tokens", "20",
                 "--response-tokens", "4,30,40", "--threads", "1", "--variants", "floor,engine,reference",
                 "--output", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["variants"]) == {"floor", "engine", "reference"}
    assert result["max_abs_diff_engine_vs_reference"] < 1e-4
    assert {"engine_over_floor", "reference_over_engine"} <= set(result["ratios"])
    assert all(v["tokens"] == 2 * (6 * 20 + 2 * (4 + 30 + 40)) for v in result["variants"].values())
    assert (tmp_path / "bench.md").read_text().startswith("model ")


def test_bench_needs_one_model_source(capsys):
    assert main(["bench"]) == 2
    assert "exactly one of --model" in capsys.readouterr().err
