"""The training-free methods: their names and the judges' placeholders (:mod:`.names`, re-exported here), scoring
preference rows (``scoring``) and the judges (``baselines``).

Torch-free on purpose: the workflow imports ``endorm.methods`` at parse time, in every job; only ``names`` is
imported here (tests/test_layers.py checks that ``import endorm.methods`` loads no torch)."""

from .names import JUDGE_METHODS, LIKELIHOOD_METHODS, METHODS, PLACEHOLDERS, check_judge_prompt

__all__ = ["JUDGE_METHODS", "LIKELIHOOD_METHODS", "METHODS", "PLACEHOLDERS", "check_judge_prompt"]
