"""Address events: the payload every spikefab stream carries between layers (docs/design.md §3).

An event is ``SPIKE(addr)`` (neuron ``addr`` of the producing layer fired), ``STEP`` (end of
a timestep) or ``SAMPLE`` (end of a sample: clear all state after the last step). Markers
keep the layers in lock-step without a global controller.
"""

from amaranth.lib import data, enum

from spikefab.model import events as model_events
from spikefab.model.checks import check_int

__all__ = ["EventKind", "EventLayout", "addr_bits_for"]


class EventKind(enum.Enum, shape=2):
    SPIKE = model_events.SPIKE
    STEP = model_events.STEP
    SAMPLE = model_events.SAMPLE


def addr_bits_for(count):
    """Width of an address of ``count`` neurons (at least 1 bit)."""
    return max(1, (count - 1).bit_length())


class EventLayout(data.StructLayout):
    """``{kind: EventKind, addr: unsigned(addr_bits)}``; ``addr`` is 0 for markers.

    With ``value_bits`` (the input events of a direct layer, docs/design.md §13) a third
    field, ``value: unsigned(value_bits)``: the input's multi-bit value (0 for markers)."""

    def __init__(self, addr_bits, value_bits=0):
        self.addr_bits = addr_bits = check_int("addr_bits", addr_bits, 1, 24)
        self.value_bits = value_bits = check_int("value_bits", value_bits, 0, 16)
        fields = {"kind": EventKind, "addr": addr_bits}
        if value_bits:
            fields["value"] = value_bits
        super().__init__(fields)
