"""SymbiYosys proofs of the convolution address generator (issue 22): for each geometry of
:data:`~spikefab.sim.formal.conv_address.GEOMETRIES` the walk closes by k-induction and every
cover is reached, and each deliberately broken generator (mutants, defined here) is caught by
name."""

import pytest

from spikefab.hw.conv_address import ConvAddressGenerator, axis_table
from spikefab.model.conv import Conv2dGeometry
from spikefab.sim.formal import run_sby
from spikefab.sim.formal.conv_address import (
    GEOMETRIES,
    ConvAddressProperties,
    expected_covers,
    prove_conv_address,
)

from .mutation import driven

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("solver")]


@pytest.mark.parametrize("name", list(GEOMETRIES))
def test_conv_address_proved_by_induction(tmp_path, name):
    geometry = GEOMETRIES[name]
    prove, cover = prove_conv_address(tmp_path, geometry, induction=1)
    assert prove.status == "PASS", prove.log
    assert prove.proved_by_induction, prove.log
    assert cover.status == "PASS", cover.log
    assert cover.covers_reached == expected_covers(geometry), cover.log


def test_covers_follow_the_geometry():
    # Kernel 1 reaches one row and nothing is empty; stride > kernel leaves empty positions.
    assert expected_covers(GEOMETRIES["k1"]) == 3
    assert expected_covers(GEOMETRIES["k2 s3"]) == 4
    assert expected_covers(GEOMETRIES["k3 s1 p1"]) == 4
    assert expected_covers(Conv2dGeometry(1, 7, 7, 1, 3, 2, 0)) == 4
    assert expected_covers(GEOMETRIES["k3 s2"]) == 5


# --- mutants: each breaks one promise of the ConvAddressGenerator docstring ------------------

class AcceptsWhileWalking(ConvAddressGenerator):
    """Takes a new event in the middle of a walk: the rest of the walk is lost."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.i.ready.eq(1)
        return m


class BubbleBetweenEvents(ConvAddressGenerator):
    """Takes the next event only once idle: a one-cycle gap after every walk."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.i.ready.eq(~driven(m, "busy"))
        return m


class EmptyEventWalks(ConvAddressGenerator):
    """Starts a walk for every event, also one that reaches nothing."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += driven(m, "busy").eq(1)
        return m


class TapNotRestartedAtRowEnd(ConvAddressGenerator):
    """At the end of a row keeps stepping the column tap instead of restarting it."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        ox, last_ox, kx = driven(m, "ox"), driven(m, "last_ox"), driven(m, "kx")
        taken = self.o.valid & self.o.ready
        with m.If(~(self.i.valid & self.i.ready) & taken & (ox == last_ox)):
            m.d.sync += kx.eq(kx - self.geometry.stride[1])
        return m


class AdvancesWithoutReady(ConvAddressGenerator):
    """Steps along a row whether or not the output was taken."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        ox, last_ox, kx = driven(m, "ox"), driven(m, "last_ox"), driven(m, "kx")
        with m.If(self.o.valid & ~self.o.ready & (ox != last_ox)):
            m.d.sync += [ox.eq(ox + 1), kx.eq(kx - self.geometry.stride[1])]
        return m


class LastAtRowEnd(ConvAddressGenerator):
    """Ends the walk after its first row."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.o.payload.last.eq(driven(m, "ox") == driven(m, "last_ox"))
        return m


class RowPositionOffByOne(ConvAddressGenerator):
    """Starts each new row's flat position one short (``row_pos + W_out - 1``)."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        ox, last_ox = driven(m, "ox"), driven(m, "last_ox")
        oy, last_oy, pos = driven(m, "oy"), driven(m, "last_oy"), driven(m, "pos")
        row_pos = driven(m, "row_pos")
        taken = self.o.valid & self.o.ready
        with m.If(~(self.i.valid & self.i.ready) & taken & (ox == last_ox) & (oy != last_oy)):
            m.d.sync += pos.eq(row_pos + self.geometry.out_width - 1)
        return m


class MissesBottomBorder(ConvAddressGenerator):
    """Its row table stops one output row short for inputs that reach the last output row
    and one before it (a border off by one)."""

    def tables(self):
        rows, columns = super().tables()
        last = self.geometry.out_height - 1
        rows = [(entry[0], last - 1, entry[2])
                if entry is not None and entry[0] < entry[1] == last else entry
                for entry in rows]
        return rows, columns


class PaddingForgotten(ConvAddressGenerator):
    """Its column table is built as if there were no padding (taps and ranges shifted)."""

    def tables(self):
        rows, _columns = super().tables()
        g = self.geometry
        return rows, axis_table(g.width, g.kernel[1], g.stride[1], 0, g.out_width)


PADDED = GEOMETRIES["k3 s1 p1"]


@pytest.mark.parametrize("mutant, geometry, expected", [
    (AcceptsWhileWalking, PADDED, "i.ready is not 'idle, or the last output taken'"),
    (BubbleBetweenEvents, PADDED, "i.ready is not 'idle, or the last output taken'"),
    (EmptyEventWalks, GEOMETRIES["k2 s3"], "o.valid is not 'an output of the event is due'"),
    (TapNotRestartedAtRowEnd, PADDED, "kx is not the tap of ox for x"),
    (AdvancesWithoutReady, PADDED, "o.payload changed before o.ready"),
    (LastAtRowEnd, PADDED, "last is not at (oy_hi, ox_hi)"),
    (MissesBottomBorder, PADDED, "last is not at (oy_hi, ox_hi)"),
    (MissesBottomBorder, GEOMETRIES["k3x2 s2x1 p2x1"], "last is not at (oy_hi, ox_hi)"),
    (PaddingForgotten, PADDED, "kx is not the tap of ox for x"),
    (RowPositionOffByOne, PADDED, "pos is not oy * W_out + ox"),
])
def test_mutant_is_caught(tmp_path, mutant, geometry, expected):
    # Bounded, and without the invariants on the generator's registers, so the failure
    # named is an end-to-end property.
    design = ConvAddressProperties(geometry, generator_class=mutant, inductive=False)
    result = run_sby(design, tmp_path, mode="bmc", depth=12)
    assert result.status == "FAIL", result.log
    assert expected in result.failed, (result.failed, result.log)


@pytest.mark.parametrize("mutant", [TapNotRestartedAtRowEnd, MissesBottomBorder])
def test_mutant_fails_the_induction_proof(tmp_path, mutant):
    prove, _cover = prove_conv_address(tmp_path, PADDED, induction=12, generator_class=mutant)
    assert prove.status == "FAIL", prove.log
    assert prove.failed, prove.log
