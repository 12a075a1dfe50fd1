"""``endorm serve`` (the HTTP reward server) and ``endorm bench-serve`` (its throughput and latency): their
arguments and start-up; the server itself is :mod:`endorm.serve`."""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

from ..errors import EndormError
from .args import (add_aggregation_args, add_format_args, add_model_args, int_at_least, non_negative_float, port,
                   positive_float)

log = logging.getLogger("endorm.serve")


def cmd_serve(args) -> None:
    try:
        import fastapi
        import uvicorn
    except ImportError as exc:
        raise EndormError(f"endorm serve needs the 'serve' extra (pip install 'endorm[serve]'): {exc}") from None
    del fastapi  # only its presence is checked here; the app imports it
    from ..core.engine import Scorer
    from ..core.reward import RewardOptions
    from ..io import check_outputs
    from ..options import format_from_args, load_from_args
    from ..serve.server import ServeLimits, bearer_token, bind, create_app

    try:
        reward = RewardOptions(args.alpha, args.terminal, args.aggregation, args.gamma)
    except ValueError as exc:
        raise EndormError(str(exc)) from None
    limits = ServeLimits(args.batch_wait_ms, args.max_batch, args.max_queue, args.max_request_responses,
                         args.max_body_mb << 20, args.timeout)
    # Everything that can be wrong with the start-up is found before the model loads (which can take minutes).
    token, source = bearer_token(args.token, args.token_file)
    if args.port_file:
        check_outputs([args.port_file], [args.token_file], what="--port-file", folders=[args.model])
    sock = bind(args.host, args.port)
    port = sock.getsockname()[1]
    try:
        model, tokenizer = load_from_args(args)
        scorer = Scorer(model, tokenizer, format_from_args(args), max_batch_tokens=args.batch_tokens, progress=False)
    except BaseException:
        sock.close()
        raise
    app = create_app(scorer, reward, limits, token, model_name=args.model)
    config = uvicorn.Config(app, log_level="warning" if args.quiet else "info", access_log=not args.quiet,
                            timeout_graceful_shutdown=int(math.ceil(limits.timeout_s)) + 5,
                            limit_concurrency=args.max_connections)
    auth = (f"bearer token required (from {source})" if token else
            f"NO bearer token: anyone who can reach {args.host}:{port} can use it (--token-file to require one)")
    log.info("endorm serve: %s on http://%s:%d (POST /score, POST /get_reward, GET /health, GET /metrics); %s",
             args.model, args.host, port, auth)
    if args.port_file:
        from ..io import write_text

        write_text(args.port_file, f"{port}\n")
    uvicorn.Server(config).run(sockets=[sock])


def add_parsers(command) -> None:
    """Register ``endorm serve`` and ``endorm bench-serve`` on the CLI's subparsers."""
    from ..defaults import DEFAULT_BATCH_TOKENS
    from ..serve.server import TOKEN_ENV, ServeLimits

    p = command("serve", help="serve the endogenous reward over HTTP (OpenRLHF /get_reward, native /score)")
    add_model_args(p)
    add_format_args(p)
    add_aggregation_args(p)
    p.add_argument("--batch-tokens", type=int_at_least(1), default=DEFAULT_BATCH_TOKENS,
                   help="padded tokens per engine forward batch")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=port, default=8000, help="port (0: a free one, see --port-file)")
    p.add_argument("--port-file", default=None, help="write the port here once listening")
    p.add_argument("--token", default=None, help="require 'Authorization: Bearer TOKEN' (all but /health; default: "
                                                 f"${TOKEN_ENV} when set; an empty token is refused)")
    p.add_argument("--token-file", default=None, help="read the bearer token from this file (keeps it off ps)")
    d = ServeLimits()
    p.add_argument("--batch-wait-ms", type=non_negative_float, default=d.batch_wait_ms,
                   help="how long a request waits for others to share its engine batch")
    p.add_argument("--max-batch", type=int_at_least(1), default=d.max_batch, help="responses per engine batch")
    p.add_argument("--max-queue", type=int_at_least(1), default=d.max_queue, help="queued responses before HTTP 429")
    p.add_argument("--max-request-responses", type=int_at_least(1), default=d.max_request_responses,
                   help="responses (or queries) in one request before HTTP 413")
    p.add_argument("--max-body-mb", type=int_at_least(1), default=d.max_body_bytes >> 20, help="request body limit (HTTP 413)")
    p.add_argument("--timeout", type=positive_float, default=d.timeout_s, help="per-request timeout in seconds (HTTP 504)")
    p.add_argument("--max-connections", type=int_at_least(1), default=None, help="open connections before HTTP 503")
    p.add_argument("--quiet", action="store_true", help="no access log")
    p.set_defaults(func=cmd_serve)

    add_bench_parser(command)


def cmd_bench_serve(args) -> None:
    from ..io import check_report_outputs, write_text
    from ..serve.bench import run, to_markdown

    if not Path(args.rows_file).is_file():
        raise EndormError(f"--rows-file {args.rows_file}: no such file (an RM-Bench data/<domain>_filtered.json)")
    if args.output:
        md_path = check_report_outputs(args.output, [args.rows_file], folders=[args.model])
    result = run(args)
    md = to_markdown(result)
    print(md)
    if args.output:
        write_text(args.output, json.dumps(result, indent=1) + "\n")
        write_text(md_path, md)


def add_bench_parser(command) -> None:
    """Register ``endorm bench-serve`` (``command(name, **kw)`` makes a subcommand's parser)."""
    from ..defaults import DEFAULT_BATCH_TOKENS

    default_rows = os.path.join(os.environ.get("ENDORM_REAL_DATA", "data"), "rm-bench", "data", "chat_filtered.json")
    p = command("bench-serve", help="server throughput and latency at 1, 8, 32 clients vs the offline engine")
    add_model_args(p)
    p.add_argument("--no-chat-template", action="store_true")
    p.add_argument("--rows-file", default=default_rows, help="an RM-Bench data file (default: $ENDORM_REAL_DATA's chat)")
    p.add_argument("--rows", type=int_at_least(1), default=16, help="rows (groups of 6 responses)")
    p.add_argument("--max-chars", type=int_at_least(1), default=600, help="cut each response to this many characters (CPU time)")
    p.add_argument("--clients", default="1,8,32")
    p.add_argument("--protocols", default="native,openrlhf")
    p.add_argument("--repeats", type=int_at_least(1), default=3)
    p.add_argument("--batch-tokens", type=int_at_least(1), default=DEFAULT_BATCH_TOKENS)
    p.add_argument("--batch-wait-ms", type=non_negative_float, default=10.0)
    p.add_argument("--output", default=None, help="JSON file (a Markdown table is written beside it)")
    p.set_defaults(func=cmd_bench_serve)
