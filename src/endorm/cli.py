"""The endogenous reward of any causal LM: score preference pairs, measure their accuracy, look at the reward per
token, serve it to an RL trainer. Every failure ends as one "endorm: error: ..." line and exit code 2 (--debug: the
traceback)."""

# This module is only argument parsing, range-checked option types and the one error path of every subcommand (hence
# its length); the work each command does lives in the library module it calls.

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time

from .defaults import (ALPHA_MAX, ALPHA_MIN, DEFAULT_AGGREGATION, DEFAULT_ALPHA, DEFAULT_BATCH_TOKENS, DEFAULT_GAMMA,
                       DEFAULT_JUDGE_MAX_NEW_TOKENS, DEFAULT_RESAMPLES, DEFAULT_TERMINAL)
from .errors import EndormError

log = logging.getLogger("endorm")


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


def _add_model_args(p: argparse.ArgumentParser) -> None:
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


def _add_format_args(p: argparse.ArgumentParser, system_prompt: bool = True) -> None:
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


def _format(args):
    from .core.encoding import PromptFormat

    return PromptFormat(chat_template=not args.no_chat_template, system_prompt=getattr(args, "system_prompt", None),
                        score_eot=not args.no_score_eot, eot_token=args.eot_token, max_length=args.max_length,
                        overflow=args.overflow)


def _quiet_libraries() -> None:
    """--quiet: transformers' and the Hub's own progress bars (weight loading, downloads) and warnings off too."""
    import transformers
    from huggingface_hub.utils import disable_progress_bars

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    disable_progress_bars()


def _load(args):
    import torch

    from .core.loading import load_model

    if getattr(args, "quiet", False):
        _quiet_libraries()
    if args.threads:
        torch.set_num_threads(args.threads)
    return load_model(args.model, args.dtype, args.device)


def _judge_prompts(path: str | None) -> dict:
    from .methods import check_judge_prompt
    from .io import read_json

    if not path:
        return {}
    prompts = read_json(path)
    if not isinstance(prompts, dict):
        raise EndormError(f"{path}: expected a JSON object of judge prompt templates by method")
    for method, template in prompts.items():
        check_judge_prompt(method, template, str(path))
    return prompts


def cmd_score(args) -> None:
    from .data.pairs import first_per_domain, load_pairs, row_names
    from .io import check_outputs
    from .methods import METHODS
    from .core.reward import RewardOptions
    from .methods.scoring import ScoreOptions, score_pairs, write_scores

    methods = args.method.split(",")
    outputs = args.output.split(",")
    if len(methods) != len(outputs):
        raise EndormError(f"--method names {len(methods)} method(s) but --output names {len(outputs)} file(s)")
    for m in methods:
        if m not in METHODS:
            raise EndormError(f"--method: unknown method {m!r}; expected one of {list(METHODS)}")
    if len(set(methods)) != len(methods):
        raise EndormError(f"--method names a method twice: {args.method}")
    files = [f for out in outputs for f in (out, (out + ".meta.json", f"the metadata of --output {out}"))]
    check_outputs(files, [args.input, args.judge_prompts], folders=[args.model])
    judge_prompts = _judge_prompts(args.judge_prompts)
    rows = load_pairs(args.input)
    names = row_names(rows, args.input)
    if args.limit:
        rows = rows[: args.limit]
    if args.max_rows_per_domain:
        rows = first_per_domain(rows, args.max_rows_per_domain)
    opts = ScoreOptions(
        reward=RewardOptions(args.alpha, args.terminal, args.aggregation, args.gamma), fmt=_format(args),
        max_new_tokens=args.max_new_tokens, max_batch_tokens=args.batch_tokens, progress=not args.quiet,
    )
    opts.judge_prompts.update(judge_prompts)
    model, tokenizer = _load(args)
    t0 = time.perf_counter()
    results, info = score_pairs(model, tokenizer, rows, methods, opts, names)
    write_scores(outputs, methods, results, info, model=model, model_path=args.model, dtype=args.dtype,
                 input_path=args.input, rows=len(rows), opts=opts, seconds=time.perf_counter() - t0)
    for path in outputs:
        log.info("wrote %s (%d rows)", path, len(rows))


def _check_text_inputs(prompt: str, response: str, system: str | None) -> None:
    """The command-line prompt and response obey the rules of a pair file's row (see endorm.data.pairs)."""
    from .data.pairs import validate_pairs
    from .io import check_unicode

    where = "token-rewards (--prompt/--response/--system)"
    check_unicode({"prompt": prompt, "response": response, "system": system}, where)
    validate_pairs([{"id": "cli", "prompt": prompt, "chosen": [response], "rejected": [response], "system": system}],
                   where)


def cmd_token_rewards(args) -> None:
    from .core.engine import Scorer
    from .io import check_outputs
    from .core.reward import aggregate
    from .analysis.tokenview import response_summary, token_records, token_table

    for response in args.response:
        _check_text_inputs(args.prompt, response, args.system)
    empty = [str(k) for k, r in enumerate(args.response, 1) if not r.strip()]
    if empty:
        log.warning("--response %s: empty or whitespace only; scored as written (an empty response is the "
                    "end-of-turn token alone)", ", ".join(empty))
    files = {"--html": args.html, "--png": args.png}
    if any(files.values()):
        check_outputs([f for f in files.values() if f], what=" / ".join(k for k, f in files.items() if f),
                      folders=[args.model])
    model, tokenizer = _load(args)
    scorer = Scorer(model, tokenizer, _format(args), progress=False)
    all_stats = scorer.token_stats([(args.prompt, r, args.system) for r in args.response], args.alpha)
    prompt = scorer.encoder.render(args.prompt, args.system)
    responses = [{"label": f"response {k + 1}", "summary": response_summary(s, args.terminal),
                  "tokens": token_records(s, tokenizer, args.terminal)} for k, s in enumerate(all_stats)]
    if args.json:
        outs = [{"prompt": prompt, "prompt_ids": s.prompt_ids, "alpha": args.alpha, "terminal": args.terminal,
                 "tokens": r["tokens"], "total": aggregate(s.rewards(args.terminal), "sum"),
                 "logprob_total": sum(s.logprobs), "value_after_last_token": s.values[-1]}
                for s, r in zip(all_stats, responses)]
        json.dump(outs[0] if len(outs) == 1 else outs, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(token_table(responses))
    if args.html or args.png:
        _write_token_views(args, prompt, responses)


def _write_token_views(args, prompt: str, responses: list[dict]) -> None:
    """--html: one self-contained page; --png: one figure; both the responses' tokens with r_h, log pi and V as heat
    strips under the text, on shared colour scales."""
    from .io import write_text
    from .analysis.tokenview import draw_png, render_html, scales

    sc = scales([r["tokens"] for r in responses])
    intro = [f"model {args.model} ({args.dtype}); alpha {args.alpha:g}; terminal {args.terminal}"]
    if args.html:
        section = {"heading": "endogenous reward per token", "prompt": prompt, "responses": responses}
        write_text(args.html, render_html("endorm token-rewards", intro, [section], sc))
        log.info("wrote %s", args.html)
    if args.png:
        first = args.prompt.strip().splitlines()[0]
        meta = intro + [f"prompt: {first[:100] + ('...' if len(first) > 100 else '')}"]
        draw_png(args.png, "endogenous reward per token", meta, responses, sc, max_tokens=args.max_tokens)
        log.info("wrote %s", args.png)


def cmd_rmbench_metrics(args) -> None:
    from .io import check_outputs, read_jsonl, write_json
    from .benchmarks.metrics import rmbench_accuracy

    check_outputs([args.output], [args.scores])
    metrics = rmbench_accuracy(read_jsonl(args.scores), args.scores, allow_missing=args.allow_missing)
    metrics["scores"] = args.scores
    write_json(args.output, metrics)
    json.dump({k: v for k, v in metrics.items() if k != "domains"}, sys.stdout, indent=2)
    sys.stdout.write("\n")


def accuracy_table(metrics: dict, source: str) -> str:
    """``endorm accuracy``'s terminal table: one line per domain and the overall line, with the interval's method."""
    ties = "ties count half" if metrics["ties"] == "half" else "strict >, ties lose"
    groups = list(metrics["domains"].items()) if len(metrics["domains"]) > 1 else []
    w = max([len("domain")] + [len(name) for name, _ in groups])
    lines = [f"accuracy of {source} ({ties})", "",
             f"{'domain':<{w}} {'rows':>6} {'comparisons':>11} {'accuracy':>9}  95% interval"]
    for name, m in groups + [("all", metrics["overall"])]:
        lines.append(f"{name:<{w}} {m['rows']:>6} {m['comparisons']:>11} {m['accuracy']:>8.1f}%  "
                     f"[{m['ci_low']:.1f}, {m['ci_high']:.1f}]")
    iv = metrics["interval"]
    if iv["method"] == "wilson":
        lines.append("\ninterval: Wilson score interval of the proportion of pairs won (one comparison per row)")
    else:
        lines.append(f"\ninterval: percentile bootstrap over rows ({iv['resamples']} resamples, seed {iv['seed']}): "
                     "a row's chosen-rejected comparisons are not independent")
    tied = metrics["overall"]["tied"]
    if tied:
        lines.append(f"{tied} tied comparison(s) counted as {'half a win' if metrics['ties'] == 'half' else 'lost'}")
    missing = metrics["overall"]["missing"]
    if missing:
        lines.append(f"{missing} comparison(s) with a missing score counted as lost")
    return "\n".join(lines)


def cmd_accuracy(args) -> None:
    from .io import check_outputs, read_jsonl, write_json
    from .benchmarks.metrics import pair_accuracy

    if args.output:
        check_outputs([args.output], [args.scores])
    metrics = pair_accuracy(read_jsonl(args.scores), args.scores, ties=args.ties, allow_missing=args.allow_missing,
                            seed=args.seed, resamples=args.resamples)
    metrics = {"scores": args.scores, "unit": "%", **metrics}
    if args.output:
        write_json(args.output, metrics)
    if args.json:
        json.dump(metrics, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(accuracy_table(metrics, args.scores))


def cmd_prepare_model(args) -> None:
    from .data.assets import prepare_model
    from .io import check_outputs

    needs = {"package": ("package", "file"), "path": ("path",), "hub": ("id",), "random": ("arch",)}[args.source]
    missing = [f"--{k}" for k in needs if not getattr(args, k)]
    if missing:
        raise EndormError(f"prepare-model --source {args.source} needs {' and '.join(missing)}")
    check_outputs([args.out], [args.path] if args.path else [], what="--out")
    block = {"package": {"distribution": args.package, "path": args.file}, "path": args.path,
             "hub": {"id": args.id, "revision": args.revision},
             "random": {"arch": args.arch, "layers": args.layers, "seed": args.seed, "dtype": args.dtype}}[args.source]
    if isinstance(block, dict):
        block = {k: v for k, v in block.items() if v is not None}
    print(json.dumps(prepare_model({"source": args.source, args.source: block}, args.out), indent=2))


def cmd_bench_stages(args) -> None:
    from .analysis.bench import stage_throughput
    from .io import check_outputs, write_json

    if args.output:
        check_outputs([args.output])
    result = stage_throughput(args.arch, args.layers, args.dtype, args.device, args.batch, args.prompt_tokens,
                              args.new_tokens, args.train_batch, args.train_tokens)
    if args.output:
        write_json(args.output, result)
    print(json.dumps(result, indent=1))


def cmd_bench(args) -> None:
    from .analysis.bench import BenchSpec, dumps, run_bench, to_markdown
    from .io import write_text

    if bool(args.model) == bool(args.arch):
        raise EndormError("bench: give exactly one of --model DIR or --arch NAME")
    known = ("floor", "decoder", "engine", "engine_noshare", "reference")
    unknown = [v for v in args.variants.split(",") if v not in known]
    if unknown:
        raise EndormError(f"--variants: unknown variant(s) {unknown}; expected some of {', '.join(known)}")
    if args.output:
        from .io import check_report_outputs

        md_path = check_report_outputs(args.output, folders=[args.model])
    spec = BenchSpec(model=args.model, arch=args.arch, layers=args.layers, rows=args.rows,
                     prompt_tokens=args.prompt_tokens,
                     response_tokens=tuple(args.response_tokens), dtype=args.dtype,
                     device=args.device, batch_tokens=args.batch_tokens, repeats=args.repeats, threads=args.threads,
                     variants=tuple(args.variants.split(",")))
    result = run_bench(spec)
    md = to_markdown(result)
    print(md)
    if args.output:
        write_text(args.output, dumps(result) + "\n")
        write_text(md_path, md)


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
    _add_model_args(p)
    _add_format_args(p)
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
    _add_model_args(p)
    _add_format_args(p, system_prompt=False)
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

    from .benchmarks.gradercheck import add_subparser as add_grader_check
    from .serve.server import add_parsers as add_serve_parsers  # endorm serve, endorm bench-serve

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
