"""The paper DAG's dress rehearsal (config/rehearsal.yaml): the random-init model source, the plan (the same rules and
job counts as config/paper.yaml), and a tiny end-to-end run on the real sample slices plus fixtures."""

import csv
import json

import pytest
import torch

from conftest import ROOT
from rehearsal_data import SLICES, build_data_root
from test_workflow import job_counts, snakemake

TINY = {"config": {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2,
                   "vocab_size": 1024}, "tokenizer_size": 1000, "dtype": "float32"}


def random_spec(arch, **kw):
    return {"source": "random", "random": {"arch": arch, "layers": 2, "seed": 0, **TINY, **kw}}


@pytest.fixture(scope="module")
def tiny_random(tmp_path_factory):
    from endorm.data.assets import prepare_model

    root = tmp_path_factory.mktemp("random")
    out = {}
    for arch in ("qwen2.5-7b-instruct", "qwen2.5-math-7b"):
        prov = prepare_model(random_spec(arch), root / arch)
        out[arch] = (root / arch, prov)
    return out


def test_random_source_mirrors_qwen_structure(tiny_random):
    from transformers import AutoConfig, AutoTokenizer

    path, prov = tiny_random["qwen2.5-7b-instruct"]
    cfg = AutoConfig.from_pretrained(path)
    assert cfg.model_type == "qwen2" and cfg.num_hidden_layers == 2 and not cfg.tie_word_embeddings
    assert cfg.vocab_size == 1024 and cfg.max_position_embeddings == 32768 and cfg.num_key_value_heads == 2
    tok = AutoTokenizer.from_pretrained(path)
    assert len(tok) == 1000
    # Qwen's 22 added tokens close the tokenizer, in Qwen's order: <|endoftext|> = size - 22, <|im_end|> = size - 20
    assert tok.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|file_sep|>"]) == [
        978, 979, 980, 999]
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>" and tok.bos_token is None
    assert cfg.eos_token_id == 980 and cfg.bos_token_id == 978
    gen = json.loads((path / "generation_config.json").read_text())
    assert gen["eos_token_id"] == [980, 978] and gen["top_k"] == 20
    text = tok.apply_chat_template([{"role": "user", "content": "What is 2+2?"}], tokenize=False,
                                   add_generation_prompt=True)
    assert text == ("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
                    "<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n")
    ids = tok(text)["input_ids"]
    assert tok.decode(ids) == text and ids[0] == 979
    # every id the model can emit decodes, including the embedding rows past the tokenizer (as Qwen's 152,064 > 151,665)
    assert isinstance(tok.decode(list(range(cfg.vocab_size))), str)
    assert isinstance(tok.batch_decode([list(range(900, 1024))], skip_special_tokens=True)[0], str)
    assert prov["source"] == "random" and prov["arch"] == "qwen2.5-7b-instruct" and prov["layers"] == 2
    assert "NOT" in prov["weights"] and prov["tokenizer"]["size"] == 1000
    assert json.loads((path / "endorm_provenance.json").read_text())["tokenizer"]["corpus"]


def test_random_source_math_arch_and_seed(tiny_random, tmp_path):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from endorm.data.assets import prepare_model

    path, _ = tiny_random["qwen2.5-math-7b"]
    cfg = AutoConfig.from_pretrained(path)
    assert cfg.max_position_embeddings == 4096 and cfg.rope_parameters["rope_theta"] == 10000.0
    tok = AutoTokenizer.from_pretrained(path)
    assert tok.eos_token == "<|endoftext|>" and cfg.eos_token_id == 978
    assert "Please reason step by step, and put your final answer within \\boxed{}." in tok.apply_chat_template(
        [{"role": "user", "content": "1+1"}], tokenize=False)
    prepare_model(random_spec("qwen2.5-math-7b"), tmp_path / "again")
    prepare_model(random_spec("qwen2.5-math-7b", seed=1), tmp_path / "other")
    w = [AutoModelForCausalLM.from_pretrained(p).lm_head.weight for p in (path, tmp_path / "again",
                                                                          tmp_path / "other")]
    assert torch.equal(w[0], w[1]) and not torch.equal(w[0], w[2])
    gen = AutoModelForCausalLM.from_pretrained(path).generate(
        torch.tensor([tok("1+1")["input_ids"]]), max_new_tokens=8, do_sample=True, top_k=0, temperature=1.0)
    assert isinstance(tok.decode(gen[0]), str)


def test_stand_in_tokenizer_at_qwen_size():
    from endorm.data.assets import QWEN_TOKENIZER_SIZE, RANDOM_ARCHS, _chatml, build_stand_in_tokenizer

    a = RANDOM_ARCHS["qwen2.5-7b-instruct"]
    tok, info = build_stand_in_tokenizer(QWEN_TOKENIZER_SIZE, a["eos_token"], a["pad_token"],
                                         _chatml(a["default_system"]), a["model_max_length"])
    assert len(tok) == 151665 and info["bpe_trained"] + info["fillers"] == 151643
    assert tok.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>",
                                      "<|file_sep|>"]) == [151643, 151644, 151645, 151657, 151664]
    assert tok.eos_token_id == 151645 and tok.pad_token_id == 151643
    assert isinstance(tok.decode(list(range(151000, 152064))), str)  # fillers, added tokens, padding rows


def test_random_source_refuses_bad_specs(tmp_path):
    from endorm.data.assets import prepare_model
    from endorm.errors import EndormError

    with pytest.raises(EndormError, match="arch must be one of"):
        prepare_model({"source": "random", "random": {"arch": "gpt-5"}}, tmp_path / "a")
    with pytest.raises(EndormError, match="exceeds the embedding"):
        prepare_model(random_spec("qwen2.5-math-7b", tokenizer_size=2000), tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_prepare_model_command_takes_the_random_source(tmp_path, capsys):
    from endorm.cli import main

    assert main(["prepare-model", "--source", "random", "--layers", "2", "--out", str(tmp_path / "m")]) != 0
    assert "--source random needs --arch" in capsys.readouterr().err and not (tmp_path / "m").exists()
    assert main(["prepare-model", "--source", "random", "--arch", "gpt-5", "--out", str(tmp_path / "m")]) != 0
    assert "arch must be one of" in capsys.readouterr().err


def test_rehearsal_plans_the_paper_dag(tmp_path):
    rehearsal = job_counts(snakemake(["-n", "--cores", "2", "--configfile", str(ROOT / "config/rehearsal.yaml")],
                                     tmp_path))
    paper = job_counts(snakemake(["-n", "--cores", "2", "--configfile", str(ROOT / "config/paper.yaml")], tmp_path))
    assert rehearsal == paper and rehearsal["train_rl"] == 1 and rehearsal["prepare_math_eval"] == 5


def tiny_overlay(tmp_path, data_root) -> str:
    import yaml

    cfg = yaml.safe_load((ROOT / "config/rehearsal.yaml").read_text())
    anything = {"rows": None, "sha256": None}  # slices and fixtures: not the manifest's rows and hashes
    overlay = {"data_root": str(data_root),
               # the stand-in tokenizer at 1,000 ids (null replaces the real Qwen2.5 tokenizer config/rehearsal.yaml names)
               "models": {k: {"random": {**TINY, "tokenizer_from": None}} for k in ("qwen2.5-7b-instruct",
                                                                                   "qwen2.5-math-7b")},
               "compute": {"dtype": "float32", "threads": 1, "batch_tokens": 4096},
               "rmbench": {"data": [{**e, "expect": anything} for e in cfg["rmbench"]["data"]]},
               "dsp": {"data": {"expect": anything}},
               "rl": {"dtype": "float32", "mem_mb": 4000, "data": {"expect": anything}},
               "math_eval": {"benchmarks": [{**b, "expect": anything} for b in cfg["math_eval"]["benchmarks"]]},
               "theory": {"horizons": [4, 8], "seeds": 2, "tokens": 1024}}  # the synthetic-MDP stage, small
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(overlay))
    return str(path)


@pytest.mark.slow
def test_rehearsal_end_to_end_tiny(tmp_path):
    root = tmp_path / "data"
    missing = build_data_root(root)
    if missing:
        pytest.skip(f"real sample slices absent (they exist only in the project's shared/ folder): {missing}")
    configs = ["--configfile", str(ROOT / "config/rehearsal.yaml"), tiny_overlay(tmp_path, root)]
    out = snakemake(["--cores", "2"] + configs, tmp_path)
    plan = job_counts(snakemake(["-n", "--cores", "2", "--configfile", str(ROOT / "config/paper.yaml")], tmp_path))
    assert job_counts(out) == plan  # every stage of the paper's DAG ran, as many jobs as paper.yaml plans
    res = tmp_path / "results/rehearsal"
    prov = json.loads((tmp_path / "results/models/qwen2.5-7b-instruct/endorm_provenance.json").read_text())
    assert prov["source"] == "random" and prov["config_overrides"]["hidden_size"] == 64
    # Table 1 on the four RM-Bench files (slices of 12, 8, 8, 8 rows), each method's row cap per domain
    with open(res / "rmbench/qwen2.5-7b-instruct/table1.csv") as f:
        ours = [r for r in csv.DictReader(f) if r["source"].startswith("ours")]
    assert {r["method"]: r["n"] for r in ours} == {
        "EndoRM": "16", "Log-likelihood (sum)": "16", "Log-likelihood (mean)": "16", "Generative Verifier": "8",
        "GenRM-Pointwise": "8", "GenRM-Pairwise": "4"}
    rows = [json.loads(line) for line in (res / "rmbench/preferences.jsonl").read_text().splitlines()]
    assert len(rows) == 36 and {r["domain"] for r in rows} == {"chat", "code", "safety-refuse", "safety-response"}
    # the ablations score Table 1's EndoRM rows (its row cap), not every row read
    meta = json.loads((res / "rmbench/qwen2.5-7b-instruct/analysis/ablation_scores.jsonl.meta.json").read_text())
    assert (meta["rows"], meta["rows_read"], meta["max_rows_per_domain"]) == (16, 36, 4)
    # Table 2: the first dsp.max_rows queries of the DSP slice
    dsp = json.loads((res / "dsp/qwen2.5-7b-instruct/metrics.json").read_text())
    assert dsp["pairs_per_domain"] == 4 * 6 and dsp["provenance"]["rows_in_file"] == 25
    assert "CONSTRUCTED" not in (res / "dsp/qwen2.5-7b-instruct/table2.md").read_text()
    # Figure 1: five sources of the Multifaceted-shaped fixture, per_source 2 each
    with open(res / "multifaceted/qwen2.5-7b-instruct/figure1.csv") as f:
        subsets = {r["subset"] for r in csv.DictReader(f) if r["source"].startswith("ours")}
    assert {"Nectar", "OpenHermes Preferences", "UltraFeedback", "Average"} <= subsets
    # RL (2 GRPO steps) and Table 3 on the five benchmarks, math_eval.limit problems each
    with open(res / "rl/qwen2.5-math-7b/train_log.csv") as f:
        assert len(list(csv.DictReader(f))) == 2
    summary = json.loads((res / "math/qwen2.5-math-7b/rl/summary.json").read_text())
    assert {k: v["n"] for k, v in summary["tasks"].items()} == {
        b: 2 for b in ("aime24", "amc23", "math500", "minerva_math", "olympiadbench")}
    # max_gen_toks (48) bounds the generations although the Math model's generation_config says max_new_tokens 2048
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tmp_path / "results/models/qwen2.5-math-7b")
    samples = [json.loads(line) for line in (res / "math/qwen2.5-math-7b/rl/samples.jsonl").read_text().splitlines()]
    assert len(samples) == 10 and max(len(tok(s["generation"])["input_ids"]) for s in samples) <= 2 * 48
    assert (res / "math/qwen2.5-math-7b/table3.png").stat().st_size > 10000
    assert "RANDOM-INIT qwen2.5-7b-instruct (2 layers" in (res / "rmbench/qwen2.5-7b-instruct/table1.md").read_text()
    assert all(list((tmp_path / "benchmarks" / rule).glob("*.tsv")) for rule in (
        "prepare_model", "prepare_preferences", "score_likelihood", "score_judge", "score_dsp", "train_rl",
        "evaluate_math", "prepare_math_eval"))


def test_data_root_layout_matches_the_config():
    """Every {data_root} path in config/rehearsal.yaml is one the test data root provides."""
    import yaml

    from rehearsal_data import MULTIFACETED

    text = (ROOT / "config/rehearsal.yaml").read_text()
    cfg = yaml.safe_load(text)
    paths = set()

    def walk(v):
        if isinstance(v, str) and "{data_root}/" in v:
            paths.add(v.split("{data_root}/", 1)[1])
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(cfg)
    assert paths == set(SLICES) | {MULTIFACETED, "math500/test.jsonl", "math-lighteval/train.jsonl"}
