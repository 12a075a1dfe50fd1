"""The library's defaults, one constant each (torch-free: the command line reads them to build its help)."""

DEFAULT_BATCH_TOKENS = 8192  # padded tokens per forward batch (scoring, judging, the RL reward)
DEFAULT_BATCH_SIZE = 64      # sequences per forward batch
CHUNK_BYTES = 64 << 20       # float32 logits of one vocabulary-reduction chunk
DEFAULT_RESAMPLES = 10_000   # bootstrap resamples of an accuracy's 95% interval
# Soft-Q temperature alpha: within these bounds logits / alpha and alpha * log(vocabulary) stay far inside float32
# (below 1e-3 the policy is already the argmax; a tiny alpha such as 1e-300 overflows to infinite values).
ALPHA_MIN, ALPHA_MAX = 1e-3, 1e3
