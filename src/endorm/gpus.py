"""GPU assignment for local workflow runs.

Snakemake counts the ``gpu`` resource (``--resources gpu=N``) but assigns no device ids: two local jobs that each
declare ``gpu=1`` would both land on GPU 0. :func:`claim` gives a job ``n`` distinct devices by taking an exclusive
lock file per device (``fcntl.flock``, released when the process exits) and setting ``CUDA_VISIBLE_DEVICES``.
Under a scheduler that already set ``CUDA_VISIBLE_DEVICES`` (SLURM does for ``--gpus``) nothing changes.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)
_HELD: list = []  # open lock files: kept for the life of the process


def visible_count() -> int:
    try:
        import torch

        return torch.cuda.device_count()
    except Exception:  # noqa: BLE001 - no torch / no driver: no GPU
        return 0


def claim(n: int, lock_dir: str | os.PathLike = ".snakemake/gpu-locks", timeout: float = 3600.0,
          total: int | None = None) -> list[int]:
    """Takes ``n`` free GPUs and sets ``CUDA_VISIBLE_DEVICES`` to them; returns their ids ([] when not needed)."""
    if n <= 0 or os.environ.get("CUDA_VISIBLE_DEVICES") not in (None, ""):
        return []
    total = visible_count() if total is None else total
    if total == 0:
        return []
    if n > total:
        raise RuntimeError(f"this job needs {n} GPUs but {total} are visible")
    folder = Path(lock_dir)
    folder.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    while True:
        got = []
        for i in range(total):
            f = open(folder / f"gpu{i}.lock", "w")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.close()
                continue
            got.append((i, f))
            if len(got) == n:
                break
        if len(got) == n:
            _HELD.extend(f for _, f in got)
            ids = [i for i, _ in got]
            os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, ids))
            log.info("claimed GPU(s) %s", ids)
            return ids
        for _, f in got:
            f.close()
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {n} free GPU(s) after {timeout:.0f} s (locks in {folder})")
        time.sleep(2.0)
