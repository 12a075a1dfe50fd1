"""RL: the TRL reward callable and monitors (:mod:`.reward`, whose names are exported here), the training run
(:mod:`.train`, ``python -m endorm.rl.train``), the non-finite guard (:mod:`.guard`), Table 3's training-free
controls (:mod:`.controls`) and the sharpening measurement (:mod:`.sharpening`).

The exports are lazy (PEP 562): ``import endorm.rl`` loads neither torch nor TRL; ``from endorm.rl import
EndogenousRewardFunction`` loads :mod:`.reward` (torch, not TRL)."""

from importlib import import_module

_EXPORTS = ("ON_NONFINITE", "AnswerAccuracy", "ContinuousRollout", "EndogenousRewardFunction",
            "repeated_ngram_fraction")


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(".reward", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_EXPORTS)
