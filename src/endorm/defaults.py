"""The library's defaults, one constant each (torch-free: the command line reads them to build its help)."""

DEFAULT_BATCH_TOKENS = 8192  # padded tokens per forward batch (scoring, judging, the RL reward)
DEFAULT_BATCH_SIZE = 64      # sequences per forward batch
CHUNK_BYTES = 64 << 20       # float32 logits of one vocabulary-reduction chunk
DEFAULT_RESAMPLES = 10_000   # bootstrap resamples of an accuracy's 95% interval
