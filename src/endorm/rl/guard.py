"""The non-finite guard of an RL run (docs/rl-guard.md): every optimizer step is checked for a non-finite loss,
gradient (norm) or endogenous reward before the update, and stopped (``on_nonfinite: stop``) or skipped (``skip``).
TRL would otherwise train through it: it turns NaN rewards into 0 and the Trainer logs the running mean in place of a
NaN loss. :func:`endorm.rl.train.train` hooks it into the trainer class (:func:`guarded`)."""

from __future__ import annotations

import logging
import math

import torch

from ..errors import EndormError
from .reward import ON_NONFINITE, EndogenousRewardFunction

log = logging.getLogger("endorm.rl.train")  # the training run's log, where its skipped steps are told


class NonFiniteGuard:
    """Checks every optimizer step for a non-finite loss, gradient or endogenous reward, before the update.

    ``after_backward`` runs after each micro-batch's backward (the loss; on the micro-batch that completes the
    accumulation window, every gradient, before the Trainer clips it: clipping with a NaN norm makes every gradient
    NaN). ``before_optimizer_step`` runs from the Trainer's ``on_pre_optimizer_step`` event; with several processes
    the verdict is reduced over all of them, so every rank stops or skips together. ``"stop"`` raises an
    :class:`EndormError` naming the step, the quantities and their values; ``"skip"`` sets every gradient to ``None``,
    so the optimizer leaves the weights and its own state untouched (torch optimizers skip parameters without a
    gradient; the learning-rate schedule still advances), and records the step in :attr:`events`.
    """

    def __init__(self, mode: str = "stop", reward_fn: EndogenousRewardFunction | None = None) -> None:
        if mode not in ON_NONFINITE:
            raise EndormError(f"on_nonfinite must be one of {ON_NONFINITE}, got {mode!r}")
        self.mode = mode
        self.reward_fn = reward_fn
        self.events: list[dict] = []  # one per skipped step
        self._reset()

    def _reset(self) -> None:
        self._loss: float | None = None        # first non-finite micro-batch loss of the step
        self._grad_sq: torch.Tensor | None = None  # sum of squared gradient entries (this process's shards)
        self._grad_bad: list[str] = []         # parameters with a non-finite gradient
        self._grad_total = 0
        self._sharded = False

    def after_backward(self, model: torch.nn.Module, loss: torch.Tensor, window_done: bool) -> None:
        value = float(loss.detach().float().mean())
        if not math.isfinite(value) and self._loss is None:
            self._loss = value
        if window_done:
            self._check_grads(model)

    def _check_grads(self, model: torch.nn.Module) -> None:
        from torch.distributed.tensor import DTensor

        names, norms, finite = [], [], []
        for name, p in model.named_parameters():
            g = p.grad
            if g is None:
                continue
            if isinstance(g, DTensor):
                g, self._sharded = g.to_local(), True
            names.append(name)
            norms.append(torch.linalg.vector_norm(g, dtype=torch.float32))
            finite.append(torch.isfinite(g).all())
        if not names:
            return
        self._grad_sq = torch.stack(norms).double().square().sum()
        ok = torch.stack(finite).tolist()  # one device sync for all parameters
        self._grad_bad = [n for n, f in zip(names, ok) if not f]
        self._grad_total = len(names)

    def before_optimizer_step(self, step: int, optimizer, device) -> None:
        rewards = self.reward_fn.nonfinite if self.reward_fn is not None else []
        flags = [float(self._loss is not None), float(bool(self._grad_bad)), float(bool(rewards))]
        grad_sq = float(self._grad_sq) if self._grad_sq is not None else 0.0
        flags, grad_sq = _across_processes(flags, grad_sq, self._sharded, device)
        if any(flags):
            quantities = [q for q, f in zip(("loss", "gradient", "reward"), flags) if f]
            msg = f"RL step {step}: non-finite {', '.join(quantities)}: " + "; ".join(
                self._describe(quantities, grad_sq, rewards))
            if self.mode == "stop":
                self._reset()
                raise EndormError(msg + " (rl.on_nonfinite: stop; 'skip' drops such steps instead)")
            for group in optimizer.param_groups:
                for p in group["params"]:
                    p.grad = None
            self.events.append({"step": step, "quantities": quantities, "message": msg,
                                "loss": repr(self._loss) if self._loss is not None else None})
            log.warning("%s; update skipped (rl.on_nonfinite: skip), %d step(s) skipped so far", msg,
                        len(self.events))
        if self.reward_fn is not None:
            self.reward_fn.nonfinite.clear()
        self._reset()

    def _describe(self, quantities: list[str], grad_sq: float, rewards: list[dict]) -> list[str]:
        out = []
        if "loss" in quantities:
            out.append(f"loss {self._loss!r}" if self._loss is not None else "loss (on another process)")
        if "gradient" in quantities:
            bad = self._grad_bad
            where = (f"{len(bad)} of {self._grad_total} parameter gradients, e.g. {', '.join(bad[:3])}" if bad
                     else "on another process")
            out.append(f"gradient norm {math.sqrt(grad_sq)!r} (non-finite in {where})")
        if "reward" in quantities:
            out.append(rewards[0]["detail"] if rewards else "endogenous reward (on another process)")
        return out


def _across_processes(flags: list[float], grad_sq: float, sharded: bool, device) -> tuple[list[float], float]:
    """The guard's verdict over all processes: any flag set anywhere; the squared gradient norm summed over FSDP
    shards (replicated gradients: the largest)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return flags, grad_sq
    t = torch.tensor(flags, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    sq = torch.tensor([grad_sq], dtype=torch.float64, device=device)
    dist.all_reduce(sq, op=dist.ReduceOp.SUM if sharded else dist.ReduceOp.MAX)
    return t.tolist(), float(sq)


def guarded(trainer_cls, guard: NonFiniteGuard):
    """The TRL trainer class with the guard hooked in: the loss and gradients after each backward, the verdict
    before each optimizer step (a TrainerCallback's ``on_pre_optimizer_step``)."""
    from transformers import TrainerCallback

    class Guarded(trainer_cls):
        def training_step(self, model, inputs, num_items_in_batch=None):
            loss = super().training_step(model, inputs, num_items_in_batch)
            guard.after_backward(model, loss, self.accelerator.sync_gradients)
            return loss

    class GuardCallback(TrainerCallback):
        def on_pre_optimizer_step(self, args, state, control, optimizer=None, **kwargs):
            guard.before_optimizer_step(state.global_step + 1, optimizer, args.device)

    Guarded.__name__ = Guarded.__qualname__ = f"Guarded{trainer_cls.__name__}"
    return Guarded, GuardCallback()
