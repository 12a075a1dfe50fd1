"""Token view: per-token r_h, log pi and V(s_h) of chosen vs rejected responses of selected RM-Bench
comparisons (the largest EndoRM margins either way and a few at random), as PNG heat strips and one HTML page."""
from endorm.data.pairs import load_pairs
from endorm.core.engine import Scorer
from endorm.io import read_jsonl, write_json, write_text
from endorm.logs import redirect_to
from endorm.options import load_for_job, prompt_format
from endorm.tables.common import model_label
from endorm.data.assets import model_provenance
from endorm.analysis.tokenview import (draw_png, render_html, response_summary, scales, select_comparisons, style_label,
                              token_records)

p = snakemake.params
with redirect_to(snakemake.log[0]):
    cfg, reward = p.tokens, p.reward
    rows = {r["id"]: r for r in load_pairs(snakemake.input.pairs)}
    picked = select_comparisons(read_jsonl(snakemake.input.scores), cfg["top"], cfg["bottom"], cfg["random"],
                                p.seed, cfg["same_style"])
    model, tok = load_for_job(snakemake.input.model, p.compute, snakemake.threads)
    scorer = Scorer(model, tok, prompt_format(p.format), max_batch_tokens=p.compute["batch_tokens"], progress=False)
    items = [(rows[c["id"]]["prompt"], rows[c["id"]][side][c[k]], rows[c["id"]].get("system"))
             for c in picked for side, k in (("chosen", "i"), ("rejected", "j"))]
    stats = scorer.token_stats(items, reward["alpha"])
    terminal = reward["terminal"]
    model_name = model_label(model_provenance(snakemake.input.model))
    kinds = {"top": "largest EndoRM margin (chosen far above rejected)",
             "bottom": "most negative EndoRM margin (rejected far above chosen)", "random": f"random (seed {p.seed})"}
    sections = []
    for n, c in enumerate(picked):
        row = rows[c["id"]]
        responses = []
        for side, k, s in (("chosen", c["i"], stats[2 * n]), ("rejected", c["j"], stats[2 * n + 1])):
            responses.append({"label": style_label(side, k, len(row[side])), "summary": response_summary(s, terminal),
                              "tokens": token_records(s, tok, terminal)})
        sections.append({
            "heading": f"{c['kind']} {c['rank']}: row {c['id']} ({c['domain']}), EndoRM margin {c['margin']:+.2f}",
            "meta": [f"{kinds[c['kind']]}; {responses[0]['label']} vs {responses[1]['label']}"],
            "prompt": scorer.encoder.render(row["prompt"], row.get("system")), "responses": responses})
    sc = scales([r["tokens"] for s in sections for r in s["responses"]])
    intro = [f"Model {model_name}; alpha {reward['alpha']:g}, terminal {terminal}; data {snakemake.input.pairs}; "
             f"margins from {snakemake.input.scores}.",
             f"Shown: the {cfg['top']} largest and {cfg['bottom']} most negative EndoRM margins and {cfg['random']} "
             f"comparisons drawn at random (seed {p.seed}), "
             + ("same-style comparisons only (RM-Bench's normal cells)." if cfg["same_style"] else
                "all 9 comparisons of a row eligible."),
             "r_h = Q(s_h, a_h) - V(s_h+1); the last token's r_h is its raw logit under terminal zero. "
             "Colour scales are shared by every response on the page; the legend says where each one is clipped."]
    write_text(snakemake.output.html, render_html("Endogenous reward per token: RM-Bench comparisons", intro,
                                                  sections, sc))
    for path, s in zip(snakemake.output.pngs, sections):
        draw_png(path, s["heading"], s["meta"], s["responses"], sc, max_tokens=cfg["max_tokens"])
    write_json(snakemake.output.json, {"comparisons": picked, "alpha": reward["alpha"], "terminal": terminal,
                                       "scales": {f: [v.lo, v.hi] for f, v in sc.items()},
                                       "sections": sections})
    print(f"{len(sections)} comparisons: " + ", ".join(f"{c['kind']}{c['rank']}={c['id']}" for c in picked))
