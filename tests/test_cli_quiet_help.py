"""`endorm --help` speaks to users (no maintainers' notes), and `--quiet` silences the libraries' progress bars too."""

import pytest

from endorm.cli import main
from endorm.io import write_jsonl


@pytest.fixture
def restore_library_output():
    import transformers
    from huggingface_hub.utils import enable_progress_bars

    level = transformers.utils.logging.get_verbosity()
    # an earlier in-process `--quiet` may have switched them off: start from the libraries' defaults
    transformers.utils.logging.enable_progress_bar()
    transformers.utils.logging.set_verbosity_warning()
    enable_progress_bars()
    yield
    transformers.utils.logging.enable_progress_bar()
    transformers.utils.logging.set_verbosity(level)
    enable_progress_bars()


def test_help_is_for_users(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    assert "accuracy" in text and "endorm: error:" in text
    for note in ("on purpose", "lines", "issue", "shared/", "``"):
        assert note not in text


def test_quiet_is_quiet(tiny_dir, tmp_path, capsys, restore_library_output):
    pairs = tmp_path / "pairs.jsonl"
    write_jsonl(pairs, [{"id": 1, "prompt": "What is two plus two?", "chosen": "Four.", "rejected": "Five."}])
    args = ["score", "--model", str(tiny_dir), "--input", str(pairs)]
    assert main(args + ["--output", str(tmp_path / "a.jsonl")]) == 0
    assert "Loading weights" in capsys.readouterr().err  # without --quiet: the bars this test silences
    assert main(args + ["--output", str(tmp_path / "b.jsonl"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "Loading weights" not in err and "it/s" not in err and "%|" not in err
