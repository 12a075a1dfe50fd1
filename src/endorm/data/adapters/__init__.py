"""Adapters: one data set's raw rows (as :func:`endorm.data.sources.fetch` brings them) -> canonical rows of a family.

Each data set the workflow reads has one adapter, registered under the ``name`` its config entry gives and the
family of rows it makes:

* ``math``: ``{id, problem, answer, source}`` (Table 3's benchmarks; RL's prompts are made from them);
* ``pairs``: ``{id, prompt, chosen, rejected, domain, system?}`` (Table 1, Figure 1);
* ``dsp``: ``{id, query, responses}`` (Table 2);
* ``prompts``: the generator's prompts ``{id, prompt, category}`` (the embedded default's constructed data).

A new data set is one module in this folder with an ``@adapter(name, family)`` function, and one config entry
naming it (with its source); every module here is imported when an adapter is first looked up.
:func:`prepare` is the one way in: fetch, adapt, count what was dropped, check against the manifest.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from dataclasses import dataclass, field
from typing import Callable

from ...errors import EndormError
from ..sources import Raw

log = logging.getLogger(__name__)

FAMILIES = ("math", "pairs", "dsp", "prompts")


@dataclass
class Reading:
    """What an adapter is given besides its inputs: the config entry (``n``, ``seed``, ...), options of its family
    (e.g. the personas of constructed pairs), the list bad rows go to (None: a bad row is an error), and notes the
    adapter adds to the provenance."""

    spec: dict
    dropped: list[dict] | None = None
    options: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Adapter:
    name: str
    family: str
    read: Callable[[list[Raw], Reading], list[dict]]
    dataset: str | None  # the manifest entry this data set is (endorm.data.manifest.MANIFEST), if any
    takes: tuple[str, ...]  # entry keys the adapter applies itself (e.g. n as a split's size)
    needs: tuple[str, ...]  # entry keys it cannot do without (e.g. n, the size of a constructed set)


REGISTRY: dict[tuple[str, str], Adapter] = {}


def adapter(name: str, family: str, *, dataset: str | None = None, takes: tuple[str, ...] = (),
            needs: tuple[str, ...] = ()):
    """Register ``fn(inputs, reading) -> rows`` as the adapter ``name`` of ``family``."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}")

    def register(fn):
        if (family, name) in REGISTRY:
            raise ValueError(f"adapter {name!r} of family {family!r} is registered twice")
        REGISTRY[(family, name)] = Adapter(name, family, fn, dataset, takes, needs)
        return fn

    return register


def _load_all() -> None:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def names(family: str) -> list[str]:
    _load_all()
    return sorted(n for f, n in REGISTRY if f == family)


def get(family: str, name: str) -> Adapter:
    _load_all()
    if (family, name) not in REGISTRY:
        raise EndormError(f"unknown {family} data set {name!r}; expected one of {names(family)}")
    return REGISTRY[(family, name)]


def one_file(inputs: list[Raw], name: str) -> Raw:
    """The one input of a data set read from a single file (an error naming them when the source lists several)."""
    if len(inputs) != 1:
        raise EndormError(f"{name}: expected one file, got {len(inputs)} ({', '.join(r.where for r in inputs)})")
    return inputs[0]


def subset(rows: list[dict], n: int | None, seed: int) -> list[dict]:
    """``n`` rows drawn with ``random.Random(seed)``, in their original order (all rows when ``n`` is None)."""
    import random

    if n is None or n >= len(rows):
        return rows
    keep = sorted(random.Random(seed).sample(range(len(rows)), n))
    return [rows[i] for i in keep]


def prepare(spec: dict, family: str, work_dir, *, key: str, name: str | None = None, split: str = "train",
            drop_bad_rows: bool = False, options: dict | None = None, sample: str | None = None,
            seed: int = 0, count_domains: bool = False) -> tuple[list[dict], dict]:
    """(rows, provenance) of one config entry: fetch its source, apply its adapter, check it against the manifest.

    Args:
        spec: the entry (``source`` and its block, ``name``, ``n``, ``seed``, ``expect``, ...).
        family: the adapter's family; ``name`` overrides the entry's ``name``.
        work_dir: where downloads go (the caller removes it).
        key: the entry's config key, named in messages (``math_eval.benchmarks[aime24]``).
        split: the Hub split when the source names none.
        drop_bad_rows: a bad row is dropped and counted (``n_dropped``, ``dropped``), not an error.
        options: family options passed to the adapter.
        sample: what ``n`` does when the adapter does not apply it itself: ``"seeded"`` (a subset drawn with the
            entry's ``seed``, in file order) or ``"first"`` (the first ``n`` rows); None: ``n`` is refused.
        seed: the seed when the entry gives none.
        count_domains: check the rows per ``domain`` against the manifest's counts too.
    """
    from collections import Counter

    from .. import sources

    name = name or spec.get("name")
    ad = get(family, name)
    n, seed = spec.get("n"), int(spec.get("seed", seed))
    if n is not None and "n" not in ad.takes and sample is None:
        raise EndormError(f"{key}: {name} reads every row; `n` is not used here")
    missing = [k for k in ad.needs if spec.get(k) is None]
    if missing:
        raise EndormError(f"{key}: {name} needs {', '.join(f'`{k}`' for k in missing)}")
    fetched = sources.fetch(spec, work_dir, split=split, where=key)
    reading = Reading({**spec, "seed": seed}, [] if drop_bad_rows else None, options or {})
    rows = ad.read(fetched.inputs, reading)
    dropped = reading.dropped or []
    for d in dropped:
        log.warning("dropped: %s", d["reason"])
    read = len(rows) + len(dropped)
    # an adapter that draws its own n rows reports the rows its file holds
    file_rows = reading.notes.pop("n_file_rows", read)
    report = sources.check(spec, fetched, sources.manifest_dataset(fetched, ad.dataset),
                           rows=None if n is not None else read, key=f"{key}.expect",
                           domains=Counter(r["domain"] for r in rows) if count_domains else None)
    if n is not None and "n" not in ad.takes:
        rows = subset(rows, int(n), seed) if sample == "seeded" else rows[:int(n)]
    if n is not None and len(rows) < int(n):
        log.warning("%s: %s has %d rows, fewer than the n = %s asked for (%s rows in the file%s)", key, name,
                    len(rows), n, file_rows, f", {reading.notes['n_eligible']} usable"
                    if "n_eligible" in reading.notes else "")
    meta = {"source": fetched.label, "kind": fetched.kind, "name": name,
            **{k: v for k, v in fetched.provenance.items() if k != "source"}, **reading.notes,
            "n_requested": n, "seed": seed, "n_file_rows": file_rows, "n_dropped": len(dropped), "dropped": dropped,
            "n": len(rows), "manifest": report}
    return rows, meta
