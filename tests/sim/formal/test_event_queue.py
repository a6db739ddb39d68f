"""SymbiYosys proofs of the event queue (issue 12, item 2): the properties of
:mod:`spikefab.sim.formal` close by k-induction for a small queue, every cover is reached,
and each of a few deliberately broken queues (mutants, defined here) is caught."""

import pytest
from amaranth import Signal

from spikefab.hw.event_queue import EventQueue
from spikefab.sim.formal import (
    EventQueueProperties,
    prove_event_queue,
    run_sby,
)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("solver")]


@pytest.mark.parametrize("depth, addr_bits", [(4, 2), (3, 3)])
def test_event_queue_proved_by_induction(tmp_path, depth, addr_bits):
    prove, cover = prove_event_queue(tmp_path, addr_bits=addr_bits, depth=depth, induction=4)
    assert prove.status == "PASS", prove.log
    assert "successful proof by k-induction" in prove.log
    assert cover.status == "PASS", cover.log
    assert cover.log.count("reached cover statement") == 3, cover.log


# --- mutants: each breaks one promise of the EventQueue docstring -------------------------

class AcceptsWhenFull(EventQueue):
    """Keeps ``i.ready`` high when full: the push overwrites the oldest event (dropped)."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.i.ready.eq(1)
        return m


class LosesEventWhenNearlyFull(EventQueue):
    """Takes and counts the push that fills the queue but never stores it."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        write = m.submodules.storage.write_ports[0]
        with m.If(self.level == self.depth - 1):
            m.d.comb += write.en.eq(0)
        return m


class RepeatsAnEvent(EventQueue):
    """Stores the previous event again in place of one pushed while two are held: an event
    is duplicated and the next one lost."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        write = m.submodules.storage.write_ports[0]
        last = Signal.like(write.data)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += last.eq(self.i.payload)
        with m.If(self.level == 2):
            m.d.comb += write.data.eq(last)
        return m


class WithdrawsValid(EventQueue):
    """Drops ``o.valid`` while ``clear_stats`` is high, whether or not the head was taken."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.o.valid.eq((self.level != 0) & ~self.clear_stats)
        return m


class StallShowsNewestEvent(EventQueue):
    """While the head waits for ``o.ready``, shows the event being pushed instead."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(~self.o.ready & self.i.valid):
            m.d.comb += self.o.payload.eq(self.i.payload)
        return m


@pytest.mark.parametrize("mutant, expected", [
    (AcceptsWhenFull, "i.ready is not level < depth"),
    (LosesEventWhenNearlyFull, "event k left with another payload"),
    (RepeatsAnEvent, "event k left with another payload"),
    # o.valid falls in the same cycle as level stays nonzero: the contract check fires first,
    # one cycle before the stream-rule check would.
    (WithdrawsValid, "o.valid is not level != 0"),
    (StallShowsNewestEvent, "o.payload changed before o.ready"),
])
def test_mutant_is_caught(tmp_path, mutant, expected):
    # Bounded, and without the invariants on the queue's inside, so the failure named is an
    # end-to-end property and not a broken internal invariant.
    design = EventQueueProperties(addr_bits=2, depth=4, queue_class=mutant, inductive=False)
    result = run_sby(design, tmp_path, mode="bmc", depth=12)
    assert result.status == "FAIL", result.log
    assert expected in result.failed, (result.failed, result.log)


@pytest.mark.parametrize("mutant", [LosesEventWhenNearlyFull, RepeatsAnEvent])
def test_mutant_fails_the_induction_proof(tmp_path, mutant):
    # The base case of length 12 reaches the fault; with k = 4 the run only fails to prove
    # (UNKNOWN: the induction step breaks but the base case is too short to reach the fault).
    prove, _cover = prove_event_queue(tmp_path, queue_class=mutant, induction=12)
    assert prove.status == "FAIL", prove.log
    # The invariant on the tracked row breaks the cycle after the fault, before the event
    # reaches the head.
    assert prove.failed == ["tracked row overwritten"], prove.failed
