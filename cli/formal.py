"""``spikefab formal``: every SymbiYosys proof of :data:`spikefab.sim.formal.PROOFS`, as a
table; a failed proof ends in ``error: …`` naming the blocks and the log folder."""

import time
from pathlib import Path

from spikefab.cli.args import flag_output_dir

__all__ = ["add_arguments", "run"]


def add_arguments(parser):
    """``spikefab formal``'s options."""
    parser.add_argument("--out", type=flag_output_dir, default=Path("build/formal"),
                        help="build folder of the SymbiYosys runs (default: build/formal)")


def run(args):
    """Run every proof and print the table; a failed proof ends in ``error: …``."""
    from spikefab.sim.formal import prove_all
    start = time.monotonic()
    rows = prove_all(args.out)
    passed = all(result.passed for _block, result in rows)
    print(f"{len(rows)} runs, {'all passed' if passed else 'FAILED'}, "
          f"{time.monotonic() - start:.1f} s in total [{args.out}]")
    if not passed:
        failed = sorted({block for block, result in rows if not result.passed})
        raise SystemExit(f"error: the proofs of {', '.join(failed)} failed; the logs are in "
                         f"{args.out}")
