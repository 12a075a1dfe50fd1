import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from endorm.benchmarks import paper  # noqa: E402
from endorm.io import atomic_path, read_json  # noqa: E402
from endorm.logs import redirect_to  # noqa: E402
from endorm.benchmarks.promptable import diagonal_dominance  # noqa: E402
from endorm.data.promptable import DSP_LABELS  # noqa: E402
from endorm.tables.table2 import ORDER  # noqa: E402
from endorm.tables.common import model_label  # noqa: E402

with redirect_to(snakemake.log[0]):
    m = read_json(snakemake.input.metrics)
    constructed = snakemake.params.data["source"] == "constructed"
    # three lines per panel title: the model, where it comes from (a packaged GGUF's provenance is long), the data
    name, _, origin = model_label(m["provenance"]["model"]).partition(" (")
    data = "constructed data (MT-Bench prompts)" if constructed else "DSP test"
    panels = [
        ("\n".join([f"Ours: {name}", *textwrap.wrap(f"({origin}" if origin else "", 70)]) + "\n"
         f"{data}, {m['pairs_per_domain']} pairs/domain; dominance {m['diagonal_dominance']:+.1f}", m["matrix"]),
        ("Paper: Qwen2.5-7B-Instruct\nDSP test, 2,644 pairs/domain\n"
         f"dominance {diagonal_dominance(paper.TABLE2)['diagonal_dominance']:+.1f}", paper.TABLE2),
    ]
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 5.2), gridspec_kw={"wspace": 0.08})
    for k, (ax, (title, mat)) in enumerate(zip(axes, panels)):
        grid = [[mat[x][d] for d in ORDER] for x in ORDER]
        im = ax.imshow(grid, vmin=0, vmax=100, cmap="viridis")
        for i in range(4):
            for j in range(4):
                ax.text(j, i, f"{grid[i][j]:.1f}", ha="center", va="center", fontsize=10,
                        color="white" if grid[i][j] < 60 else "black", fontweight="bold" if i == j else None)
        ax.set_xticks(range(4))
        ax.set_xticklabels([DSP_LABELS[d] for d in ORDER], rotation=20)
        ax.set_yticks(range(4))
        ax.set_yticklabels([f"EndoRM-{DSP_LABELS[d]}" for d in ORDER] if k == 0 else [])
        ax.set_xlabel("test domain (its response preferred)")
        ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=axes, shrink=0.8, label="accuracy (%), same scale in both panels")
    fig.suptitle("Table 2: a domain's system prompt makes the endogenous reward prefer that domain (diagonal)", y=1.03)
    with atomic_path(snakemake.output[0]) as tmp:
        fig.savefig(tmp, dpi=130, format="png", bbox_inches="tight")
