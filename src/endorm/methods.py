"""Names of the scoring methods. Kept free of heavy imports: the workflow reads them at parse time, in every job."""

LIKELIHOOD_METHODS = ("endorm", "loglik", "loglik-mean")
JUDGE_METHODS = ("generative-verifier", "genrm-pointwise", "genrm-pairwise")
METHODS = LIKELIHOOD_METHODS + JUDGE_METHODS
