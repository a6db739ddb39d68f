"""``spikefab fuzz`` / ``make fuzz``: fuzz the UART host link in Verilator
(:mod:`spikefab.sim.link_fuzz`): malformed, truncated, oversized, corrupted and out-of-order
frames, random bytes and line glitches, each reply checked against the protocol; after each
burst IDENTIFY, RESET and an inference checked against the golden and cycle models. A failure
ends in ``error: …`` after its replay details. (That the fuzzer catches broken links is checked
by the tests: tests/sim/test_link_mutants*.py, the second step of ``make fuzz``.)"""

from spikefab.cli.args import (add_exit_argument, exit_flag, exit_value, fail, flag_int,
                               flag_output_dir)

__all__ = ["add_arguments", "run"]


def add_arguments(parser):
    """``spikefab fuzz``'s options."""
    parser.add_argument("--frames", type=flag_int(1, 10_000_000), default=10000,
                        help="fuzz frames to send (default: 10000)")
    parser.add_argument("--seed", type=flag_int(0, (1 << 63) - 1), default=1,
                        help="seed of the whole run (default: 1)")
    parser.add_argument("--format", default="csc", choices=("dense", "csc", "bitmap"),
                        help="weight format of the design under test (default csc)")
    parser.add_argument("--mode", default="sparse", choices=("sparse", "dense"),
                        help="sparse (event-driven) or the dense baseline (default sparse)")
    parser.add_argument("--divisor", type=flag_int(4, 1 << 24), default=4,
                        help="cycles per UART bit (default: 4)")
    parser.add_argument("--inputs", type=flag_int(6, 1 << 14), default=600,
                        help="inputs of the fuzz network (default 600: synapses on 9 of "
                             "them, 300 apart, so SPIKES frames need SKIP codes; 6: the "
                             "network before issue 23, where they never do)")
    add_exit_argument(parser, help="build the link with early exit for samples of 12 steps "
                                   "and check it with the same rule: none, exact or "
                                   "margin:N (default none)")
    parser.add_argument("--encoder", choices=("rate", "latency", "direct"), default=None,
                        help="build the link with the on-chip input encoder (6 steps, 7-bit "
                             "pixels, 4 inputs a cycle) and send PIXELS frames too, valid and "
                             "broken; every check after a burst runs an image through it; "
                             "direct: the network's first layer takes the 7-bit values, and "
                             "EVENTS, SPIKES and INFER must answer BAD_COMMAND (default: none)")
    parser.add_argument("--cache", type=flag_output_dir, default=None,
                        help="folder of the Verilator builds (default: "
                             "$SPIKEFAB_CACHE/link-verilator or ~/.cache/spikefab)")


def run(args):
    """Fuzz; a failure ends in ``error: …`` after its replay details."""
    from spikefab.sim.link_fuzz import run_fuzz
    if exit_value(args.exit) is not None and args.encoder is not None:
        raise fail(f"--exit {exit_flag(args.exit)} and --encoder {args.encoder}: the link "
                   f"builds one of them at a time (an encoder with early exit is not built "
                   f"yet)")
    if args.encoder == "direct" and args.mode != "sparse":
        raise fail(f"--encoder direct needs --mode sparse (the dense baseline takes spikes "
                   f"only), not --mode {args.mode}")
    if exit_value(args.exit) is not None and args.mode != "sparse":
        raise fail(f"--exit {exit_flag(args.exit)} needs --mode sparse (early exit runs on the "
                   f"event-driven cores; the dense baseline has none)")
    print(f"link fuzz: seed {args.seed}, {args.frames} frames, {args.inputs} inputs, format "
          f"{args.format}, mode {args.mode}, divisor {args.divisor}"
          + ("" if exit_value(args.exit) is None else f", early exit {exit_flag(args.exit)}")
          + ("" if args.encoder is None else f", on-chip {args.encoder} encoder"),
          flush=True)
    report = run_fuzz(args.frames, args.seed, fmt=args.format, mode=args.mode,
                      divisor=args.divisor, exit=exit_value(args.exit), inputs=args.inputs,
                      encoder=args.encoder,
                      cache_dir=args.cache, log=lambda text: print(text, flush=True))
    print(report.summary())
    if report.failure:
        print(report.failure)
        raise SystemExit(f"error: the host link failed the fuzz (seed {args.seed}); the replay "
                         f"command is above")
