"""endorm: the endogenous reward of "Generalist Reward Models: Found Inside Large Language Models" (arXiv 2506.23235).

Read a causal LM's logits as a soft Q-function; the inverse soft Bellman operator gives a reward with no training.
"""

from .api import EndogenousReward
from .engine import PromptFormat, Scorer, load_model
from .errors import EndormError
from .reward import RewardOptions, TokenStats, aggregate, endogenous_score, lm_head_reduce

__all__ = ["EndogenousReward", "EndormError", "PromptFormat", "RewardOptions", "Scorer", "TokenStats", "aggregate",
           "endogenous_score", "lm_head_reduce", "load_model"]
__version__ = "0.1.0"
