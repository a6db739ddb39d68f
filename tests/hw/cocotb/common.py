"""Shared pieces of the cocotb testbenches (run inside the simulator, not by pytest).

Conventions: inputs are driven and outputs sampled at the falling clock edge, so a value
set in cycle ``n`` is seen by the design at the rising edge that ends cycle ``n``. Outputs
read right after writing inputs show the values from before the write; an output that
depends combinationally on an input of the same cycle (the LIF core's ``sweep`` request
depends on ``spikes.ready``) is read after ``await ReadOnly()``.
"""

import json
import os

from spikefab.sim.cocotb_support import start  # noqa: F401  (re-exported for the tests)


def vectors():
    with open(os.environ["SPIKEFAB_VECTORS"]) as file:
        return json.load(file)


def field(value, offset, width, signed=False):
    """Extract ``width`` bits at ``offset`` of an int or a signal value, optionally as two's
    complement. A field of a signal value holding X or Z bits is None (for don't-care bits,
    such as the weight of an invalid lane, which some simulators leave at X)."""
    if not isinstance(value, int):
        text = str(value)                      # MSB first
        chunk = text[len(text) - offset - width:len(text) - offset]
        if set(chunk) - {"0", "1"}:
            return None
        value = int(chunk, 2) << offset if chunk else 0
    bits = (value >> offset) & ((1 << width) - 1)
    if signed and bits >> (width - 1):
        bits -= 1 << width
    return bits


def pack(fields):
    """Pack [(value, width), ...] from bit 0 upwards (two's complement for negatives)."""
    value, offset = 0, 0
    for item, width in fields:
        value |= (int(item) & ((1 << width) - 1)) << offset
        offset += width
    return value
