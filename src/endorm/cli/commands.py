"""The everyday subcommands: ``score``, ``token-rewards``, ``rmbench-metrics``, ``accuracy``, ``prepare-model``,
``bench``, ``bench-stages``. Each one checks its arguments and outputs, then calls the library module that does the
work."""

from __future__ import annotations

import json
import sys
import logging
import time

from ..errors import EndormError

log = logging.getLogger("endorm")


def _judge_prompts(path: str | None) -> dict:
    from ..methods import check_judge_prompt
    from ..io import read_json

    if not path:
        return {}
    prompts = read_json(path)
    if not isinstance(prompts, dict):
        raise EndormError(f"{path}: expected a JSON object of judge prompt templates by method")
    for method, template in prompts.items():
        check_judge_prompt(method, template, str(path))
    return prompts


def cmd_score(args) -> None:
    from ..options import format_from_args, load_from_args
    from ..data.pairs import first_per_domain, load_pairs, row_names
    from ..io import check_outputs
    from ..methods import METHODS
    from ..core.reward import RewardOptions
    from ..methods.scoring import ScoreOptions, score_pairs, write_scores

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
        reward=RewardOptions(args.alpha, args.terminal, args.aggregation, args.gamma), fmt=format_from_args(args),
        max_new_tokens=args.max_new_tokens, max_batch_tokens=args.batch_tokens, progress=not args.quiet,
    )
    opts.judge_prompts.update(judge_prompts)
    model, tokenizer = load_from_args(args)
    t0 = time.perf_counter()
    results, info = score_pairs(model, tokenizer, rows, methods, opts, names)
    write_scores(outputs, methods, results, info, model=model, model_path=args.model, dtype=args.dtype,
                 input_path=args.input, rows=len(rows), opts=opts, seconds=time.perf_counter() - t0)
    for path in outputs:
        log.info("wrote %s (%d rows)", path, len(rows))


def _check_text_inputs(prompt: str, response: str, system: str | None) -> None:
    """The command-line prompt and response obey the rules of a pair file's row (see endorm.data.pairs)."""
    from ..data.pairs import validate_pairs
    from ..io import check_unicode

    where = "token-rewards (--prompt/--response/--system)"
    check_unicode({"prompt": prompt, "response": response, "system": system}, where)
    validate_pairs([{"id": "cli", "prompt": prompt, "chosen": [response], "rejected": [response], "system": system}],
                   where)


def cmd_token_rewards(args) -> None:
    from ..options import format_from_args, load_from_args
    from ..core.engine import Scorer
    from ..io import check_outputs
    from ..core.reward import aggregate
    from ..analysis.tokenview import response_summary, token_records, token_table

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
    model, tokenizer = load_from_args(args)
    scorer = Scorer(model, tokenizer, format_from_args(args), progress=False)
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
    from ..io import write_text
    from ..analysis.tokenview import draw_png, render_html, scales

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
    from ..io import check_outputs, read_jsonl, write_json
    from ..benchmarks.metrics import rmbench_accuracy

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
    from ..io import check_outputs, read_jsonl, write_json
    from ..benchmarks.metrics import pair_accuracy

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
    from ..data.assets import prepare_model
    from ..io import check_outputs

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
    from ..analysis.bench import stage_throughput
    from ..io import check_outputs, write_json

    if args.output:
        check_outputs([args.output])
    result = stage_throughput(args.arch, args.layers, args.dtype, args.device, args.batch, args.prompt_tokens,
                              args.new_tokens, args.train_batch, args.train_tokens)
    if args.output:
        write_json(args.output, result)
    print(json.dumps(result, indent=1))


def cmd_bench(args) -> None:
    from ..analysis.bench import BenchSpec, dumps, run_bench, to_markdown
    from ..io import write_text

    if bool(args.model) == bool(args.arch):
        raise EndormError("bench: give exactly one of --model DIR or --arch NAME")
    known = ("floor", "decoder", "engine", "engine_noshare", "reference")
    unknown = [v for v in args.variants.split(",") if v not in known]
    if unknown:
        raise EndormError(f"--variants: unknown variant(s) {unknown}; expected some of {', '.join(known)}")
    if args.output:
        from ..io import check_report_outputs

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
