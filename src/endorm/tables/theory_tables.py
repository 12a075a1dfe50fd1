"""Theorem 2's tables (the sweep of :mod:`endorm.analysis.theory`): the long CSV, and the Markdown report (fitted slopes, one
table per MDP, the setup and the notes). Built from the sweep's result alone; the workflow's ``run_theorem2`` runs
the sweep, then only writes.
"""

from __future__ import annotations

import math

PER_H = (  # (key of a summary row, its sd key or None, label)
    ("eps", "eps_sd", "eps (theorem's, of the fit)"),
    ("gap_imitation", "gap_imitation_sd", "imitation: J(pi_E) - J(pi_hat)"),
    ("abs_gap_imitation", None, "imitation: mean |J(pi_E) - J(pi_hat)|"),
    ("positive_imitation", None, "imitation: seeds with gap > 0"),
    ("gap_imitation_soft", None, "imitation: entropy-regularised gap alpha KL(pi_hat||pi_E)"),
    ("gap_imitation_worst", None, "imitation: worst case over the eps-ball (eps = worst_case_eps)"),
    ("gap_rl", "gap_rl_sd", "RL (hard) on r_hat: J(pi_E) - J(pi_RL)"),
    ("regret_rl", None, "RL (hard) on r_hat: J(pi*) - J(pi_RL)"),
    ("expert_minus_optimum", None, "J(pi_E) - J(pi*) (no fit involved)"),
    ("bound_rl", None, "2 alpha H eps (bound on the RL gap)"),
)
SLOPES = (  # (key in result slopes, label)
    ("abs_gap_imitation", "imitation, fitted: mean abs gap"),
    ("gap_imitation_worst", "imitation, worst case over the eps-ball"),
    ("gap_imitation_soft", "imitation, fitted: entropy-regularised gap"),
    ("minus_gap_rl", "RL on r_hat: J(pi_RL) - J(pi_E) (the expert's gap is negative)"),
    ("regret_rl", "RL on r_hat: regret to the optimum for r*"),
)


def _g(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def csv_table(result: dict) -> tuple[list[str], list[dict]]:
    """Long format: one row per (MDP, H, quantity) with mean and sd over seeds, and one per (MDP, fitted slope)."""
    columns = ["mdp", "H", "demonstrations", "quantity", "mean", "sd", "ci_low", "ci_high"]
    rows = []
    for m in result["mdps"]:
        for r in m["rows"]:
            for key, sd, _ in PER_H:
                rows.append({"mdp": m["name"], "H": r["H"], "demonstrations": r["demonstrations"], "quantity": key,
                             "mean": _g(r[key]), "sd": _g(r[sd]) if sd else ""})
        for key, _ in SLOPES:
            s = m["slopes"][key]
            rows.append({"mdp": m["name"], "H": "fit", "quantity": f"slope:{key}", "mean": _g(s["slope"]),
                         "ci_low": _g(s["lo"]), "ci_high": _g(s["hi"])})
    return columns, rows


def slope_text(s: dict, last_local: float | None = None) -> str:
    if math.isnan(s["slope"]):
        return "n/a (zero at some H)"
    text = f"{s['slope']:.2f}"
    if not math.isnan(s["lo"]):
        text += f" [{s['lo']:.2f}, {s['hi']:.2f}]"
    if last_local is not None and not math.isnan(last_local):
        text += f" (last pair {last_local:.2f})"
    return text


def markdown_report(result: dict, header: list[str]) -> str:
    """The slopes table and one table per MDP, under ``header`` lines."""
    spec = result["spec"]
    lines = list(header) + ["", "## Fitted slopes: gap proportional to H^slope (log-log least squares over "
                            f"H = {', '.join(map(str, spec['horizons']))}; [{100 * spec['level']:.0f}% seed-bootstrap "
                            "CI]; the theorem: at most 2 for imitation, at most 1 for RL)", ""]
    cols = ["MDP", "expert entropy / step"] + [label for _, label in SLOPES]
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for m in result["mdps"]:
        cells = [m["name"], f"{m['expert_entropy_per_step']:.3f}"]
        for key, _ in SLOPES:
            last = m["local_slopes"]["gap_imitation_worst"][-1] if key == "gap_imitation_worst" else None
            cells.append(slope_text(m["slopes"][key], last))
        lines.append("| " + " | ".join(cells) + " |")
    for m in result["mdps"]:
        ms = m["spec"]
        what = (f"regions: {ms['focused']} focused + {ms['diffuse']} diffuse tokens, switch {ms['switch']:.6g}"
                if ms["kind"] == "regions" else f"dirichlet: vocab {ms['vocab']}, concentration {ms['concentration']}")
        lines += ["", f"## {m['name']} ({what})", ""]
        hcols = ["H", "N demos", "eps", "imitation gap (mean ± sd)", "mean abs", "gap > 0", "soft gap",
                 f"worst case (eps={spec['worst_case_eps']})", "RL gap (mean ± sd)", "RL regret to pi*",
                 "J(pi_E) - J(pi*)", "2 alpha H eps"]
        lines += ["| " + " | ".join(hcols) + " |", "|" + "---|" * len(hcols)]
        for r in m["rows"]:
            lines.append("| " + " | ".join([
                str(r["H"]), str(r["demonstrations"]), f"{r['eps']:.3f}",
                f"{r['gap_imitation']:+.4g} ± {r['gap_imitation_sd']:.2g}", f"{r['abs_gap_imitation']:.4g}",
                f"{r['positive_imitation']}/{spec['seeds']}", f"{r['gap_imitation_soft']:.4g}",
                f"{r['gap_imitation_worst']:.4g}", f"{r['gap_rl']:+.4g} ± {r['gap_rl_sd']:.2g}",
                f"{r['regret_rl']:.3g}", f"{r['expert_minus_optimum']:+.4g}", f"{r['bound_rl']:.4g}"]) + " |")
        c = m["checks"]
        lines += ["", f"Checks: soft RL on r_hat against pi_hat, largest difference of their gaps "
                  f"{c['soft_rl_equals_imitation']:.1e} (zero with terminal zero: soft RL returns pi_hat); RL gap "
                  f"above 2 alpha H eps in {c['rl_bound_violations']} of {spec['seeds'] * len(spec['horizons'])} "
                  "fits (none possible with terminal zero)."]
    return "\n".join(lines) + "\n"


NOTES = [
    "J is the unregularised true return. Since r* = alpha log pi_E + shaping, J(pi) = const + alpha "
    "E_pi[log pi_E(tau)]: imitation's gap is alpha [Ent(pi_hat) - Ent(pi_E) + KL(pi_hat||pi_E)] and its "
    "entropy-regularised gap is alpha KL <= alpha H eps (linear in H).",
    "Imitation (fitted): the sign of each seed's gap is random (an unbiased fit errs both ways); the theorem "
    "bounds its size, so the slope is fitted to the mean |gap|.",
    "Worst case: the exact largest imitation gap of any policy within eps of the expert at every step and "
    "state (dynamic programming with a linear programme per state): the tight form of the H^2 eps bound here.",
    "RL on r_hat (hard) returns the most likely sequences under pi_hat. Its gap to the expert is negative at "
    "every H: a deterministic policy beats the stochastic expert on the unregularised return by about the "
    "expert's entropy, whatever eps is. Its eps-driven part is the regret to pi*, the optimum for r*; it is "
    "bounded by 2 alpha H eps, checked for every fit. Soft RL with the same alpha returns pi_hat itself.",
]


def build_theorem2(result: dict) -> dict:
    """Theorem 2's tables from :func:`endorm.analysis.theory.run_theorem2`'s result with its ``provenance`` (``threads``,
    ``torch``: the versions the workflow records). Returns ``{"columns", "rows"}`` (:func:`csv_table`) and
    ``"markdown"`` (the claim, the setup, :func:`markdown_report` and the notes)."""
    spec, prov = result["spec"], result["provenance"]
    header = [
        "# Theorem 2 on a synthetic token MDP with a known expert",
        "",
        "Claim (the paper's Theorem 2): with eps = max |log pi_E - log pi_hat| over every step, state and action, "
        "the model trained by next-token prediction has true-reward gap V(pi_E) - V(pi_hat) <~ H^2 eps, and RL on "
        "its endogenous reward (pi_RL = argmax V under r_hat) has V(pi_E) - V(pi_RL) <~ H eps.",
        "",
        f"Setup: bigram token MDPs (state = step and last token), a stationary expert soft-optimal for "
        f"r* = alpha log pi_E + Phi(s) - Phi(s') (alpha = {spec['alpha']}, random Phi), a bigram model fit by "
        f"next-token prediction (add-{spec['smoothing']} prior) on "
        + (f"{spec['demonstrations']} demonstrations" if spec["demonstrations"] else
           f"ceil({spec['tokens']} / H) demonstrations (the same {spec['tokens']} expert tokens at every H, so eps "
           "stays about fixed)")
        + f", its endogenous reward (terminal {spec['terminal']}), pi_RL solved exactly by dynamic programming "
        "(unregularised, as in the theorem), every return computed exactly. "
        f"{spec['seeds']} seeds per H; {result['seconds']:.1f} s on {int(prov['threads'])} CPU thread(s), "
        f"torch {prov['torch']}.",
    ]
    columns, rows = csv_table(result)
    markdown = markdown_report(result, header) + "\n" + "\n".join(f"* {n}" for n in NOTES) + "\n"
    return {"columns": columns, "rows": rows, "markdown": markdown}
