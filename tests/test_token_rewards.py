"""`endorm token-rewards` for your own text: a table of decoded tokens by default, JSON with --json, a PNG with --png
(strips labelled, colour scales that say where they clip), and one --system flag."""

import json

from endorm.cli import main
from endorm.analysis.tokenview import STRIP_LABELS, scales

ARGS = ["token-rewards", "--prompt", "What is two plus two?", "--response", "Four. The answer is 4.",
        "--response", "Five."]


def run(tiny_dir, capsys, *extra):
    code = main([ARGS[0], "--model", str(tiny_dir), *ARGS[1:], *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_table_by_default_with_decoded_tokens(tiny_dir, capsys):
    code, table, _ = run(tiny_dir, capsys)
    assert code == 0
    _, js, _ = run(tiny_dir, capsys, "--json")
    data = json.loads(js)
    assert "\u0120" not in table and not table.lstrip().startswith(("{", "["))  # no BPE pieces, no JSON
    lines = table.splitlines()
    assert lines[0].startswith("response 1: ") and any(x.startswith("response 2: ") for x in lines)
    assert lines[2].split() == ["#", "token", "r_h", "log", "pi", "V(s_h)"]
    rows = [x for x in lines if x[:5].strip().isdigit()]
    assert len(rows) == len(data[0]["tokens"]) + len(data[1]["tokens"])
    k, spaced = next((k, t) for k, t in enumerate(data[0]["tokens"]) if t["text"].startswith(" "))
    assert f'"{spaced["text"]}"' in rows[k]  # decoded: " The", not the BPE piece "ĠThe"
    assert rows[k].split()[-3:] == [f"{spaced[f]:.4f}" for f in ("reward", "logprob", "value")]
    assert "V(s_H+1), the state after the last token" in table
    assert set(data[0]) >= {"value_after_last_token", "tokens", "total", "logprob_total"}
    assert "final_value" not in data[0]


def test_png_for_your_own_text(tiny_dir, tmp_path, capsys, monkeypatch):
    import matplotlib.image
    import matplotlib.pyplot as plt

    figures = []
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: figures.append(fig) or close(fig))
    png, page = tmp_path / "view.png", tmp_path / "view.html"
    code, table, _ = run(tiny_dir, capsys, "--png", str(png), "--html", str(page))
    assert code == 0 and "response 1" in table
    image = matplotlib.image.imread(png)
    assert image.shape[1] > 1000 and image.shape[0] > 300
    texts = [t.get_text() for t in figures[0].findobj(plt.Text)]
    # each response's first strips carry their labels; each colour bar says where its scale is clipped
    assert sum(t == STRIP_LABELS["logprob"] for t in texts) == 2
    assert any("r_h\ncolour clipped at \u00b1 the 98th percentile of |r_h|: [" in t for t in texts)
    assert any("V(s_h)\ncolour clipped to the 2nd\u201398th percentile: [" in t for t in texts)
    assert "response 2" in texts and any(t.startswith("prompt: What is two plus two?") for t in texts)
    assert "colour clipped below at the 2nd percentile" in page.read_text()
    # one file for both views is refused before any work
    code, _, err = run(tiny_dir, capsys, "--png", str(png), "--html", str(png))
    assert code == 2 and "would overwrite" in err and "each output needs its own file" in err


def test_scales_say_where_they_clip():
    recs = [[{"reward": float(r), "logprob": -abs(r) / 10, "value": float(r)} for r in range(-50, 51)]]
    sc = scales(recs)
    assert sc["value"].describe() == "colour clipped to the 2nd\u201398th percentile: [-48.00, 48.00]"
    assert sc["reward"].describe() == "colour clipped at \u00b1 the 98th percentile of |r_h|: [-49.00, 49.00]"
    assert sc["logprob"].describe() == "colour clipped below at the 2nd percentile: [-4.90, 0.00]"


def test_one_system_flag(tiny_dir, capsys):
    _, plain, _ = run(tiny_dir, capsys, "--json")
    code, system, err = run(tiny_dir, capsys, "--json", "--system", "Be brief.")
    assert code == 0 and "warning" not in err
    assert "Be brief." in json.loads(system)[0]["prompt"] and json.loads(system) != json.loads(plain)
    code, alias, err = run(tiny_dir, capsys, "--json", "--system-prompt", "Be brief.")
    assert code == 0 and json.loads(alias) == json.loads(system)
    assert "endorm: warning: --system-prompt is deprecated here; use --system" in err
    assert main(["token-rewards", "--help"]) == 0
    assert "deprecated alias of --system" in capsys.readouterr().out
