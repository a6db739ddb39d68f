"""spikefab.hw.elaboration wraps Amaranth's private API (``MustUse._MustUse__silence``,
``_MustUse__used``, ``Statement._lhs_signals``): these tests fail, naming the attribute, when
an Amaranth release changes it."""

import gc
import warnings

from amaranth import Elaboratable, Fragment, Module, Signal
from amaranth._unused import MustUse

from spikefab.hw.elaboration import driven_signals, mark_elaborated, never_elaborated


class Block(Elaboratable):
    def __init__(self):
        self.child = Inner()

    def elaborate(self, platform):
        return Module()


class Inner(Elaboratable):
    def elaborate(self, platform):
        return Module()


def unused_warnings(make):
    # Amaranth keeps the warning silent until the first elaboration of the process.
    Fragment.get(Inner(), None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make()
        gc.collect()
    return [w for w in caught if "created but never used" in str(w.message)]


def test_amaranth_still_has_the_private_attributes():
    assert hasattr(MustUse, "_MustUse__silence"), \
        "amaranth._unused.MustUse._MustUse__silence is gone: update spikefab.hw.elaboration"
    block = Block()
    assert vars(block).get("_MustUse__used") is False, \
        "amaranth no longer sets _MustUse__used in __new__: update spikefab.hw.elaboration"
    never_elaborated(block)


def test_an_unused_block_warns_without_the_wrapper():
    assert len(unused_warnings(lambda: Block())) == 2       # the block and its child


def test_never_elaborated_silences_the_block_and_what_it_holds():
    assert unused_warnings(lambda: never_elaborated(Block())) == []


def test_mark_elaborated_counts_as_used():
    def make():
        block = mark_elaborated(Block())
        never_elaborated(block.child)
    assert unused_warnings(make) == []


def test_driven_signals_finds_registers_and_combinational_signals():
    m = Module()
    count, flag, unused = Signal(4, name="count"), Signal(name="flag"), Signal(name="unused")
    assert hasattr(count.eq(1), "_lhs_signals"), \
        "amaranth's Assign._lhs_signals is gone: update spikefab.hw.elaboration.driven_signals"
    m.d.sync += count.eq(count + 1)
    m.d.comb += flag.eq(count == 3)
    found = driven_signals(Fragment.get(m, None))
    assert found["count"] is count and found["flag"] is flag and "unused" not in found
