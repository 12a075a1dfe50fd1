"""verl custom reward function calling a running ``endorm serve``: the documented path of
:mod:`endorm.serve.verl`, where the code lives (standard library only).

verl config (Hydra overrides)::

    custom_reward_function.path=pkg://endorm.integrations.verl   # or this file's path
    custom_reward_function.name=compute_score                     # or compute_score_batch (reward_manager=batch)
    +custom_reward_function.reward_kwargs.url=http://RM_HOST:8000 # else $ENDORM_URL, else http://127.0.0.1:8000

An absolute import, so the file also loads by its path (verl's ``custom_reward_function.path=/.../verl.py``).
"""

from endorm.serve.verl import DEFAULT_URL, compute_score, compute_score_batch

__all__ = ["DEFAULT_URL", "compute_score", "compute_score_batch"]
