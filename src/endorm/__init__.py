"""endorm: the endogenous reward of "Generalist Reward Models: Found Inside Large Language Models" (arXiv 2506.23235).

Read a causal LM's logits as a soft Q-function; the inverse soft Bellman operator gives a reward with no training.
"""

from importlib import import_module

# Lazy (PEP 562): `import endorm.methods` (read by the workflow at parse time, in every job) must not load torch.
_EXPORTS = {"EndogenousReward": "api", "PromptEncoder": "core.encoding", "PromptFormat": "core.encoding", "Scorer":
            "core.engine", "load_model": "core.loading", "EndormError": "errors", "RewardOptions": "core.reward",
            "TokenStats": "core.reward", "aggregate": "core.reward", "endogenous_score": "core.reward",
            "lm_head_reduce": "core.reward"}


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'endorm' has no attribute {name!r}")

__all__ = ["EndogenousReward", "EndormError", "PromptEncoder", "PromptFormat", "RewardOptions", "Scorer", "TokenStats",
           "aggregate", "endogenous_score", "lm_head_reduce", "load_model"]
__version__ = "0.1.0"
