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
