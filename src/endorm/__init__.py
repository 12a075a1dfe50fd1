from .reward import RewardOptions, TokenStats, aggregate, endogenous_score, lm_head_reduce
