"""Names of the scoring methods and the judges' prompt placeholders. Kept free of heavy imports: the workflow reads
them at parse time, in every job."""

from ..errors import EndormError

LIKELIHOOD_METHODS = ("endorm", "loglik", "loglik-mean")
JUDGE_METHODS = ("generative-verifier", "genrm-pointwise", "genrm-pairwise")
METHODS = LIKELIHOOD_METHODS + JUDGE_METHODS

PLACEHOLDERS = {"generative-verifier": ("prompt", "response"), "genrm-pointwise": ("prompt", "response"),
                "genrm-pairwise": ("prompt", "response_a", "response_b")}


def check_judge_prompt(method: str, template: str, where: str = "judge prompts") -> None:
    """A judge prompt template uses only its method's placeholders (literal braces are written ``{{``/``}}``)."""
    import string

    if method not in PLACEHOLDERS:
        raise EndormError(f"{where}: unknown judge method {method!r}; expected one of {sorted(PLACEHOLDERS)}")
    if not isinstance(template, str) or not template.strip():
        raise EndormError(f"{where}: the {method} prompt must be a non-empty template")
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise EndormError(f"{where}: the {method} prompt is not a valid template ({exc}); write literal braces "
                          "as {{ and }}") from None
    unknown = sorted(fields - set(PLACEHOLDERS[method]))
    if unknown:
        raise EndormError(f"{where}: the {method} prompt has an unknown placeholder {{{unknown[0]}}}; allowed: "
                          f"{list(PLACEHOLDERS[method])}")
