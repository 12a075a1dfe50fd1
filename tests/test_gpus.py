"""Local GPU assignment: concurrent jobs get distinct devices; a scheduler's assignment is left alone."""

import subprocess
import sys

import pytest

from endorm import gpus

CHILD = ("import os, sys; from endorm.gpus import claim; "
         "print(claim(1, sys.argv[1], timeout=float(sys.argv[2]), total=2), os.environ['CUDA_VISIBLE_DEVICES'])")


def test_claims_are_exclusive_across_processes(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    held = gpus._HELD[:]
    try:
        assert gpus.claim(1, tmp_path, total=2) == [0]
        import os

        assert os.environ["CUDA_VISIBLE_DEVICES"] == "0"
        env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
        out = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path), "5"], capture_output=True, text=True,
                             env=env, check=True).stdout.split()
        assert out == ["[1]", "1"]  # GPU 0 is held by this process; the child got the other one
        both_busy = subprocess.run([sys.executable, "-c", CHILD.replace("claim(1", "claim(2"), str(tmp_path), "0"],
                                   capture_output=True, text=True, env=env)
        assert both_busy.returncode != 0 and "no 2 free GPU(s)" in both_busy.stderr
    finally:
        for f in gpus._HELD[len(held):]:
            f.close()
        del gpus._HELD[len(held):]


def test_scheduler_assignment_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert gpus.claim(1, tmp_path, total=4) == []
    assert not list(tmp_path.iterdir())


def test_too_many_gpus_is_an_error(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with pytest.raises(RuntimeError, match="needs 3 GPUs but 2 are visible"):
        gpus.claim(3, tmp_path, total=2)
