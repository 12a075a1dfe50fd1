"""The library's defaults, one constant each (torch-free: the command line reads them to build its help). The
workflow's schema (workflow/schemas/config.schema.yaml) repeats the ones it shares as its own defaults; a test holds
them equal."""

DEFAULT_BATCH_TOKENS = 8192  # padded tokens per forward batch (scoring, judging, the RL reward)
DEFAULT_BATCH_SIZE = 64      # sequences per forward batch
CHUNK_BYTES = 64 << 20       # float32 logits of one vocabulary-reduction chunk
DEFAULT_RESAMPLES = 10_000   # bootstrap resamples of an accuracy's 95% interval
# Soft-Q temperature alpha: within these bounds logits / alpha and alpha * log(vocabulary) stay far inside float32
# (below 1e-3 the policy is already the argmax; a tiny alpha such as 1e-300 overflows to infinite values).
ALPHA_MIN, ALPHA_MAX = 1e-3, 1e3

# The reward's options (endorm.core.reward.RewardOptions): raw logits (the paper does not report its alpha), the paper's
# terminal value V(s_H+1) = 0 and sum; the discount of the discounted aggregation is RMGAP's, the value in the first
# author's related public benchmark.
DEFAULT_ALPHA = 1.0
DEFAULT_TERMINAL = "zero"
DEFAULT_AGGREGATION = "sum"
DEFAULT_GAMMA = 0.93

DEFAULT_JUDGE_MAX_NEW_TOKENS = 8  # generation budget of the generative judges (a score or a letter, then stop)
# Appended to a math problem (Qwen2.5-Math's chain-of-thought instruction), for RL prompts and lm-eval alike.
DEFAULT_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
