"""``spikefab gatesim`` / ``make gatesim``: gate-level simulation of a board's synthesized
netlists (:mod:`spikefab.sim.gatesim`) — the accelerator's netlist (yosys with the board's
options) on random networks and the digits demo's network, and the bitstream's own board-top
netlist driven through its UART — under Verilator with the vendor cell models, compared with
the golden and cycle models. Prints a table per level and writes ``gatesim.json`` in
``--out``; any mismatch ends in ``error: …``."""

import json
import time
from pathlib import Path

from spikefab.cli.args import flag_int, flag_output_dir
from spikefab.sim.gatesim.board import BOARD_SAMPLES

#: Random convolutional networks at the accelerator level by default (one on the core, one on
#: its dense baseline).
CONV_CASES = 2
from spikefab.sim.gatesim.netlist import X_INITIAL

__all__ = ["add_arguments", "run"]


def add_arguments(parser):
    """The options of ``spikefab gatesim``."""
    parser.add_argument("--board", choices=["icebreaker", "ulx3s", "orangecrab"],
                        default="icebreaker", help="board whose synthesis is used "
                        "(default icebreaker)")
    parser.add_argument("--samples", type=flag_int(0, 360), default=20,
                        help="accelerator level: digits test images to run on the demo's "
                             "network (0: skip it; default 20)")
    parser.add_argument("--random", type=flag_int(0, 1000), default=6,
                        help="accelerator level: random networks (default 6: every format, "
                             "leak, reset and timing)")
    parser.add_argument("--conv", type=flag_int(0, 1000), default=CONV_CASES,
                        help="accelerator level: random convolutional networks on the "
                             "convolution core, the odd ones its dense baseline "
                             f"(default {CONV_CASES})")
    parser.add_argument("--board-samples", type=flag_int(0, 360), default=BOARD_SAMPLES,
                        help="board level: digits test images sent through the UART of the "
                             "demo network's bitstream netlist (0: skip the board level; "
                             f"default {BOARD_SAMPLES})")
    parser.add_argument("--seed", type=flag_int(0, (1 << 32) - 1), default=0,
                        help="seed of the random networks (default 0)")
    parser.add_argument("--x-initial", choices=X_INITIAL, default="zero",
                        help="power-up value of uninitialised state (default zero)")
    parser.add_argument("--out", type=flag_output_dir, default="build/gatesim",
                        help="output folder (default build/gatesim)")
    return parser


def run(args):
    """Run the gate-level checks of parsed ``args``: the accelerator level (random networks
    and the digits network, every spike) and the board level (the digits demo's bitstream
    netlist behind its UART). Prints a table per level, writes ``gatesim.json`` in ``--out``;
    returns the summary dict, raises ``SystemExit("error: ...")`` on any mismatch."""
    from spikefab.sim.gatesim.board import check_board_case
    from spikefab.sim.gatesim.netlist import check_case, conv_case, digits_case, random_case

    out = Path(args.out).resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SystemExit(f"error: cannot create --out {out}: {error.strerror or error}") \
            from None
    cases = [random_case(index, seed=args.seed) + (f"random{index}",)
             for index in range(args.random)]
    cases += [conv_case(index, seed=args.seed) + (f"conv{index}",)
              for index in range(getattr(args, "conv", CONV_CASES))]
    digits = None
    if args.samples or args.board_samples:
        digits = digits_case(max(args.samples, args.board_samples))
    if args.samples:
        network, config, trains, _ = digits
        description = digits[3].replace(f"{len(trains)} test images",
                                        f"{args.samples} test images")
        cases.append((network, config, trains[:args.samples], description, "digits"))
    began = time.perf_counter()
    rows, board_rows = [], []
    if cases:
        print(f"Accelerator level: the accelerator's netlist (yosys with the {args.board} "
              f"options), {len(cases)} cases, every spike compared, x-initial "
              f"{args.x_initial}\n")
        header = ("| case | network | LUTs | BRAM | samples | spikes | classes | cycles "
                  "| synth s | build s | sim s |")
        print(header)
        print("|" + "---|" * (header.count("|") - 1))
    for network, config, trains, description, name in cases:
        row = check_case(network, config, trains, board=args.board, build_dir=out / name,
                         x_initial=args.x_initial)
        row.update(case=name, network=description, level="accelerator")
        rows.append(row)
        n = row["samples"]
        print(f"| {name} | {description} | {row['luts']} | {row['bram']} | {n} | "
              f"{'match' if row['spikes'] else 'DIFFER'} | {row['classes']}/{n} | "
              f"{row['cycles']}/{n} | {row['synth_s']} | {row['build_s']} | {row['sim_s']} |",
              flush=True)
        for problem in row["problems"]:
            print(f"|   {problem}")
    if args.board_samples:
        from spikefab.model import DIGITS
        network, config, trains, _ = digits
        trains = trains[:args.board_samples]
        description = (f"digits demo 64-{DIGITS['hidden']}-10 {DIGITS['format']} "
                       f"P={DIGITS['lanes']}, T={DIGITS['steps']}, "
                       f"{len(trains)} test images")
        print(f"\nBoard level: the bitstream's own netlist (board flow, {args.board}), "
              f"driven through its UART by the host driver; x-initial {args.x_initial}\n")
        header = ("| case | network | LUTs | BRAM | samples | identify | classes | counts "
                  "| cycles | counters | synth s | build s | sim s |")
        print(header, flush=True)
        print("|" + "---|" * (header.count("|") - 1))
        row = check_board_case(args.board, network, config, trains,
                               build_dir=out / "board-digits", x_initial=args.x_initial)
        row.update(case="board-digits", network=description, level="board")
        board_rows.append(row)
        n = row["samples"]
        print(f"| board-digits | {description} | {row['luts']} | {row['bram']} | {n} | "
              f"{'match' if row['identity'] else 'DIFFER'} | {row['classes']}/{n} | "
              f"{row['counts']}/{n} | {row['cycles']}/{n} | "
              f"{'match' if row['counters'] else 'DIFFER'} | {row['synth_s']} | "
              f"{row['build_s']} | {row['sim_s']} |", flush=True)
        for problem in row["problems"]:
            print(f"|   {problem}")
    everything = rows + board_rows
    matched = sum(not row["problems"] for row in everything)
    summary = {"board": args.board, "cases": len(everything), "matched": matched,
               "accelerator": {"cases": len(rows),
                               "matched": sum(not r["problems"] for r in rows),
                               "samples": sum(r["samples"] for r in rows)},
               "board_level": {"cases": len(board_rows),
                               "matched": sum(not r["problems"] for r in board_rows),
                               "samples": sum(r["samples"] for r in board_rows)},
               "samples": sum(row["samples"] for row in everything),
               "seconds": round(time.perf_counter() - began, 1), "rows": everything}
    (out / "gatesim.json").write_text(json.dumps(summary, indent=1, default=str))
    print(f"\n{summary['accelerator']['matched']} of {len(rows)} accelerator-level cases "
          f"matched the golden and cycle models in every spike, count, class, result cycle "
          f"and counter; {summary['board_level']['matched']} of {len(board_rows)} board-level "
          f"runs matched in identity, class, counts, result cycles and counters "
          f"({summary['samples']} samples, {summary['seconds']} s); details in "
          f"{out / 'gatesim.json'}")
    if matched != len(everything):
        raise SystemExit(f"error: {len(everything) - matched} of {len(everything)} gate-level "
                         f"cases differ from the golden or cycle model (see above and "
                         f"{out / 'gatesim.json'})")
    return summary
