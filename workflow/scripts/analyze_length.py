"""Length under control: accuracy of every Table 1 method against the token-length difference of chosen and rejected
(binned, with counts), on a length-matched subset, and with the chosen response shorter or longer; two trivial
length-only methods beside them."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402

from endorm.data import load_pairs  # noqa: E402
from endorm.encoding import PromptEncoder  # noqa: E402
from endorm.io import atomic_path, read_jsonl, write_json, write_text  # noqa: E402
from endorm.lengths import BASELINES, comparisons, length_scores, length_summary, response_lengths  # noqa: E402
from endorm.logs import redirect_to  # noqa: E402
from endorm.metrics import rmbench_accuracy  # noqa: E402
from endorm.options import prompt_format  # noqa: E402
from endorm.tables import METHOD_LABELS, to_csv, to_markdown  # noqa: E402

LABELS = {**METHOD_LABELS, "shorter-wins": "shorter response wins (length only)",
          "longer-wins": "longer response wins (length only)"}


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
    cfg = p.length
    results = {m: read_jsonl(path) for m, path in zip(p.methods, snakemake.input.scores)}
    results.update({m: length_scores(rows, lengths, sign, m) for m, sign in BASELINES.items()})
    summaries, metrics = {}, {}
    for m, score_rows in results.items():
        summaries[m] = length_summary(comparisons(score_rows, lengths, m), cfg["bins"], cfg["matched_within"])
        metrics[m] = rmbench_accuracy(score_rows, m)
    cols = ["method", "comparisons", "all", "matched", "n_matched", "chosen_shorter", "n_chosen_shorter",
            "chosen_longer", "n_chosen_longer", "easy", "normal", "hard", "avg"]
    summary_rows = [{"method": LABELS.get(m, m), "comparisons": s["all"]["n"], "all": s["all"]["accuracy"],
                     "matched": s["matched"]["accuracy"], "n_matched": s["matched"]["n"],
                     "chosen_shorter": s["chosen_shorter"]["accuracy"], "n_chosen_shorter": s["chosen_shorter"]["n"],
                     "chosen_longer": s["chosen_longer"]["accuracy"], "n_chosen_longer": s["chosen_longer"]["n"],
                     **{k: metrics[m][k] for k in ("easy", "normal", "hard", "avg")}}
                    for m, s in summaries.items()]
    bin_rows = [{"method": LABELS.get(m, m), "bin": b["bin"], "n": b["n"], "wins": b["wins"],
                 "accuracy": b["accuracy"]} for m, s in summaries.items() for b in s["bins"]]
    bins = [b["bin"] for b in next(iter(summaries.values()))["bins"]]
    wide = [{"method": LABELS.get(m, m), **{b["bin"]: (f"{b['accuracy']:.0f} ({b['n']})" if b["n"] else "")
                                           for b in s["bins"]}} for m, s in summaries.items()]
    lv = next(iter(summaries.values()))["levels"]
    header = [
        "# Length under control",
        "",
        f"* Data `{snakemake.input.pairs}` ({len(rows)} rows); token lengths of the responses as the reward model "
        "encodes them (its tokenizer, end-of-turn token included on both sides). Every row gives RM-Bench's 9 "
        "chosen-vs-rejected comparisons; a win is margin > 0 (ties and missing scores lose). Accuracies here are "
        "means over comparisons; easy/normal/hard/avg are RM-Bench's metric (macro over domains).",
        f"* Length-matched: |tokens(chosen) - tokens(rejected)| <= {cfg['matched_within']:g} x the longer one.",
        "* Where RM-Bench's levels sit in length: the chosen response is the shorter one in "
        + ", ".join(f"{lv[k]['chosen_shorter_pct']:.0f}% of the {k} comparisons" for k in ("hard", "normal", "easy"))
        + f" (computed on {next(iter(summaries.values()))['all']['n'] // 9} rows).",
        "* `shorter/longer response wins` score a response by its length alone: they show what length by itself "
        "earns in each column.",
        "",
        "## Accuracy (%) by subset",
        "",
        to_markdown(cols, summary_rows),
        "## Accuracy (%) by length difference, tokens(chosen) - tokens(rejected): accuracy (comparisons)",
        "",
        to_markdown(["method", *bins], wide),
    ]
    write_text(snakemake.output.csv, to_csv(cols, summary_rows))
    write_text(snakemake.output.bins, to_csv(["method", "bin", "n", "wins", "accuracy"], bin_rows))
    write_text(snakemake.output.md, "\n".join(header))
    write_json(snakemake.output.json, {"matched_within": cfg["matched_within"], "edges": cfg["bins"],
                                       "summaries": summaries, "metrics": {m: {k: v for k, v in x.items()
                                                                             if k != "domains"}
                                                                         for m, x in metrics.items()}})
    plot(results, summaries, snakemake.output.png, f"Length under control: {len(rows)} rows of "
                                                   f"{snakemake.input.pairs}")
    print("\n".join(header))
