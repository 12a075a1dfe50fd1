"""The command line's argument types (range-checked, with the message argparse prints) and the option groups
several subcommands share (model, prompt format, aggregation)."""

from __future__ import annotations

import argparse
import math
import sys

from ..defaults import ALPHA_MAX, ALPHA_MIN, DEFAULT_AGGREGATION, DEFAULT_ALPHA, DEFAULT_GAMMA, DEFAULT_TERMINAL


class Parser(argparse.ArgumentParser):
    """Argument errors end as every other error does: ``endorm: error: ...`` and exit code 2."""

    def error(self, message: str):  # noqa: D102 - argparse's hook
        command = self.prog.split(" ", 1)[1] if " " in self.prog else ""
        self.exit(2, f"endorm: error: {command + ': ' if command else ''}{message} (see `{self.prog} --help`)\n")


def int_at_least(lo: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {lo}, got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"expected an integer >= {lo}, got {value}")
        return value

    return parse


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def positive_float(text: str) -> float:
    value = _float(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def temperature(text: str) -> float:
    value = _float(text)
    if not ALPHA_MIN <= value <= ALPHA_MAX:
        raise argparse.ArgumentTypeError(f"expected a finite number in [{ALPHA_MIN:g}, {ALPHA_MAX:g}], got {text!r}")
    return value


def discount(text: str) -> float:
    value = _float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    value = _float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def port(text: str) -> int:
    value = int_at_least(0)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port 0..65535, got {value}")
    return value


def int_list(text: str) -> tuple[int, ...]:
    parse = int_at_least(1)
    return tuple(parse(x) for x in text.split(","))


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="transformers model folder (or Hub id where reachable)")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"],
                   help="weights and activations dtype (default float32: exact scores)")
    p.add_argument("--device", default=None, help="torch device (default: cuda when present, else cpu)")
    p.add_argument("--threads", type=int_at_least(1), default=None, help="CPU threads for torch")


class DeprecatedAlias(argparse.Action):
    """An old option spelling kept working: stores into the new option's ``dest`` and says so on stderr."""

    def __init__(self, *args, new: str, **kw):
        super().__init__(*args, **kw)
        self.new = new

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"endorm: warning: {option_string} is deprecated here; use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_format_args(p: argparse.ArgumentParser, system_prompt: bool = True) -> None:
    p.add_argument("--alpha", type=temperature, default=DEFAULT_ALPHA,
                   help=f"soft-Q temperature (default {DEFAULT_ALPHA:g}; {ALPHA_MIN:g} to {ALPHA_MAX:g})")
    p.add_argument("--terminal", default=DEFAULT_TERMINAL, choices=["zero", "bootstrap"],
                   help=f"value after the last token: zero (paper) or bootstrap (default {DEFAULT_TERMINAL})")
    if system_prompt:
        p.add_argument("--system-prompt", default=None,
                       help="system message when a row has none (default: the chat template's own)")
    p.add_argument("--no-chat-template", action="store_true", help="score raw text, without the chat template")
    p.add_argument("--no-score-eot", action="store_true", help="do not append and score the end-of-turn token")
    p.add_argument("--eot-token", default=None, help="end-of-turn token (default: found from the chat template)")
    p.add_argument("--max-length", type=int_at_least(2), default=None, help="max prompt+response tokens")
    p.add_argument("--overflow", default="error", choices=["error", "truncate-prompt", "truncate-response"])


def add_aggregation_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--aggregation", default=DEFAULT_AGGREGATION, choices=["sum", "mean", "discounted"],
                   help=f"sum (paper), mean, or discounted sum of the per-token rewards (default "
                        f"{DEFAULT_AGGREGATION})")
    p.add_argument("--gamma", type=discount, default=DEFAULT_GAMMA,
                   help=f"discount for --aggregation discounted (default {DEFAULT_GAMMA:g})")
