"""Final answers of math problems: where a generation's answer is, how answers are normalised, when two are equal.

Free of lm-eval (the task YAMLs, RL's monitoring accuracy and the records all call :func:`score_answer`).

Extraction (:func:`extract_answer`)
    The content of the LAST ``\\boxed{...}`` (or ``\\fbox{...}``, ``\\boxed N``) of the generation; without one,
    the last number in the text (the convention of Qwen2.5-Math's evaluation toolkit); with neither, no answer.

Normalisation (:func:`normalise_answer`, applied to gold and prediction alike)
    What every benchmark's own grader treats as notation rather than mathematics is removed: ``$`` and ``\\(``
    delimiters, ``\\displaystyle``, ``\\left``/``\\right``, trailing punctuation (OlympiadBench's judge strips
    ``.,;:`` and ``$``; Qwen2.5-Math and MATH strip a final ``.``), ``\\dfrac``/``\\tfrac``, degree marks
    (``^\\circ``), ``\\%``, a trailing ``\\text{ unit}`` after a value (MATH's ``_remove_right_units``), the row's
    declared unit (OlympiadBench's ``unit`` field), thousands separators (``1,234``, ``1{,}234``, ``1\\,234``;
    never a tuple such as ``0,1``), a single-letter assignment ``x =`` in front of a value (Qwen2.5-Math strips
    ``x=``; OlympiadBench compares right-hand sides), and programming notation in Minerva's golds (``4.5e33``,
    ``-1./3``, ``np.arcsin``). A whole answer in ``\\text{...}`` is a text answer and compares case-insensitively;
    everything else is case-sensitive (``N`` and ``n`` are different symbols; ``e`` and ``E`` both read as Euler's
    number). Units: where the row declares one (OlympiadBench, 8 of 675 rows), that unit and only that one may
    follow the value (OlympiadBench asks for it outside the box, and its judge compares the boxed value); where none
    is declared, a unit in ``\\text{ ..}`` or a unit word after a number is notation, as in MATH's grader
    (``864 \\mbox{ inches}^2`` is ``864``; so ``5\\text{ cm}`` equals ``5\\text{ m}``: units are not compared).

Equality (:func:`answers_equal`)
    1. equal normalised strings (spaces ignored; ``52_{8}`` as ``52_8``);
    2. word answers compare case-insensitively (``\\text{(C)}`` = ``C``); numbers written in a base (``52_8``) only
       as written (math_verify drops the subscript: ``52_8`` would equal ``52_9``);
    3. both sides converted to SymPy by latex2sympy (the parser math_verify uses, but with symbols kept in their
       case, so ``SRAC=LRAC`` differs from ``srac=lrac``, and without math_verify's fallback to a fragment of an
       answer it cannot parse, which read ``\\frac{1}{3}E_1+\\frac{2}{3}E_2`` as ``2/3``). Two numbers: a gold
       written as a decimal (``0.49``, ``4.5e33``) is an approximation, right when the prediction rounds to it at
       the gold's significant digits (math_verify's rounding to 6 decimals made ``2.88e-19`` equal ``1.3e-27``);
       any other gold is exact, equal to 1 part in 1e9 (``2^{1009}`` is not ``3^{1009}``, ``15625`` not
       ``15626``, which Qwen2.5-Math's relative tolerance of 1e-4 accepts). Anything else (expressions,
       equations, sets, intervals, tuples, matrices) is compared by ``math_verify.verify``. An answer that does
       not parse equals only its own string.
"""

from __future__ import annotations

import re
import threading
from typing import Any

# ----- extraction -------------------------------------------------------------------------------------------------


def _boxed_spans(text: str) -> list[tuple[int, str]]:
    """(start, content) of every ``\\boxed{..}``, ``\\fbox{..}`` and ``\\boxed X`` in ``text``, braces balanced."""
    out = []
    for m in re.finditer(r"\\(?:boxed|fbox)\s*(\{)?", text):
        if m.group(1) is None:  # "\boxed 5": up to whitespace or "$"
            if not text[m.start():].startswith("\\boxed "):
                continue
            content = re.match(r"[^\s$]*", text[m.end():]).group(0)
            if content:
                out.append((m.start(), content))
            continue
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            out.append((m.start(), text[m.end():i - 1]))
    return out


def last_boxed(text: str) -> str | None:
    """Content of the last complete ``\\boxed{}`` (or ``\\fbox{}``, ``\\boxed X``) in ``text``; None if none."""
    spans = _boxed_spans(text or "")
    return spans[-1][1].strip() if spans else None


_NUMBER = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|-?\d+(?:\.\d+)?|-?\.\d+")


def extract_answer(generation: str) -> tuple[str | None, str]:
    """(answer, how): the last boxed answer (``boxed``), else the last number (``last_number``), else
    (None, ``none``)."""
    boxed = last_boxed(generation)
    if boxed is not None:
        return boxed, "boxed"
    numbers = _NUMBER.findall(generation or "")
    if numbers:
        return numbers[-1], "last_number"
    return None, "none"


# ----- normalisation ----------------------------------------------------------------------------------------------
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_TEXT_CMD = r"\\(?:text|textrm|mbox|mathrm|textnormal|operatorname)"
# Unit words a value may carry without \text{} (Minerva-style physics answers: "1.6 cm", "3e8 m/s").
_UNIT_WORDS = (
    "cm|mm|km|nm|m|s|sec|seconds?|minutes?|min|hours?|hr|h|days?|years?|yr|kg|g|K|J|eV|keV|MeV|GeV|erg|W|Hz|N|"
    "Pa|atm|V|A|C|mph|ft|feet|inches|inch|in|miles?|dollars?|cents?|degrees?|units?|pc|kpc|Mpc|AU|ly|L|mL|mol"
)
_TRAILING_UNIT = re.compile(
    rf"^(?P<value>{_NUM}(?:\s*\\times\s*10\^\{{?[-+]?\d+\}}?)?)\s*(?:\\[,;!: ]|~)*\s*"
    rf"(?:(?:{_TEXT_CMD})\{{\s*~?\s*(?:{_UNIT_WORDS})(?:\s*/\s*(?:{_UNIT_WORDS}))?\s*\}}|(?:{_UNIT_WORDS}))"
    rf"(?:\s*/\s*(?:{_UNIT_WORDS}))?(?:\^\{{?-?\d\}}?)?$"
)


def _strip_delimiters(s: str) -> str:
    s = s.replace("\\$", "").replace("$", "")
    s = re.sub(r"\\[()\[\]]", "", s)
    return s.replace("\\displaystyle", "").strip()


def _strip_trailing_punctuation(s: str) -> str:
    while True:
        t = re.sub(r"(?:\s|\\[,;!: ]|\\quad|\\qquad|\\text\{\s*\.?\s*\}|[.,;:])+$", "", s)
        t = re.sub(r"^(?:\s|[:;,])+", "", t)
        if t == s:
            return s
        s = t


def _remove_unit(s: str, unit: str) -> str:
    """Drop the row's declared unit (OlympiadBench's ``unit``: ``cm^2``, ``km/h``, ``minutes``) from the end of
    ``s``, in any of its spellings (``166 cm^2``, ``166 \\mathrm{~cm}^{2}``, ``\\frac{600}{7}\\text{ km/h}``)."""
    u = re.sub(r"\s+", "", _strip_delimiters(unit))
    m = re.fullmatch(r"(.*?)(?:\^\{?([^{}]+?)\}?)?", u)
    base, exp = m.group(1), m.group(2)
    if not re.match(r"[A-Za-z]", base):  # "^{\circ}", "%": removed with all degree and percent marks
        return s
    b = r"(?<![A-Za-z])" + re.escape(base).replace("/", r"\s*/\s*")
    e = rf"(?:\s*\^\s*\{{?\s*{re.escape(exp)}\s*\}}?)?" if exp else ""
    pattern = rf"(?:\s|\\[,;! ]|~)*(?:(?:{_TEXT_CMD})\{{\s*~?\s*{b}\s*{e}\s*\}}|{b}){e}$"
    t = re.sub(pattern, "", s).strip()
    return t if t else s


def normalise_answer(ans: Any, unit: str | None = None) -> str:
    """The notation-free form of one final answer (see the module docstring); ``unit``: the unit the benchmark
    declares for the row (OlympiadBench), removed from the end of the answer when it is there."""
    s = str(ans).strip().replace("\n", " ")
    s = _strip_delimiters(s)
    s = _strip_trailing_punctuation(s)
    s = re.sub(r"\\[dt]frac", r"\\frac", s)
    s = re.sub(r"\\(?:left|right|big|Big|bigg|Bigg)(?=[(\[\]).|\\{}])", "", s)
    s = s.replace("\\!", "").replace("\\geqslant", "\\geq").replace("\\leqslant", "\\leq")
    s = re.sub(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|°|\\circ(?![a-zA-Z])", "", s)
    s = re.sub(r"\\?%", "", s)
    if unit:  # the row declares its unit (OlympiadBench): that unit, and no other, is notation
        s = _remove_unit(s, unit)
    else:
        # a trailing unit in \text{ ...} after a value (MATH's _remove_right_units: "\text{ inches}^2")
        t = re.sub(r"^(.*?\S)\s*(?:\\[,;! ]|~)*\s*(?:\\text|\\mbox)\{\s+[A-Za-z][A-Za-z .]*\}(?:\^\{?\d\}?)?$",
                   r"\1", s)
        if t.strip() and t != s and not re.search(r"\\text|\\mbox", t):
            s = t
        m = _TRAILING_UNIT.match(s)  # a bare unit word after a number ("1.6 cm", Minerva's physics answers)
        if m:
            s = m.group("value")
    # a whole answer in \text{}: unwrap (a text answer)
    m = re.fullmatch(r"\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}", s.strip())
    if m:
        s = m.group(1).strip()
    # a single-letter assignment in front of the answer ("x = 3", "k=n+1"), not an equation such as "y=2x+3"
    m = re.fullmatch(r"\s*(?:[A-Za-z]|\\[a-zA-Z]+)(?:_\{?\w+\}?)?\s*=\s*([^=]+)", s)
    if m and not re.search(r"[A-Za-z]", re.sub(r"\\[a-zA-Z]+", "", m.group(1))):
        s = m.group(1)
    # thousands separators
    s = re.sub(r"(?<=\d)(?:\{,\}|\\,)(?=\d{3}(?!\d))", ",", s)
    if re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?", s.strip()):
        s = s.replace(",", "")
    # programming notation (Minerva golds): 4.5e33, -1./3, np.arcsin(x), a*t
    s = re.sub(rf"(?<![\w.])({_NUM})[eE]([-+]?\d+)(?![\w.])",
               lambda m: f"{m.group(1)} \\times 10^{{{int(m.group(2))}}}", s)
    s = re.sub(r"(?<=\d)\.(?!\d)", "", s)
    s = re.sub(r"\bnp\.(arc)?(sin|cos|tan|exp|log|sqrt)\b", r"\\\1\2", s)
    return re.sub(r"\s+", " ", s).strip()


def _is_text(s: str) -> bool:
    """A word answer ("Evelyn", "Yes", "(C)"): no digits, no LaTeX commands, and not a single math symbol."""
    core = s.strip("() ")
    return bool(re.fullmatch(r"[A-Za-z][A-Za-z ',.-]*", core)) and (len(core) > 1 or s != core)


def _compact(s: str) -> str:
    """For string comparison: no spaces, one-token subscripts unbraced (``52_{8}`` as ``52_8``)."""
    return re.sub(r"_\{(\w+)\}", r"_\1", re.sub(r"\s+", "", s))


def _key(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip("() ").lower()


# ----- equality ---------------------------------------------------------------------------------------------------
_BASE = re.compile(r"[0-9A-Za-z]+_\{?\d+\}?")
EXACT_REL_TOL = 1e-9


def verify_timeout() -> int | None:
    # math_verify's timeouts use SIGALRM, which works only in the main thread.
    return 5 if threading.current_thread() is threading.main_thread() else None


def _to_sympy(s: str):
    """SymPy object of a normalised answer (latex2sympy, symbols kept in their case), or None."""
    from latex2sympy2_extended.latex2sympy2 import ConversionConfig, latex2sympy
    from latex2sympy2_extended.math_normalization import NormalizationConfig
    from math_verify.parser import should_treat_as_complex
    from math_verify.utils import timeout

    config = NormalizationConfig(basic_latex=True, units=False, malformed_operators=True, nits=True, boxed="all",
                                 equations=False)

    @timeout(verify_timeout())
    def convert():
        return latex2sympy(s, is_real=not should_treat_as_complex(s), convert_degrees=False,
                           normalization_config=config, conversion_config=ConversionConfig(lowercase_symbols=False))

    try:
        return convert()
    except Exception:  # noqa: BLE001 -- an unparseable answer (or a timeout) equals only its own string
        return None


def _is_number(x) -> bool:
    import sympy

    return isinstance(x, sympy.Basic) and bool(x.is_number) and not x.free_symbols


_DECIMAL = re.compile(r"[-+]?(?P<mantissa>\d+\.\d*|\.\d+|\d+)(?P<exp>\s*\\times\s*10\^\{?[-+]?\d+\}?)?")


def significant_digits(gold: str) -> int | None:
    """Significant digits of a gold written as a decimal (``0.49``: 2, ``4.5 \\times 10^{33}``: 2, ``0.10``: 2);
    None for an exact gold (an integer, a fraction, an expression)."""
    m = _DECIMAL.fullmatch(gold.replace(" ", ""))
    if not m or ("." not in m.group("mantissa") and not m.group("exp")):
        return None
    digits = m.group("mantissa").replace(".", "").lstrip("0")
    return max(1, len(digits if "." in m.group("mantissa") else digits.rstrip("0")))


def numbers_equal(gold_value, pred_value, gold_text: str) -> bool:
    """Two numbers (SymPy). A gold written as a decimal is an approximation: the prediction is right when it agrees
    to the gold's significant digits (Minerva's ``0.49``, ``4.5e33``; MATH's exact ``0.35625`` needs all five).
    Any other gold is exact: equal to 1 part in 1e9 (``\\frac{1}{2}`` = ``0.5``, ``2^{1009}`` != ``3^{1009}``)."""
    import sympy

    g, p = sympy.N(gold_value, 50), sympy.N(pred_value, 50)
    if not (g.is_finite and p.is_finite):  # oo equals oo; 1/0 (zoo) and nan equal nothing
        return bool(g.is_infinite and g.is_extended_real and gold_value == pred_value)
    if not (g.is_real and p.is_real):
        return bool(abs(g - p) <= EXACT_REL_TOL * max(abs(g), abs(p)))
    sig = significant_digits(gold_text)
    if sig is None:
        return bool(abs(g - p) <= EXACT_REL_TOL * max(abs(g), abs(p)))
    if g == 0:
        return bool(abs(p) < sympy.Float(10) ** (-sig))
    scale = sympy.floor(sympy.log(abs(g), 10)) - (sig - 1)  # the gold's last significant place
    return bool(sympy.Integer(sympy.floor(p / 10 ** scale + sympy.Rational(1, 2)))
                == sympy.Integer(sympy.floor(g / 10 ** scale + sympy.Rational(1, 2))))


def answers_equal(prediction: Any, gold: Any, unit: str | None = None) -> bool:
    """Whether ``prediction`` states the same final answer as ``gold`` (see the module docstring); ``unit``: the
    row's declared unit (OlympiadBench), accepted but not required after the prediction's value."""
    p, g = normalise_answer(prediction, unit), normalise_answer(gold, unit)
    if not p or not g:
        return False
    if _compact(p) == _compact(g):
        return True
    if _is_text(g) or _is_text(p):  # words compare case-insensitively, "(C)" as "C"
        return _key(p) == _key(g)
    if _BASE.fullmatch(_compact(p)) or _BASE.fullmatch(_compact(g)):
        return False  # a number in a base: as written (the sympy path would drop the subscript)
    gold_expr, pred_expr = _to_sympy(g), _to_sympy(p)
    if gold_expr is None or pred_expr is None:
        return False
    from sympy.logic.boolalg import BooleanAtom

    if isinstance(gold_expr, BooleanAtom) or isinstance(pred_expr, BooleanAtom):
        return False  # "0.56 = 56" evaluates to False: no value to compare (its string was compared above)
    from sympy import Eq

    numeric_eq = [isinstance(x, Eq) and all(_is_number(side) for side in x.args) for x in (gold_expr, pred_expr)]
    if any(numeric_eq):  # "0.56 = 56%": an equation of numbers is compared side by side
        return all(numeric_eq) and all(numbers_equal(a, b, t) for a, b, t in
                                       zip(gold_expr.args, pred_expr.args, g.split("=")))
    if _is_number(gold_expr) and _is_number(pred_expr):
        try:
            return numbers_equal(gold_expr, pred_expr, g)
        except (TypeError, ValueError, ArithmeticError):
            return False
    from math_verify import verify

    try:
        return bool(verify(gold_expr, pred_expr, timeout_seconds=verify_timeout()))
    except Exception:  # noqa: BLE001
        return False


def score_answer(generation: str, gold: Any, unit: str | None = None) -> tuple[str | None, bool]:
    """(extracted answer, correct) for one generation: see the module docstring for the rules."""
    extracted, _ = extract_answer(generation)
    if extracted is None:
        return None, False
    return extracted, answers_equal(extracted, gold, unit)
