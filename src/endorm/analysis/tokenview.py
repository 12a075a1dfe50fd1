"""Token-level view of the endogenous reward: per-token ``r_h``, ``log pi`` and ``V`` under the text.

For each response token ``a_h`` (taken in state ``s_h``): ``r_h = Q(s_h, a_h) - V(s_{h+1})`` (with the chosen
terminal value), ``log pi(a_h | s_h)`` and ``V(s_h)``. The same records feed a terminal table, a self-contained HTML
page (inline CSS, no script, no external asset: tokens are text spans with three heat strips under each, coloured by
value, the values on hover) and PNG figures (matplotlib). Colour scales are shared by everything on one page or
figure set, so chosen and rejected responses are comparable; they are robust (percentiles, see :func:`scales`),
values outside are clipped to the end colours, and every legend says where.
"""

from __future__ import annotations

import html
import math
import random
import unicodedata
from dataclasses import dataclass

from ..defaults import DEFAULT_TERMINAL
from ..errors import EndormError

# name: (field, label, colour stops low -> high)
QUANTITIES = {
    "reward": ("r_h", ("#762a83", "#f7f7f7", "#1b7837")),   # diverging around 0
    "logprob": ("log pi", ("#b2182b", "#fddbc7", "#f7f7f7")),  # 0 is white: surprising tokens are red
    "value": ("V(s_h)", ("#f7f7f7", "#92c5de", "#2166ac")),
}
STRIP_LABELS = {"reward": "r_h", "logprob": "log \u03c0", "value": "V"}  # beside a response's first strips
STYLE_NAMES = ("concise", "detailed plain", "detailed markdown")
NEWLINE = "\u21b5"


# ----- per-token records -------------------------------------------------------------------------------------------
def token_texts(tokenizer, ids: list[int]) -> list[str]:
    """The text each token adds, by incremental decoding: a token holding part of a character adds "" and the
    token that completes the character shows all of it."""
    out, stable = [], ""
    for k in range(len(ids)):
        text = tokenizer.decode(ids[: k + 1], skip_special_tokens=False, clean_up_tokenization_spaces=False)
        if text.endswith("\ufffd") and k + 1 < len(ids):  # an incomplete character: shown where it completes
            out.append("")
            continue
        if text.startswith(stable):
            out.append(text[len(stable):])
        else:
            out.append(tokenizer.decode([ids[k]], skip_special_tokens=False, clean_up_tokenization_spaces=False))
        stable = text
    return out


def token_records(stats, tokenizer, terminal: str = DEFAULT_TERMINAL) -> list[dict]:
    """One record per response token: id, text, q, logprob, value (V(s_h)), reward (r_h under ``terminal``)."""
    texts = token_texts(tokenizer, stats.token_ids)
    return [{"token_id": t, "text": x, "q": q, "logprob": lp, "value": v, "reward": r}
            for t, x, q, lp, v, r in zip(stats.token_ids, texts, stats.q, stats.logprobs, stats.values,
                                         stats.rewards(terminal))]


def response_summary(stats, terminal: str = DEFAULT_TERMINAL) -> str:
    """One line: tokens, R (sum of r_h), sum log pi, V(s_1), V(s_{H+1}) (the state after the last token)."""
    rewards = stats.rewards(terminal)
    return (f"{len(stats.token_ids)} tokens; R = sum r_h = {sum(rewards):.2f} (terminal {terminal}); "
            f"sum log pi = {sum(stats.logprobs):.2f}; V(s_1) = {stats.values[0]:.2f}; "
            f"V(s_H+1) = {stats.values[-1]:.2f}")


# ----- colour scales ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scale:
    """A linear map of [lo, hi] onto three colour stops (values outside are clipped)."""

    lo: float
    hi: float
    stops: tuple[str, str, str]
    clip: str = ""  # where the scale was cut, for the legend ("to the 2nd-98th percentile")

    def describe(self) -> str:
        """The legend's words: ``colour clipped to the 2nd-98th percentile: [a, b]``."""
        return f"colour clipped {self.clip}: [{self.lo:.2f}, {self.hi:.2f}]" if self.clip else \
            f"[{self.lo:.2f}, {self.hi:.2f}]"

    def fraction(self, x: float) -> float:
        if not math.isfinite(x) or self.hi <= self.lo:
            return 0.5
        return min(1.0, max(0.0, (x - self.lo) / (self.hi - self.lo)))

    def color(self, x: float) -> str:
        f = self.fraction(x)
        a, b, t = (self.stops[0], self.stops[1], 2 * f) if f <= 0.5 else (self.stops[1], self.stops[2], 2 * f - 1)
        ca = [int(a[k : k + 2], 16) for k in (1, 3, 5)]
        cb = [int(b[k : k + 2], 16) for k in (1, 3, 5)]
        return "#" + "".join(f"{round(u + (v - u) * t):02x}" for u, v in zip(ca, cb))


def _percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def scales(records: list[list[dict]]) -> dict[str, Scale]:
    """Shared robust scales of every quantity over all the given responses' records: ``r_h`` symmetric around 0 up to
    the 98th percentile of ``|r_h|``; ``log pi`` from its 2nd percentile to 0; ``V`` its 2nd-98th percentile."""
    out = {}
    for field, (_, stops) in QUANTITIES.items():
        values = [t[field] for rec in records for t in rec if math.isfinite(t[field])]
        if not values:
            raise EndormError("no token values to colour")
        if field == "reward":
            m = _percentile([abs(v) for v in values], 98) or 1.0
            out[field] = Scale(-m, m, stops, "at \u00b1 the 98th percentile of |r_h|")
        elif field == "logprob":
            out[field] = Scale(min(_percentile(values, 2), -1e-3), 0.0, stops, "below at the 2nd percentile")
        else:
            lo, hi = _percentile(values, 2), _percentile(values, 98)
            out[field] = Scale(lo, hi if hi > lo else lo + 1.0, stops, "to the 2nd\u201398th percentile")
    return out


def _ink(color: str) -> str:
    r, g, b = (int(color[k : k + 2], 16) for k in (1, 3, 5))
    return "#000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#fff"


def display_text(text: str) -> str:
    """A token's text as shown: newlines as a return arrow, an empty piece (part of a character) as a dot."""
    if text == "":
        return "\u00b7"
    return text.replace("\r", "").replace("\n", NEWLINE).replace("\t", "\u2192")


# ----- terminal table -----------------------------------------------------------------------------------------------
def token_table(responses: list[dict], max_width: int = 24) -> str:
    """A plain-text table per response (``{"label", "summary", "tokens": token_records(...)}``): the decoded token
    (quoted, newlines as a return arrow), ``r_h``, ``log pi`` and ``V(s_h)``."""
    out = []
    for r in responses:
        shown = [display_text(t["text"]) for t in r["tokens"]]
        shown = [x if len(x) <= max_width else x[: max_width - 1] + "\u2026" for x in shown]
        w = max([len(x) + 2 for x in shown] + [len("token")])
        out += [f"{r['label']}: {r.get('summary', '')}", "",
                f"{'#':>5}  {'token':<{w}} {'r_h':>10} {'log pi':>10} {'V(s_h)':>10}"]
        for k, (t, x) in enumerate(zip(r["tokens"], shown), 1):
            quoted = f'"{x}"'
            out.append(f"{k:>5}  {quoted:<{w}} {t['reward']:>10.4f} {t['logprob']:>10.4f} {t['value']:>10.4f}")
        out.append("")
    out.append("r_h = Q(s_h, a_h) - V(s_h+1); V(s_h) is the value of the state the token is taken in; V(s_H+1), the "
               "state after the last token, is the terminal value under --terminal bootstrap (0 under zero).")
    return "\n".join(out)


# ----- HTML ---------------------------------------------------------------------------------------------------------
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;max-width:1100px;color:#222}
h1{font-size:1.35em}h2{font-size:1.1em;margin-top:2em;border-top:1px solid #ccc;padding-top:.8em}
.meta{color:#555;font-size:.9em}.legend{display:flex;gap:24px;flex-wrap:wrap;margin:.6em 0}
.bar{display:inline-block;width:180px;height:10px;vertical-align:middle;border:1px solid #999}
.resp{margin:.6em 0 1.2em 0;line-height:1}.resp h3{font-size:.98em;margin:.4em 0}
.t{display:inline-block;vertical-align:top;margin:0 0 6px 0}
.tx{display:block;white-space:pre;font-family:DejaVu Sans Mono,Menlo,Consolas,monospace;font-size:13px;padding:1px 0}
.t b{display:block;height:4px;border-right:1px solid #fff}
.t:hover{outline:1px solid #000}
pre.prompt{white-space:pre-wrap;background:#f4f4f4;padding:8px;font-size:.85em}
.modes{margin:.5em 0;font-size:.9em}
#m-reward:checked~.doc .tx{background:var(--reward);color:var(--reward-ink)}
#m-logprob:checked~.doc .tx{background:var(--logprob);color:var(--logprob-ink)}
#m-value:checked~.doc .tx{background:var(--value);color:var(--value-ink)}
"""


def _span(k: int, t: dict, sc: dict[str, Scale]) -> str:
    colors = {f: sc[f].color(t[f]) for f in QUANTITIES}
    style = ";".join(f"--{f}:{c};--{f}-ink:{_ink(c)}" for f, c in colors.items())
    tip = (f"#{k + 1} {t['text']!r} (id {t['token_id']})\nr_h = {t['reward']:.4f}\nlog pi = {t['logprob']:.4f}\n"
           f"V(s_h) = {t['value']:.4f}\nQ = {t['q']:.4f}")
    strips = "".join(f'<b style="background:{colors[f]}"></b>' for f in QUANTITIES)
    out = (f'<span class="t" title="{html.escape(tip, quote=True)}"><span class="tx" style="{style}">'
           f"{html.escape(display_text(t['text']))}</span>{strips}</span>")
    return out + ("<br>" if "\n" in t["text"] else "")


def _legend(sc: dict[str, Scale]) -> str:
    items = []
    for f, (label, stops) in QUANTITIES.items():
        grad = f"linear-gradient(90deg,{stops[0]},{stops[1]},{stops[2]})"
        items.append(f'<span>strip {list(QUANTITIES).index(f) + 1}: <b>{html.escape(label)}</b> '
                     f'{sc[f].lo:.2f} <span class="bar" style="background:{grad}"></span> {sc[f].hi:.2f} '
                     f'<span class="meta">({html.escape(sc[f].describe())})</span></span>')
    return '<div class="legend">' + "".join(items) + "</div>"


def render_html(title: str, intro: list[str], sections: list[dict], sc: dict[str, Scale] | None = None) -> str:
    """A self-contained page. ``sections``: [{"heading", "meta" (lines), "prompt", "responses": [{"label",
    "summary", "tokens": token_records(...)}]}]. Every text is escaped."""
    if sc is None:
        sc = scales([r["tokens"] for s in sections for r in s["responses"]])
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>"]
    parts += [f'<p class="meta">{html.escape(line)}</p>' for line in intro]
    parts.append(_legend(sc))
    parts.append('<p class="meta">Under each token, three strips: r_h, log pi(a_h|s_h), V(s_h) (the state the token '
                 "is taken in). Hover a token for its values. Colour the text by:</p>")
    parts.append('<input type="radio" name="m" id="m-none" checked><label for="m-none">none</label> ')
    for f, (label, _) in QUANTITIES.items():
        parts.append(f'<input type="radio" name="m" id="m-{f}"><label for="m-{f}">{html.escape(label)}</label> ')
    parts.append('<div class="doc">')
    for s in sections:
        parts.append(f"<h2>{html.escape(s['heading'])}</h2>")
        parts += [f'<p class="meta">{html.escape(line)}</p>' for line in s.get("meta", [])]
        parts.append(f"<details><summary>prompt</summary><pre class=\"prompt\">{html.escape(s['prompt'])}</pre>"
                     "</details>")
        for r in s["responses"]:
            parts.append(f'<div class="resp"><h3>{html.escape(r["label"])}</h3>'
                         f'<p class="meta">{html.escape(r.get("summary", ""))}</p><div>')
            parts += [_span(k, t, sc) for k, t in enumerate(r["tokens"])]
            parts.append("</div></div>")
    parts.append("</div></body></html>")
    return "\n".join(parts) + "\n"


# ----- PNG ----------------------------------------------------------------------------------------------------------
def _elide(tokens: list[dict], max_tokens: int) -> tuple[list[dict], int, int]:
    """The first and last tokens when a response is longer than ``max_tokens``: (shown, cut position, cut count)."""
    if len(tokens) <= max_tokens:
        return tokens, -1, 0
    tail = max(1, max_tokens // 6)
    head = max_tokens - tail
    return tokens[:head] + tokens[-tail:], head, len(tokens) - max_tokens


def _columns(text: str) -> int:
    """Monospace columns of ``text``: wide characters (CJK, emoji) take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _layout(tokens: list[dict], width: int, cut: int, omitted: int):
    """(line, column, shown text) per token, wrapping at ``width`` characters and after newlines; plus the gap
    marker's position when tokens were elided."""
    line = col = 0
    out, marker = [], None
    for k, t in enumerate(tokens):
        if k == cut:
            text = f" \u22ef {omitted} tokens \u22ef "
            if col + len(text) > width:
                line, col = line + 1, 0
            marker = (line, col, text)
            col += len(text)
        text = display_text(t["text"])[:width]
        if col + _columns(text) > width:
            line, col = line + 1, 0
        out.append((line, col, text))
        col += max(1, _columns(text))
        if "\n" in t["text"]:
            line, col = line + 1, 0
    return out, marker, line + 1


def draw_png(path, heading: str, meta: list[str], responses: list[dict], sc: dict[str, Scale],
             max_tokens: int = 160, width: int = 110) -> None:
    """One figure: each response's tokens as monospace text with three heat strips under each token
    (r_h, log pi, V(s_h), labelled beside each response's first line), and colour bars of the shared scales that say
    where they clip. Long responses show their first and last tokens."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LinearSegmentedColormap, Normalize

    from ..io import atomic_path

    fig_w = 13.0
    gutter = 5  # characters left of the text, for the strip labels
    char_pt = fig_w * 72 * 0.96 / (width + gutter)
    fontsize = char_pt / 0.602  # DejaVu Sans Mono advance is 0.602 em: a token's text fills its columns exactly
    row_h, strip = 1.0, 0.42  # text row and one heat strip, in layout units (0.21 in)
    line_h = row_h + 3 * strip + 0.35
    blocks = []
    total = 0.0
    for r in responses:
        shown, cut, omitted = _elide(r["tokens"], max_tokens)
        lay, marker, lines = _layout(shown, width, cut, omitted)
        blocks.append((r, shown, lay, marker, lines))
        total += 2.2 + lines * line_h
    height_units = total + 1.0
    unit_in = 0.21
    fig = plt.figure(figsize=(fig_w, height_units * unit_in + 1.9 + 0.2 * len(meta)))
    top_frac = 1 - (0.55 + 0.2 * len(meta)) / fig.get_figheight()
    bottom_frac = 1.0 / fig.get_figheight()
    ax = fig.add_axes((0.02, bottom_frac, 0.96, top_frac - bottom_frac))
    ax.set_xlim(-gutter, width)
    ax.set_ylim(height_units, 0)
    ax.axis("off")
    fig.text(0.02, 1 - 0.3 / fig.get_figheight(), heading, fontsize=11, weight="bold", va="top")
    for k, line in enumerate(meta):
        fig.text(0.02, 1 - (0.55 + 0.2 * k) / fig.get_figheight(), line, fontsize=8, va="top", color="#444")
    y = 0.3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # glyphs missing from the font (CJK, emoji) are drawn as boxes
        for r, shown, lay, marker, lines in blocks:
            ax.text(-gutter, y + 0.9, r["label"], fontsize=9.5, weight="bold", va="bottom")
            ax.text(-gutter, y + 1.75, r.get("summary", ""), fontsize=7.5, color="#444", va="bottom")
            y0 = y + 2.2
            for q, f in enumerate(QUANTITIES):
                ax.text(-0.5, y0 + row_h + 0.06 + (q + 0.5) * strip, STRIP_LABELS[f], fontsize=6.5, color="#444",
                        ha="right", va="center")
            for t, (ln, col, text) in zip(shown, lay):
                top = y0 + ln * line_h
                ax.text(col, top + row_h * 0.85, text, family="DejaVu Sans Mono", fontsize=fontsize, va="baseline")
                for q, f in enumerate(QUANTITIES):
                    ax.add_patch(plt.Rectangle((col, top + row_h + 0.06 + q * strip), max(1, _columns(text)) - 0.15,
                                               strip - 0.03, color=sc[f].color(t[f]), lw=0))
            if marker:
                ln, col, text = marker
                ax.text(col, y0 + ln * line_h + row_h * 0.85, text, family="DejaVu Sans Mono", fontsize=fontsize,
                        color="#888", va="baseline")
            y = y0 + lines * line_h
    cax_w = 0.25
    for q, (f, (label, stops)) in enumerate(QUANTITIES.items()):
        cax = fig.add_axes((0.06 + q * 0.31, 0.45 / fig.get_figheight(), cax_w, 0.13 / fig.get_figheight()))
        cmap = LinearSegmentedColormap.from_list(f, list(stops))
        fig.colorbar(plt.cm.ScalarMappable(norm=Normalize(sc[f].lo, sc[f].hi), cmap=cmap), cax=cax,
                     orientation="horizontal", extend="both" if f != "logprob" else "min")
        cax.tick_params(labelsize=7)
        cax.set_title(f"strip {q + 1}: {label}\n{sc[f].describe()}", fontsize=7.5)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # glyphs missing from the font (CJK, emoji) are drawn as boxes
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


# ----- which comparisons to show ----------------------------------------------------------------------------------
def select_comparisons(score_rows: list[dict], top: int, bottom: int, n_random: int, seed: int,
                       same_style: bool = True) -> list[dict]:
    """Comparisons (row, chosen i, rejected j) to show: the ``top`` largest margins (chosen far above rejected), the
    ``bottom`` most negative, and ``n_random`` others drawn with ``seed``; distinct rows first, then distinct
    comparisons. ``same_style``: only i == j (RM-Bench's "normal" cells, where style and length are closest)."""
    from ..benchmarks.metrics import margin_matrix

    comps = []
    for n, row in enumerate(score_rows, 1):
        m = margin_matrix(row, f"scores, row {n}")
        for i, r in enumerate(m):
            for j, x in enumerate(r):
                if math.isfinite(x) and (i == j or not same_style):
                    comps.append({"id": str(row["id"]), "domain": row.get("domain", "all"), "i": i, "j": j,
                                  "margin": x})
    want = top + bottom + n_random
    if len(comps) < want:
        raise EndormError(f"token view: {want} comparisons asked for (top {top}, bottom {bottom}, random "
                          f"{n_random}) but the scores have {len(comps)}")
    picked: list[dict] = []
    used_rows: set[str] = set()

    def take(ordered: list[dict], k: int, kind: str) -> None:
        got = 0
        for distinct in (True, False):
            for c in ordered:
                if got == k:
                    return
                if c in picked or (distinct and c["id"] in used_rows):
                    continue
                picked.append(c)
                used_rows.add(c["id"])
                got += 1
                c["kind"], c["rank"] = kind, got

    take(sorted(comps, key=lambda c: -c["margin"]), top, "top")
    take(sorted(comps, key=lambda c: c["margin"]), bottom, "bottom")
    rest = [c for c in comps if c not in picked]
    random.Random(seed).shuffle(rest)
    take(rest, n_random, "random")
    return picked


def comparison_names(top: int, bottom: int, n_random: int) -> list[str]:
    """File stems of the selected comparisons, in selection order: top1.., bottom1.., random1.."""
    return ([f"top{k}" for k in range(1, top + 1)] + [f"bottom{k}" for k in range(1, bottom + 1)]
            + [f"random{k}" for k in range(1, n_random + 1)])


def style_label(side: str, k: int, n: int) -> str:
    return f"{side} {k + 1}" + (f" ({STYLE_NAMES[k]})" if n == len(STYLE_NAMES) else "")
