"""verl custom reward function calling a running ``endorm serve`` (standard library only).

verl calls ``compute_score(data_source, solution_str, ground_truth, extra_info=None)`` for each rollout, with
``solution_str`` the decoded response alone (special tokens skipped, so no end-of-turn token) and no prompt. The
prompt comes from ``extra_info``:

* ``extra_info["prompt"]``: chat messages (``[{"role": ..., "content": ...}]``, rendered by the server with the
  chat template and the generation prompt, as verl renders them for the policy) or text (rendered by the server's
  prompt format, as ``endorm score`` does). Put your dataset's ``prompt`` column here when you preprocess
  (``"extra_info": {..., "prompt": prompt_messages}``): then the reward sees exactly what the policy saw.
* else ``extra_info["question"]`` (verl's example preprocessors store the raw question there, without the
  instruction they append to the prompt), scored as text.

The server appends its end-of-turn token to the response (``endorm serve`` default), as verl's text has none. An
empty ``solution_str`` scores 0.0 without a request (no action taken; the same rule as OpenRLHF's empty responses).

verl config (Hydra overrides)::

    custom_reward_function.path=pkg://endorm.integrations.verl   # or the file's path
    custom_reward_function.name=compute_score                     # or compute_score_batch (reward_manager=batch)
    +custom_reward_function.reward_kwargs.url=http://RM_HOST:8000 # else $ENDORM_URL, else http://127.0.0.1:8000

A bearer token comes from ``reward_kwargs.token`` or ``$ENDORM_TOKEN``. Requests that meet a full queue (429) or a
stopping server (503) are retried after the server's Retry-After, up to ``retries`` times.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

DEFAULT_URL = "http://127.0.0.1:8000"


def _prompt(extra_info):
    info = extra_info or {}
    if info.get("prompt") is not None:
        prompt = info["prompt"]
        if isinstance(prompt, str):
            return prompt
        try:  # parquet gives numpy arrays of dicts
            return [{"role": str(m["role"]), "content": str(m["content"])} for m in prompt]
        except (TypeError, KeyError) as exc:
            raise ValueError(f"extra_info['prompt'] must be text or chat messages with role and content: {exc}")
    if isinstance(info.get("question"), str):
        return info["question"]
    raise ValueError("the endogenous reward needs the prompt: put it in extra_info['prompt'] (chat messages or text) "
                     "or extra_info['question'] when you preprocess the dataset")


def _post(url: str, body: dict, token: str | None, timeout: float, retries: int) -> dict:
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    for attempt in range(retries + 1):
        req = urllib.request.Request(url.rstrip("/") + "/score", data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:500]
            if exc.code in (429, 503) and attempt < retries:
                time.sleep(float(exc.headers.get("Retry-After") or 1))
                continue
            raise RuntimeError(f"endorm serve at {url} answered {exc.code}: {detail}") from None
        except urllib.error.URLError as exc:
            if attempt < retries:
                time.sleep(1.0)
                continue
            raise RuntimeError(f"endorm serve at {url} is unreachable: {exc.reason}") from None
    raise AssertionError("unreachable")


def _settings(kw: dict) -> tuple[str, str | None, float, int]:
    return (kw.get("url") or os.environ.get("ENDORM_URL") or DEFAULT_URL, kw.get("token") or
            os.environ.get("ENDORM_TOKEN"), float(kw.get("timeout", 600)), int(kw.get("retries", 5)))


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> float:
    """The endogenous reward R(x, y) of one response (verl's custom reward function signature).

    ``data_source`` and ``ground_truth`` do not enter the reward (it needs no reference answer). Extra keyword
    arguments (``url``, ``token``, ``timeout``, ``retries``, ``system``, and whatever verl adds) are accepted.
    """
    url, token, timeout, retries = _settings(kwargs)
    prompt = _prompt(extra_info)
    if not solution_str:  # nothing generated (or only the end-of-turn token, which verl strips): no action, 0
        return 0.0
    body = {"prompt": prompt, "responses": [solution_str]}
    if kwargs.get("system") is not None:
        body["system"] = kwargs["system"]
    return float(_post(url, body, token, timeout, retries)["scores"][0])


def compute_score_batch(data_sources, solution_strs, ground_truths, extra_infos, **kwargs) -> list[float]:
    """Batch form for verl's ``reward_manager=batch``: one request per distinct prompt (a GRPO group shares its
    prompt's prefix pass), sent concurrently."""
    url, token, timeout, retries = _settings(kwargs)
    groups: dict[str, list[int]] = {}
    prompts = {}
    for i, info in enumerate(extra_infos):
        prompt = _prompt(info)
        if not solution_strs[i]:  # as compute_score: an empty response scores 0
            continue
        key = json.dumps(prompt, sort_keys=True)
        groups.setdefault(key, []).append(i)
        prompts[key] = prompt
    scores = [0.0] * len(solution_strs)

    def run(key):
        idx = groups[key]
        body = {"prompt": prompts[key], "responses": [solution_strs[i] for i in idx]}
        if kwargs.get("system") is not None:
            body["system"] = kwargs["system"]
        for i, s in zip(idx, _post(url, body, token, timeout, retries)["scores"]):
            scores[i] = float(s)

    with ThreadPoolExecutor(max_workers=min(32, max(1, len(groups)))) as pool:
        list(pool.map(run, groups))
    return scores
