"""Data adapters: validation errors, the RM-Bench adapter on real sample rows, the embedded builders."""

import json

import pytest

from conftest import shared_file
from endorm.data import embedded_preferences, load_pairs, load_rmbench_file, validate_pairs
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
    ({"id": 1, "prompt": "a", "chosen": "x", "rejected": ["y", ""]}, r"row 1: field 'rejected'\[1\] is an empty response"),
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
    from endorm.data import RMBENCH_FILE_DOMAINS, rmbench_rows
    from endorm.io import read_rows

    assert load_rmbench_file(path)  # the stem before the first dot is the released name
    return rmbench_rows(read_rows(path), str(path), RMBENCH_FILE_DOMAINS[name])


def test_rmbench_rows_need_three_styles(tmp_path):
    p = tmp_path / "chat_filtered.json"
    p.write_text(json.dumps([{"id": 1, "prompt": "p", "chosen": ["a", "b"], "rejected": ["c", "d", "e"]}]))
    with pytest.raises(EndormError, match="row 1: RM-Bench rows have 3 chosen and 3 rejected"):
        load_rmbench_file(p)


def test_embedded_preferences_are_deterministic_and_rmbench_shaped():
    counts = {"math-gsm8k": 3, "science-gpqa": 2, "math-champ": 2}
    a = embedded_preferences(counts, seed=0)
    assert a == embedded_preferences(counts, seed=0)
    assert a != embedded_preferences(counts, seed=1)
    rows = validate_pairs(a, "embedded")
    assert [r["domain"] for r in rows] == ["math-gsm8k"] * 3 + ["science-gpqa"] * 2 + ["math-champ"] * 2
    for r in rows:
        assert len(r["chosen"]) == len(r["rejected"]) == 3
        concise, plain, markdown = r["chosen"]
        assert len(concise) < len(plain) and "###" in markdown or "**" in markdown
        assert r["chosen"] != r["rejected"]
    gsm = rows[0]
    assert gsm["chosen"][0].startswith("Final answer:") and gsm["chosen"][0] != gsm["rejected"][0]
    with pytest.raises(EndormError, match="unknown embedded domain"):
        embedded_preferences({"chat": 1}, 0)


def test_fetch_pinned_checks_the_checksum(tmp_path):
    from endorm.assets import fetch_pinned, sha256

    src = tmp_path / "src.json"
    src.write_text('[{"query": "q"}]')
    out = tmp_path / "out" / "dsp.json"
    fetch_pinned(src.as_uri(), sha256(src), out)
    assert out.read_text() == src.read_text()
    bad = tmp_path / "bad.json"
    with pytest.raises(EndormError, match="does not match the pinned"):
        fetch_pinned(src.as_uri(), "0" * 64, bad)
    assert not bad.exists() and not list(tmp_path.glob(".bad.json.*"))
    with pytest.raises(EndormError, match="cannot download"):
        fetch_pinned((tmp_path / "missing").as_uri(), "0" * 64, bad)
