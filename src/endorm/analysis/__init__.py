"""Analyses of the reward: ablations of its variants, length control, the token view, Theorem 2 on synthetic MDPs
(``theory``), per-stage time and memory (``stagestats``) and the scoring-speed benchmark (``bench``)."""
