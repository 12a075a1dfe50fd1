"""An interrupted workflow run resumes to the same tables: kill -9 mid-job, `snakemake --unlock`, run again."""

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from conftest import ROOT
from test_workflow import job_counts

SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]
TARGETS = ["results/test/rmbench/tiny/table1.csv", "results/test/rmbench/tiny/table1.md"]


def run(args, cwd, check=True):
    proc = subprocess.run(SNAKEMAKE + args, cwd=cwd, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_tables(tmp_path, tiny_dir):
    config = yaml.safe_load((ROOT / "tests/config/test.yaml").read_text().replace("MODEL_DIR", str(tiny_dir)))
    config["rmbench"]["methods"] = ["endorm", "loglik", "loglik-mean", "genrm-pointwise"]  # Table 1, fewer jobs
    cfg = tmp_path / "test.yaml"
    cfg.write_text(yaml.safe_dump(config))
    args = [*TARGETS, "--cores", "1", "--configfile", str(cfg)]  # targets first: --configfile takes several values
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    clean.mkdir()
    killed.mkdir()
    run(args, clean)

    # Start a run and kill it (and its jobs) with SIGKILL while a scoring job is running.
    proc = subprocess.Popen(SNAKEMAKE + args, cwd=killed, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    scores = killed / "results/test/rmbench/tiny/scores"
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        judging = list((killed / "logs/score_judge").glob("*.log")) if (killed / "logs/score_judge").is_dir() else []
        if judging and not list(scores.glob("genrm-*.jsonl")):
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before a judge job could be interrupted"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / TARGETS[0]).exists()

    # The rerun stops on the stale lock and says how to remove it ...
    locked = run(args, killed, check=False)
    assert locked.returncode != 0 and "--unlock" in locked.stdout + locked.stderr
    # ... which docs/troubleshooting.md's recipe does; the run then resumes (rerun-incomplete: the default profile).
    run(["--unlock", "--configfile", str(cfg)], killed)
    out = run(args, killed)
    resumed = job_counts(out.stdout + out.stderr)
    assert "prepare_preferences" not in resumed and "make_table1" in resumed  # finished jobs are not redone
    for target in TARGETS:
        assert (killed / target).read_bytes() == (clean / target).read_bytes(), target


@pytest.mark.slow
def test_run_killed_during_rl_resumes_to_the_same_table3(tmp_path, tiny_dir):
    """The longest stage of a run (RL training) killed with SIGKILL: the rerun trains again from the start and Table 3
    is the same (the training seconds in its header aside)."""
    import re

    config = yaml.safe_load((ROOT / "tests/config/test.yaml").read_text().replace("MODEL_DIR", str(tiny_dir)))
    for section in ("rmbench", "dsp", "multifaceted", "analysis", "theory"):
        config.pop(section, None)
    config["rl"]["trainer"]["max_steps"] = 4  # long enough to be caught mid-training
    cfg = tmp_path / "test.yaml"
    cfg.write_text(yaml.safe_dump(config))
    targets = ["results/test/math/tiny/table3.csv", "results/test/math/tiny/table3.md",
               "results/test/math/tiny/table3_paired.csv"]
    args = [*targets, "--cores", "1", "--configfile", str(cfg)]
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    clean.mkdir()
    killed.mkdir()
    run(args, clean)

    proc = subprocess.Popen(SNAKEMAKE + args, cwd=killed, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    log = killed / "logs/train_rl/test-tiny.log"
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if log.is_file() and "rollout at step" in log.read_text(errors="replace"):  # training has started
            break
        time.sleep(0.1)
    assert proc.poll() is None, "the run ended before RL training could be interrupted"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "results/test/rl/tiny/checkpoint").exists()  # nothing partial in place of the checkpoint

    run(["--unlock", "--configfile", str(cfg)], killed)
    out = run(args, killed)
    assert "train_rl" in job_counts(out.stdout + out.stderr)
    mask = lambda b: re.sub(rb"\d+ s of training", b"N s of training", b)  # noqa: E731
    for target in targets:
        assert mask((killed / target).read_bytes()) == mask((clean / target).read_bytes()), target
