"""Outputs get the mode any other tool's files would get under the umask (0644 and 0755 under umask 022), while
writes stay atomic (a private temporary file or folder, then a rename)."""

import os
import stat

import pytest

from endorm.data.assets import prepare_model
from endorm.cli import main
from endorm.io import apply_umask, atomic_paths, umask, write_json, write_jsonl, write_text


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_umask_is_read_without_changing_it():
    old = os.umask(0o027)
    try:
        assert umask() == 0o027 and umask() == 0o027
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask,expected", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_follow_the_umask(tmp_path, mask, expected):
    old = os.umask(mask)
    try:
        write_text(tmp_path / "a.txt", "x")
        write_json(tmp_path / "sub" / "b.json", {"a": 1})
        write_jsonl(tmp_path / "c.jsonl", [{"a": 1}])
        with atomic_paths([tmp_path / "d", tmp_path / "e"]) as tmps:
            for t in tmps:
                t.write_bytes(b"y")
    finally:
        os.umask(old)
    for name in ("a.txt", "sub/b.json", "c.jsonl", "d", "e"):
        assert mode(tmp_path / name) == expected, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "c.jsonl", "d", "e", "sub"]  # no temporaries


def test_cli_outputs_are_0644(tmp_path, umask_022):
    scores, out = tmp_path / "s.jsonl", tmp_path / "acc.json"
    scores.write_text('{"id": 1, "score_chosen": [1], "score_rejected": [0]}\n')
    assert main(["accuracy", str(scores), "--output", str(out)]) == 0
    assert mode(out) == 0o644


def test_model_folder_is_0755_with_0644_files(tmp_path, umask_022):
    out = tmp_path / "models" / "linked"
    src = tmp_path / "src"
    src.mkdir()
    (src / "config.json").write_text("{}")
    os.chmod(src / "config.json", 0o600)
    prepare_model({"source": "path", "path": str(src)}, out)
    assert mode(out) == 0o755 and mode(out / "endorm_provenance.json") == 0o644
    assert (out / "config.json").is_symlink() and mode(src / "config.json") == 0o600  # a linked file is not touched
    assert [p.name for p in out.parent.iterdir()] == ["linked"]  # the temporary folder was renamed into place


def test_apply_umask_on_a_saved_model(tmp_path, umask_022, tiny_dir):
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(tiny_dir, folder)
    os.chmod(folder, 0o700)
    for p in folder.iterdir():
        os.chmod(p, 0o600)
    (folder / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(folder / "run.sh", 0o700)
    apply_umask(folder)
    assert mode(folder) == 0o755 and mode(folder / "run.sh") == 0o755
    assert {mode(p) for p in folder.iterdir() if p.name != "run.sh"} == {0o644}
