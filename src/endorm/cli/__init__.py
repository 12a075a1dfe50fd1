"""The endogenous reward of any causal LM: score preference pairs, measure their accuracy, look at the reward per
token, serve it to an RL trainer. Every failure ends as one "endorm: error: ..." line and exit code 2 (--debug: the
traceback)."""

# The parser and the one error path of every subcommand; the argument types are in args.py, the commands in
# commands.py and serve.py, and the work each command does in the library module it calls.

from __future__ import annotations

import argparse
import logging
import sys

from ..defaults import DEFAULT_BATCH_TOKENS, DEFAULT_JUDGE_MAX_NEW_TOKENS, DEFAULT_RESAMPLES
from ..errors import EndormError
from .args import DeprecatedAlias, Parser, add_aggregation_args, add_format_args, add_model_args, int_at_least, int_list
from .commands import (cmd_accuracy, cmd_bench, cmd_bench_stages, cmd_prepare_model, cmd_rmbench_metrics, cmd_score,
                       cmd_token_rewards)

log = logging.getLogger("endorm")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="endorm", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--debug", action="store_true", help="show the Python traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)
    # -v and --debug are accepted after the command too (SUPPRESS: the command's parser never resets them)
    common = Parser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)

    def command(name: str, **kw) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], **kw)

    p = command("score", help="score preference pairs with a method")
    add_model_args(p)
    add_format_args(p)
    p.add_argument("--input", required=True, help="pairs JSONL: id, prompt, chosen, rejected, domain?, system?")
    p.add_argument("--output", required=True, help="scores JSONL (comma-separated, one per method)")
    p.add_argument("--method", default="endorm",
                   help="endorm, loglik, loglik-mean, generative-verifier, genrm-pointwise, genrm-pairwise "
                        "(comma-separated to share one run; likelihood methods share one forward pass)")
    add_aggregation_args(p)
    p.add_argument("--judge-prompts", default=None, help="JSON file overriding judge prompt templates")
    p.add_argument("--max-new-tokens", type=int_at_least(1), default=DEFAULT_JUDGE_MAX_NEW_TOKENS,
                   help=f"generation budget of generative judges (default {DEFAULT_JUDGE_MAX_NEW_TOKENS})")
    p.add_argument("--batch-tokens", type=int_at_least(1), default=DEFAULT_BATCH_TOKENS,
                   help=f"padded tokens per forward batch (default {DEFAULT_BATCH_TOKENS})")
    p.add_argument("--limit", type=int_at_least(1), default=None, help="score only the first N rows")
    p.add_argument("--max-rows-per-domain", type=int_at_least(1), default=None,
                   help="score only the first N rows of each domain (for costly judges on a CPU)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_score)

    p = command("token-rewards", help="per-token reward r_h, log pi and V of responses: a table (or JSON), and a PNG "
                                      "or HTML view",
                description="Per-token endogenous reward of your own responses: a table of the decoded tokens with "
                            "r_h, log pi and V(s_h) (--json: JSON, whose value_after_last_token is V of the state "
                            "after the last token, the terminal value under --terminal bootstrap), and heat strips "
                            "under the text as a PNG (--png) or an HTML page (--html).")
    add_model_args(p)
    add_format_args(p, system_prompt=False)
    p.add_argument("--prompt", required=True)
    p.add_argument("--response", required=True, action="append",
                   help="a response (repeat for several: the JSON is then a list, one object per response)")
    p.add_argument("--system", default=None, help="system message (default: the chat template's own)")
    p.add_argument("--system-prompt", dest="system", action=DeprecatedAlias, new="--system",
                   help="deprecated alias of --system")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--png", default=None, help="also write a PNG: the tokens with r_h, log pi and V as heat strips")
    p.add_argument("--html", default=None,
                   help="also write a self-contained HTML page: the tokens with r_h, log pi and V as heat strips")
    p.add_argument("--max-tokens", type=int_at_least(10), default=160,
                   help="--png: longer responses show their first and last tokens (default 160)")
    p.set_defaults(func=cmd_token_rewards)

    p = command("rmbench-metrics", help="RM-Bench accuracy (official 3x3 metric) of a scores file")
    p.add_argument("--scores", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--allow-missing", action="store_true",
                   help="count missing (null) scores as lost comparisons (the judges' parse failures) instead of "
                        "refusing them")
    p.set_defaults(func=cmd_rmbench_metrics)

    p = command("accuracy", help="accuracy with a 95%% interval of any scores file, overall and by domain",
                description="Accuracy of a scores file (endorm score's output, or any JSONL with score_chosen/"
                            "score_rejected lists or a pair_margin matrix): a comparison is won when the chosen "
                            "response scores strictly higher. One response per side: Wilson score interval over "
                            "pairs; several per side (RM-Bench's 3x3): percentile bootstrap over rows.")
    p.add_argument("scores", help="scores JSONL")
    p.add_argument("--ties", default="lose", choices=["lose", "half"],
                   help="an exact tie loses (default, as RM-Bench) or counts half")
    p.add_argument("--allow-missing", action="store_true",
                   help="count missing (null) scores as lost comparisons instead of refusing them")
    p.add_argument("--resamples", type=int_at_least(100), default=DEFAULT_RESAMPLES,
                   help=f"bootstrap resamples when rows hold several comparisons (default {DEFAULT_RESAMPLES})")
    p.add_argument("--seed", type=int_at_least(0), default=0, help="bootstrap seed (default 0)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--output", default=None, help="also write the JSON to this file")
    p.set_defaults(func=cmd_accuracy)

    p = command("bench", help="time the floor forward pass, the engine and the common-way scorer")
    p.add_argument("--model", default=None, help="model folder")
    p.add_argument("--arch", default=None, choices=["qwen2.5-7b"], help="random-init paper architecture")
    p.add_argument("--layers", type=int_at_least(1), default=None, help="reduce depth (CPU)")
    p.add_argument("--rows", type=int_at_least(1), default=4, help="RM-Bench-shaped rows (1 prompt, 6 responses)")
    p.add_argument("--prompt-tokens", type=int_at_least(1), default=256)
    p.add_argument("--response-tokens", type=int_list, default=(48, 320, 400), help="lengths of the 3 styles")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--device", default=None)
    p.add_argument("--threads", type=int_at_least(1), default=None)
    p.add_argument("--batch-tokens", type=int_at_least(1), default=DEFAULT_BATCH_TOKENS)
    p.add_argument("--repeats", type=int_at_least(1), default=1)
    p.add_argument("--variants", default="floor,decoder,engine,engine_noshare,reference")
    p.add_argument("--output", default=None, help="JSON file (a Markdown summary is written beside it)")
    p.set_defaults(func=cmd_bench)

    p = command("bench-stages", help="generation and training throughput of a random-init paper architecture")
    p.add_argument("--arch", default="qwen2.5-7b", choices=["qwen2.5-7b"])
    p.add_argument("--layers", type=int_at_least(1), default=None, help="reduce depth (CPU)")
    p.add_argument("--dtype", default="bfloat16", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--device", default=None)
    p.add_argument("--batch", type=int_at_least(1), default=64, help="sequences generated together")
    p.add_argument("--prompt-tokens", type=int_at_least(1), default=256)
    p.add_argument("--new-tokens", type=int_at_least(1), default=512)
    p.add_argument("--train-batch", type=int_at_least(1), default=4)
    p.add_argument("--train-tokens", type=int_at_least(2), default=2048)
    p.add_argument("--output", default=None, help="JSON file")
    p.set_defaults(func=cmd_bench_stages)

    p = command("prepare-model", help="make a local transformers folder from a package GGUF, path or Hub id, or "
                                      "random weights of a paper model's architecture")
    p.add_argument("--source", required=True, choices=["package", "path", "hub", "random"])
    p.add_argument("--package")
    p.add_argument("--file")
    p.add_argument("--path")
    p.add_argument("--id")
    p.add_argument("--revision")
    p.add_argument("--arch", help="random: qwen2.5-7b-instruct or qwen2.5-math-7b")
    p.add_argument("--layers", type=int_at_least(1), help="random: depth (default: the architecture's)")
    p.add_argument("--seed", type=int_at_least(0), help="random: torch seed of the weights (default 0)")
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], help="random: saved dtype (bfloat16)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_prepare_model)

    from ..benchmarks.gradercheck import add_subparser as add_grader_check
    from .serve import add_parsers as add_serve_parsers  # endorm serve, endorm bench-serve

    add_grader_check(command)
    add_serve_parsers(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command. Every failure ends as ``endorm: error: ...`` on stderr and exit code 2 (no traceback unless
    ``--debug``)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a bad argument (2, message already printed)
        return int(exc.code or 0)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    try:
        args.func(args)
    except EndormError as exc:
        if args.debug:
            raise
        print(f"endorm: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("endorm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of stdout stopped early (`endorm accuracy --json x | head`): as other tools
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes stdout
        return 141
    except Exception as exc:  # noqa: BLE001 - the one error path; --debug shows the traceback
        if args.debug:
            raise
        print(f"endorm: error: unexpected {type(exc).__name__}: {exc} (run again with --debug for the traceback, "
              "and please report it)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
