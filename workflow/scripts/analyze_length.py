"""Length under control: accuracy of every Table 1 method against the token-length difference of chosen and rejected
(binned, with counts), on a length-matched subset, and with the chosen response shorter or longer; two trivial
length-only methods beside them."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402

from endorm.tables.analysis_tables import LENGTH_LABELS as LABELS, build_length  # noqa: E402
from endorm.data.pairs import load_pairs  # noqa: E402
from endorm.core.encoding import PromptEncoder  # noqa: E402
from endorm.io import atomic_path, read_jsonl, write_json, write_text  # noqa: E402
from endorm.analysis.lengths import BASELINES, length_scores, response_lengths, summarize_methods  # noqa: E402
from endorm.logs import redirect_to  # noqa: E402
from endorm.options import prompt_format  # noqa: E402
from endorm.tables.common import to_csv  # noqa: E402


def plot(results, summaries, path, title):
    methods = list(results)
    fig, (ax, axn, axb) = plt.subplots(3, 1, figsize=(15, 12.5), gridspec_kw={"height_ratios": [3, 1, 2.6]})
    bins = [b["bin"] for b in next(iter(summaries.values()))["bins"]]
    x = list(range(len(bins)))
    cmap = plt.get_cmap("tab10")
    for k, m in enumerate(methods):
        s = summaries[m]
        base = m in BASELINES
        # EndoRM first and thick: summed log-likelihood (thin, dashed) lies on it under the paper's terminal value
        ax.plot(x, [b["accuracy"] for b in s["bins"]], marker=None if base else "o", ms=4,
                lw=1.0 if base else (4.5 if m == "endorm" else 1.6),
                ls={"shorter-wins": ":", "longer-wins": "-."}.get(m, "--" if m == "loglik" else "-"),
                color="grey" if base else cmap(k), alpha=0.5 if m == "endorm" else 1.0,
                label=f"{LABELS.get(m, m)} (n={s['all']['n']} comparisons)")
    ax.axhline(50, color="#bbbbbb", lw=0.6)
    ax.axvline((len(bins) - 1) / 2, color="#bbbbbb", lw=0.6)
    ax.set_ylabel("accuracy (%) in the bin")
    ax.set_ylim(-3, 103)
    ax.set_xticks(x)
    ax.set_xticklabels(bins, fontsize=8)
    ax.set_title("accuracy against tokens(chosen) - tokens(rejected); left of the middle: the chosen response is shorter")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    counts = [b["n"] for b in summaries[methods[0]]["bins"]]
    bars = axn.bar(x, counts, color="#8c8c8c")
    axn.bar_label(bars, fontsize=7)
    axn.set_ylabel("comparisons")
    axn.set_xticks(x)
    axn.set_xticklabels(bins, fontsize=8)
    axn.set_xlabel(f"length difference in tokens; comparisons per bin ({LABELS.get(methods[0], methods[0])}: every "
                   "row's 9; methods scored on fewer rows count fewer)", fontsize=9)
    groups = [("all", "all"), ("matched", "length-matched"), ("chosen_shorter", "chosen shorter"),
              ("chosen_longer", "chosen longer")]
    w = 0.8 / len(groups)
    for g, (key, label) in enumerate(groups):
        pos = [i + (g - (len(groups) - 1) / 2) * w for i in range(len(methods))]
        b = axb.bar(pos, [summaries[m][key]["accuracy"] for m in methods], w, label=label)
        axb.bar_label(b, labels=[f"{summaries[m][key]['accuracy']:.0f}" for m in methods], fontsize=6)
    axb.set_xticks(range(len(methods)))
    axb.set_xticklabels([LABELS.get(m, m).replace(" (length only)", "\n(length only)") for m in methods],
                        fontsize=8)
    axb.set_ylabel("accuracy (%)")
    axb.set_ylim(0, 108)
    axb.axhline(50, color="#bbbbbb", lw=0.6)
    axb.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    axb.set_title("accuracy on all comparisons, the length-matched ones, and with the chosen response shorter / longer")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")


with redirect_to(snakemake.log[0]):
    p = snakemake.params
    rows = load_pairs(snakemake.input.pairs)
    encoder = PromptEncoder(AutoTokenizer.from_pretrained(snakemake.input.model), prompt_format(p.format))
    lengths = response_lengths(encoder, rows)
    results = {m: read_jsonl(path) for m, path in zip(p.methods, snakemake.input.scores)}
    results.update({m: length_scores(rows, lengths, sign, m) for m, sign in BASELINES.items()})
    bins, within = p.length["bins"], p.length["matched_within"]
    summaries, metrics = summarize_methods(results, lengths, bins, within)
    t = build_length(summaries, metrics, pairs=snakemake.input.pairs, n_rows=len(rows), bins=bins,
                     matched_within=within)
    write_text(snakemake.output.csv, to_csv(t["columns"], t["rows"]))
    write_text(snakemake.output.bins, to_csv(t["bin_columns"], t["bin_rows"]))
    write_text(snakemake.output.md, t["markdown"])
    write_json(snakemake.output.json, t["json"])
    plot(results, summaries, snakemake.output.png, f"Length under control: {len(rows)} rows of "
                                                   f"{snakemake.input.pairs}")
    print(t["markdown"])
