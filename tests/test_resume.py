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


def clean_then_killed(tmp_path, args, started, what, poll=0.2):
    """Runs ``args`` to the end in ``tmp_path/clean``, then again in ``tmp_path/killed``, killed with SIGKILL (the run
    and its jobs) as soon as ``started(killed)`` holds. Returns the two folders."""
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    clean.mkdir()
    killed.mkdir()
    run(args, clean)
    proc = subprocess.Popen(SNAKEMAKE + args, cwd=killed, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if started(killed):
            break
        time.sleep(poll)
    assert proc.poll() is None, f"the run ended before {what} could be interrupted"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return clean, killed


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_tables(tmp_path, tiny_dir):
    config = yaml.safe_load((ROOT / "tests/config/test.yaml").read_text().replace("MODEL_DIR", str(tiny_dir)))
    config["rmbench"]["methods"] = ["endorm", "loglik", "loglik-mean", "genrm-pointwise"]  # Table 1, fewer jobs
    cfg = tmp_path / "test.yaml"
    cfg.write_text(yaml.safe_dump(config))
    args = [*TARGETS, "--cores", "1", "--configfile", str(cfg)]  # targets first: --configfile takes several values
    scores = tmp_path / "killed/results/test/rmbench/tiny/scores"

    def judging(killed):  # a judge job has started and has not finished
        return any((killed / "logs/score_judge").glob("*.log")) and not list(scores.glob("genrm-*.jsonl"))

    # Run to the end; then start a run and kill it (and its jobs) with SIGKILL while a scoring job is running.
    clean, killed = clean_then_killed(tmp_path, args, judging, "a judge job")
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
    def training(killed):  # RL training has started
        log = killed / "logs/train_rl/test-tiny.log"
        return log.is_file() and "rollout at step" in log.read_text(errors="replace")

    clean, killed = clean_then_killed(tmp_path, args, training, "RL training", poll=0.1)
    assert not (killed / "results/test/rl/tiny/checkpoint").exists()  # nothing partial in place of the checkpoint

    run(["--unlock", "--configfile", str(cfg)], killed)
    out = run(args, killed)
    assert "train_rl" in job_counts(out.stdout + out.stderr)
    mask = lambda b: re.sub(rb"\d+ s of training", b"N s of training", b)  # noqa: E731
    for target in targets:
        assert mask((killed / target).read_bytes()) == mask((clean / target).read_bytes()), target
