"""The SLURM profile on a real one-node SLURM cluster (tests/slurm/cluster.sh, Debian's slurmctld/slurmd/munge):
the test workflow submitted job by job through sbatch gives the same tables and metrics as a local run, and a
failing job makes snakemake exit non-zero instead of waiting. Skipped only where SLURM cannot be installed."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from test_workflow import job_counts as planned_job_counts

pytestmark = pytest.mark.slow

CLUSTER = ROOT / "tests/slurm/cluster.sh"
# One instance of each rule (24 jobs) unless ENDORM_SLURM_FULL=1: see the file for why.
REDUCED = [] if os.environ.get("ENDORM_SLURM_FULL") == "1" else [str(ROOT / "tests/slurm/reduced.yaml")]
PROFILE = ROOT / "workflow/profiles/slurm"
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]
LOCK = Path("/tmp/endorm-slurm-test.lock")  # one test cluster per machine (it owns /etc/slurm/slurm.conf)
RUN_TIMEOUT = 900  # seconds, per snakemake run (`timeout -k 30`); a hung status loop ends here, not in CI's limit
TEST_MEM_MB = 500  # every job's memory request on the test node (memory is not enforced there: no cgroups)

# Keys (JSON) and columns (CSV) whose values legitimately differ between two runs: timings, hosts, dates.
VOLATILE = re.compile(r"(?:^|[_\W])(?:seconds?|secs?|time|timestamp|runtime|date|duration|elapsed|wall|host(?:name)?|"
                      r"throughput|per_second|per_s|pid)(?:$|[_\W])", re.I)
# Durations written in Markdown prose (table3.md notes "4 s of training").
DURATION = re.compile(r"\b\d+(?:\.\d+)?\s*(?:s|seconds?|min|minutes?|h|hours?)\b")
# Result files compared between the local and the SLURM run: not PNG figures (render metadata), not provenance
# files (platform, versions: written per run), nothing in cache folders (lm-eval's datasets cache under
# summary.lm_eval/ is named by a hash of absolute paths).
COMPARED = {".csv", ".md", ".json", ".jsonl"}


def env():
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """A running one-node cluster (partition `debug`); stopped by pid in the finalizer, even when a test fails."""
    LOCK.touch(exist_ok=True)
    lock = open(LOCK)
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                lock.close()
                pytest.skip(f"another test run holds {LOCK} (its SLURM test cluster) for over {RUN_TIMEOUT} s")
            time.sleep(2)
    scratch = tmp_path_factory.mktemp("slurm")
    try:
        # we hold the lock: a test cluster still running was left by a killed run, and may be taken over
        proc = subprocess.run(["bash", str(CLUSTER), "start", str(scratch)], capture_output=True, text=True,
                              timeout=600, env={**os.environ, "CLUSTER_TAKE_OVER": "1"})
    except BaseException:
        subprocess.run(["bash", str(CLUSTER), "stop", str(scratch)], timeout=120)
        lock.close()
        raise
    if proc.returncode != 0:
        subprocess.run(["bash", str(CLUSTER), "stop", str(scratch)], timeout=120)
        lock.close()
        if proc.returncode in (3, 4):  # 3: packages cannot be installed; 4: /etc/slurm/slurm.conf is not ours
            pytest.skip(f"no SLURM test cluster here: {proc.stderr.strip()[-500:]}")
        pytest.fail(f"cluster.sh start failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    try:
        yield scratch
    finally:
        subprocess.run(["bash", str(CLUSTER), "stop", str(scratch)], timeout=120)
        lock.close()


def write_test_config(tmp_path: Path, tiny_dir: Path) -> Path:
    cfg = tmp_path / "test.yaml"
    cfg.write_text((ROOT / "tests/config/test.yaml").read_text().replace("MODEL_DIR", str(tiny_dir)))
    return cfg


def slurm_overrides(cwd: Path) -> list[str]:
    """The profile's settings, changed only where a one-node test cluster needs it: `squeue` status queries (no
    slurmdbd, so no sacct), a 2 s first status check, partition `debug`, no account, no GPUs, and a memory request
    that fits the node. The rest (executor, jobs, retries, runtimes, keep-going, ...) comes from the profile."""
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    default = {**profile.get("default-resources", {}), "slurm_partition": "debug", "slurm_account": "none",
               "mem_mb": TEST_MEM_MB}
    listed = subprocess.run(SNAKEMAKE + ["--list-rules"], cwd=cwd, capture_output=True, text=True, timeout=120,
                            env=env()).stdout.splitlines()
    rules = [line.strip() for line in listed if re.fullmatch(r"\w+", line)]  # not indented docstring lines
    assert "prepare_model" in rules, listed
    per_rule = {rule: {"mem_mb": TEST_MEM_MB} for rule in rules if rule != "all"}
    for rule, res in profile.get("set-resources", {}).items():
        per_rule[rule] = {**{k: v for k, v in res.items() if k not in ("gpu", "gpu_model", "cpus_per_gpu")},
                          "gpu": 0, "mem_mb": TEST_MEM_MB}
    return (["--workflow-profile", str(PROFILE), "--slurm-status-command", "squeue",
             "--slurm-init-seconds-before-status-checks", "2",
             "--default-resources", *[f"{k}={v}" for k, v in default.items()],
             "--set-resources", *[f"{r}:{k}={v}" for r, res in per_rule.items() for k, v in res.items()]])


def timed(args: list[str], timeout: int = RUN_TIMEOUT) -> list[str]:
    return ["timeout", "-k", "30", str(timeout)] + SNAKEMAKE + args


def job_counts(output: str) -> dict[str, int]:
    """The `Job stats` table that snakemake prints before running, without its total."""
    counts = planned_job_counts(output)
    counts.pop("total", None)
    return counts


def submissions(output: str) -> dict[str, str]:
    """snakemake job id -> SLURM job id, from the plugin's `Job N has been submitted with SLURM jobid M` lines."""
    return dict(re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", output))


def jobcomp(scratch: Path, run_uuid: str) -> dict[str, str]:
    """SLURM job id -> final state of this run's jobs, from the cluster's own job completion log."""
    states = {}
    for line in (scratch / "log/jobcomp.txt").read_text().splitlines():
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if fields.get("Name") == run_uuid:
            states[fields["JobId"]] = fields["JobState"]
    return states


def drop_volatile(obj):
    if isinstance(obj, dict):
        return {k: drop_volatile(v) for k, v in obj.items() if not VOLATILE.search(k)}
    if isinstance(obj, list):
        return [drop_volatile(v) for v in obj]
    return obj


def normalised(path: Path, workdir: Path):
    """A result file's content as compared: bytes, unless it holds timings (JSON keys or CSV columns matching
    VOLATILE, durations in Markdown), which are dropped; the run's own working directory becomes a placeholder."""
    text = path.read_text().replace(str(workdir), "<workdir>")
    if path.suffix == ".md":
        return DURATION.sub("<duration>", text)
    if path.suffix == ".json":
        return drop_volatile(json.loads(text))
    if path.suffix == ".jsonl":
        return [drop_volatile(json.loads(line)) for line in text.splitlines() if line.strip()]
    if path.suffix == ".csv":
        rows = list(csv.reader(io.StringIO(text)))
        keep = [i for i, name in enumerate(rows[0] if rows else []) if not VOLATILE.search(name)]
        if rows and len(keep) < len(rows[0]):
            return [[row[i] for i in keep if i < len(row)] for row in rows]
    return text


def result_files(workdir: Path, run: str) -> list[str]:
    base = workdir / "results" / run
    files = (p.relative_to(base) for p in base.rglob("*") if p.is_file() and p.suffix in COMPARED)
    return sorted(str(p) for p in files
                  if "provenance" not in p.name and not any("cache" in part for part in p.parts[:-1]))


class FailingRun:
    """The workflow on a broken config (tests/config/test_fail.yaml: the model folder does not exist), submitted
    through the SLURM profile in the background as soon as the cluster is up, so that its waiting overlaps the
    main run's."""

    def __init__(self, workdir: Path, tiny_dir: Path):
        cfg = write_test_config(workdir, tiny_dir)
        fail = ROOT / "tests/config/test_fail.yaml"
        run = yaml.safe_load(fail.read_text())["run"]
        model = yaml.safe_load(cfg.read_text())["reward_model"]
        self.workdir, self.target = workdir, f"results/{run}/rmbench/{model}/table1.csv"  # needs prepare_model
        self.start = time.monotonic()
        with open(workdir / "snakemake.out", "w") as out:
            self.proc = subprocess.Popen(timed([self.target, "--configfile", str(cfg), str(fail)]
                                               + slurm_overrides(workdir), timeout=300),
                                         cwd=workdir, stdout=out, stderr=subprocess.STDOUT, env=env())

    def result(self):
        self.proc.wait(timeout=400)
        return self.proc, self.workdir, self.target, time.monotonic() - self.start

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def failing_run(slurm_cluster, tmp_path_factory, tiny_dir):
    run = FailingRun(tmp_path_factory.mktemp("failing"), tiny_dir)
    try:
        yield run
    finally:
        run.stop()


def test_workflow_through_sbatch_matches_local_run(tmp_path, tiny_dir, slurm_cluster, failing_run):
    # failing_run: started first, so that it runs beside this test's runs (see FailingRun)
    cfg = write_test_config(tmp_path, tiny_dir)
    run = yaml.safe_load(cfg.read_text())["run"]
    local, cluster = tmp_path / "local", tmp_path / "slurm"
    local.mkdir()
    cluster.mkdir()
    overrides = slurm_overrides(cluster)
    # Both runs at once: the SLURM run spends most of its time waiting for status checks.
    start = time.monotonic()
    with open(cluster / "snakemake.out", "w") as out:
        proc = subprocess.Popen(timed(["--configfile", str(cfg), *REDUCED] + overrides), cwd=cluster, stdout=out,
                                stderr=subprocess.STDOUT, text=True, env=env())
        try:
            loc = subprocess.run(timed(["--cores", "2", "--configfile", str(cfg), *REDUCED]), cwd=local,
                                 capture_output=True, text=True, env=env())
            rc = proc.wait(timeout=RUN_TIMEOUT + 60)
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=60)
    wall = time.monotonic() - start
    slurm_out = (cluster / "snakemake.out").read_text()
    assert loc.returncode == 0, loc.stdout[-3000:] + loc.stderr[-3000:]
    assert rc == 0, f"SLURM run exited {rc} after {wall:.0f} s (124: timed out):\n{slurm_out[-6000:]}"

    # Every job but the local target rule `all` went through sbatch, and SLURM itself recorded it as completed.
    counts = job_counts(slurm_out)
    assert counts == job_counts(loc.stdout + loc.stderr) and counts.get("prepare_model")
    submitted = submissions(slurm_out)
    assert len(submitted) == sum(counts.values()) - counts.get("all", 0), (counts, submitted)
    run_uuid = re.search(r"SLURM run ID: (\S+)", slurm_out).group(1)
    states = jobcomp(slurm_cluster, run_uuid)
    assert set(states) == set(submitted.values()) and set(states.values()) == {"COMPLETED"}, states

    # The deterministic results are identical: tables (CSV, Markdown) byte for byte, metrics and scores (JSON,
    # JSONL) but for timing fields. A new stage's outputs are covered without editing this test.
    files = result_files(local, run)
    assert files == result_files(cluster, run)
    assert any(f.endswith("table1.csv") for f in files) and len(files) >= 10, files
    differ = [f for f in files if normalised(local / "results" / run / f, local)
              != normalised(cluster / "results" / run / f, cluster)]
    assert not differ, f"local and SLURM results differ: {differ}"


def test_failing_job_makes_the_run_exit_nonzero(failing_run):
    proc, workdir, target, wall = failing_run.result()
    out = (workdir / "snakemake.out").read_text()
    assert proc.returncode not in (0, 124, 137), f"exit {proc.returncode} after {wall:.0f} s:\n{out[-4000:]}"
    assert "Error in rule prepare_model" in out and "FAILED" in out, out[-4000:]
    # the failing job went through sbatch once per attempt (the profile's `retries`), and its SLURM log says why
    retries = yaml.safe_load((PROFILE / "config.yaml").read_text()).get("retries", 0)
    logs = sorted((workdir / ".snakemake/slurm_logs/rule_prepare_model").rglob("*.log"))
    missing = "endorm-test-missing-model: not found"  # the source layer's words for a model folder that is absent
    assert len(logs) == retries + 1 and all(missing in f.read_text() for f in logs), logs
    assert len(re.findall(r"has been submitted with SLURM jobid", out)) >= retries + 1, out[-4000:]
    assert not (workdir / target).exists()
