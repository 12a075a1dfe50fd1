"""Grading a math answer (endorm.data.answers): the answer extracted from a generation, the equivalences the grader
accepts and refuses (both ways), decimal golds, the notation-only normalisation."""

from __future__ import annotations

import pytest

from endorm.data import answers

pytest.importorskip("math_verify")


# ----- scoring -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("generation, gold, extracted, correct", [
    ("so x = \\boxed{0.5}", "\\frac{1}{2}", "0.5", True),
    ("so x = \\boxed{\\frac{1}{3}}", "\\frac{1}{2}", "\\frac{1}{3}", False),
    ("The answer is $\\boxed{27.0}$.", "27", "27.0", True),
    ("\\boxed{27}", "27.0", "27", True),
    ("Total: \\boxed{1,234} dollars", "1234", "1,234", True),
    ("\\boxed{1234}", "1,234", "1234", True),
    ("first \\boxed{3} then corrected: \\boxed{\\frac{3}{4}}", "\\frac34", "\\frac{3}{4}", True),
    ("\\boxed{(2,7,13), (1,8,19), (4,5,7)}", "(1,8,19), (2,7,13), (4,5,7)", "(2,7,13), (1,8,19), (4,5,7)", True),
    ("\\boxed{(1,8,19)}", "(1,8,19), (2,7,13), (4,5,7)", "(1,8,19)", False),
    ("\\boxed{4.5 \\times 10^{33}}", "4.5e33", "4.5 \\times 10^{33}", True),
    ("\\boxed{\\sqrt{2}}", "sqrt(2)", "\\sqrt{2}", True),
    ("\\fbox{204} minutes", "204", "204", True),
    ("no box, 3 steps, so 18 eggs", "18", "18", True),  # fallback: the last number
    ("no box, 3 steps, so 18 eggs", "19", "18", False),
    ("I do not know.", "7", None, False),
    ("\\boxed{x^2+1", "1", "1", True),  # an unclosed box is not an answer; the last number is
])
def test_score_answer(generation, gold, extracted, correct):
    assert answers.score_answer(generation, gold) == (extracted, correct)


def test_extract_answer_reports_how():
    assert answers.extract_answer("a \\boxed{\\frac{1}{2}} b") == ("\\frac{1}{2}", "boxed")
    assert answers.extract_answer("then 1,234.") == ("1,234", "last_number")
    assert answers.extract_answer("the set 2,3,4") == ("4", "last_number")
    assert answers.extract_answer("x = -0.5") == ("-0.5", "last_number")
    assert answers.extract_answer("") == (None, "none")
    assert answers.last_boxed("\\boxed{\\frac{a}{b}} and \\boxed{\\left\\{1,2\\right\\}}") == "\\left\\{1,2\\right\\}"


# Hand-made forms, each tested both ways (prediction -> gold and gold -> prediction): (a, b, equal, unit).
EQUIVALENCES = [
    ("\\frac12", "0.5", True, None), ("\\dfrac{1}{2}", "\\frac{1}{2}", True, None), ("\\tfrac12", "0.5", True, None),
    ("\\frac{1}{3}", "0.3333333333", True, None),
    ("\\frac 59", "\\frac 60", False, None),  # shorthand fractions; 6/0 is no number
    ("6\\!:\\!00", "05\\!:\\!00", False, None), ("0.56 = 56\\%", "1.56 = 56\\%", False, None),
    ("\\infty", "\\infty", True, None), ("\\infty", "-\\infty", False, None),
    ("(1,2]", "(1, 2]", True, None), ("(1,2)", "(1,2]", False, None), ("[2,5)", "x \\in [2,5)", True, None),
    ("(-\\infty, 0) \\cup \\{1\\}", "(-\\infty,0)\\cup\\{1\\}", True, None),
    ("(-\\infty, 0) \\cup \\{1\\}", "(-\\infty,0)\\cup\\{2\\}", False, None),
    ("\\{1,2\\}", "\\{2,1\\}", True, None), ("\\{1,3\\}", "\\{1,2\\}", False, None),
    ("1, 3, 5", "5,3,1", True, None), ("(1,8,19), (2,7,13)", "(2,7,13), (1,8,19)", True, None),
    ("(1,8,19), (2,7,13)", "(1,8,19)", False, None),
    ("x=3", "3", True, None), ("k = n+1", "n+1", True, None), ("y=2x+3", "2x+3", True, None),
    ("y=2x+3", "y = 3+2x", True, None), ("y=2x+3", "y=2x+4", False, None),
    ("30^\\circ", "30", True, None), ("30^{\\circ}", "30", True, None), ("30^\\circ", "31", False, None),
    ("5\\text{ cm}", "5", True, None), ("864 \\mbox{ inches}^2", "864", True, None), ("1.6 cm", "1.6", True, None),
    ("5\\text{ cm}", "6", False, None),
    ("5 m", "5", True, "m"), ("5\\,\\mathrm{m}", "5", True, "m"), ("5 cm", "5", False, "m"),  # OlympiadBench unit
    ("166 cm^2", "166", True, "$cm^2$"), ("50 minutes", "50", True, "minutes"), ("4.2\\%", "4.2", True, "%"),
    ("1,234", "1234", True, None), ("1{,}234", "1234", True, None), ("1\\,234", "1234", True, None),
    ("1,234,567", "1234567", True, None), ("0,1", "1", False, None), ("1,235", "1234", False, None),
    ("\\text{Evelyn}", "evelyn", True, None), ("\\text{(C)}", "C", True, None), ("\\text{(C)}", "D", False, None),
    ("N", "n", False, None), ("N=n", "n", True, None), ("N=n", "N=n+1", False, None),
    ("SRAC=LRAC", "srac=lrac", False, None),  # the case-folded equation: symbols keep their case
    ("$5$", "5", True, None), ("5.", "5", True, None), ("$\\frac{1}{2}$.", "0.5", True, None),
    ("\\(7\\)", "7", True, None),
    ("$69$,$84$", "69, 84", True, None), ("84, 69", "69,84", True, None),  # OlympiadBench's "$69$,$84$"
    ("4.5e33", "4.5 \\times 10^{33}", True, None), ("4.5e33", "4.4e33", False, None),  # Minerva golds
    ("2.88e-19", "2.88e-20", False, None), ("1.325e-27", "1.33e-27", False, None),
    ("-1./3", "-\\frac{1}{3}", True, None), ("np.arcsin(10/13)", "\\arcsin(10/13)", True, None),
    ("0.49", "0.4900", True, None), ("0.49", "0.51", False, None), ("0.35625", "0.35626", False, None),
    ("2^{1009}", "3^{1009}", False, None), ("15625", "15626", False, None), ("1000000", "1000001", False, None),
    ("52_8", "52_{8}", True, None), ("52_8", "53_8", False, None), ("52_8", "42", False, None),
    ("\\frac{1}{3} E_{1}+\\frac{2}{3} E_{2}", "\\frac{1}{3} E_{1}+\\frac{2}{3} E_{3}", False, None),
    ("\\sqrt{2}/2", "\\frac{1}{\\sqrt{2}}", True, None), ("\\pi", "3.141592653589793", True, None),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}", True, None),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}1\\\\3\\end{pmatrix}", False, None),
]


@pytest.mark.parametrize("a, b, equal, unit", EQUIVALENCES)
def test_equivalence_both_ways(a, b, equal, unit):
    assert answers.answers_equal(a, b, unit) is equal
    assert answers.answers_equal(b, a, unit) is equal


# A gold written as a decimal is an approximation to its own significant digits; an exact gold is exact.
@pytest.mark.parametrize("prediction, gold, equal", [
    ("\\frac{1}{3}", "0.333", True), ("0.333", "\\frac{1}{3}", False),
    ("4.46e33", "4.5e33", True), ("4.5e33", "4.46e33", False), ("1.325e-27", "1.3e-27", True),
    ("0.49", "0.5", True), ("0.5", "0.49", False), ("0.104", "0.10", True), ("0.11", "0.10", False),
])
def test_decimal_golds_are_approximations(prediction, gold, equal):
    assert answers.answers_equal(prediction, gold) is equal


def test_normalise_answer_removes_notation_only():
    assert answers.normalise_answer("$\\dfrac{1}{2}$.") == "\\frac{1}{2}"
    assert answers.normalise_answer("x = 1,234") == "1234"
    assert answers.normalise_answer("4.5e33") == "4.5 \\times 10^{33}"
    assert answers.normalise_answer("f(x)=2x") == "f(x)=2x"  # an equation keeps its left side
    assert answers.normalise_answer("(0,1)") == "(0,1)"  # a tuple is no thousands separator
