"""The reward core: the reward math (``reward``), prompt encoding (``encoding``), the scoring engine (``engine``),
model loading (``loading``) and greedy/sampled generation (``generation``). Imports nothing above it (the base
modules only: ``errors``, ``defaults``)."""
