"""Formal proof of the convolution core's address generator (issue 22): an input event reaches
every affected output exactly once, in order.

:class:`ConvAddressProperties` wraps a :class:`~spikefab.hw.conv_address.ConvAddressGenerator`
built for one :class:`~spikefab.model.conv.Conv2dGeometry`. The proof is per geometry (the
generator's tables and steps are elaboration constants), as the other proofs are per parameter
set; :data:`GEOMETRIES` are the ones ``spikefab formal`` proves.

The wrapper records each event ``(y, x)`` it sees accepted and computes, independently of the
generator's tables, the range it reaches with Amaranth arithmetic on the symbolic position:
``oy_lo = max(0, ceil((y + py - kh + 1) / sy))``, ``oy_hi = min(H_out - 1, floor((y + py) /
sy))`` (likewise ``ox``). A model of the walk keeps the expected next output.

What is proved, for every input sequence (``i.valid``, ``i.payload`` and ``o.ready`` are free
in every cycle):

* **Taps**: every output ``(oy, ox, ky, kx)`` satisfies ``oy·sy − py + ky = y`` and
  ``ox·sx − px + kx = x``, with ``ky < kh``, ``kx < kw``, ``oy < H_out``, ``ox < W_out``.
* **The walk**: the first output of an event is ``(oy_lo, ox_lo)``, each next one is the
  lexicographic successor within ``[oy_lo, oy_hi] × [ox_lo, ox_hi]`` (rows outer), ``last`` is
  high exactly at ``(oy_hi, ox_hi)``, and ``o.valid`` is high exactly while outputs are due
  (none is skipped, none invented: so each reached output appears exactly once). An event
  with an empty range is consumed with ``empty`` high and emits nothing. The ``tag`` of every
  output is its event's.
* **The range is the kernel's reach**: at every output, ``oy == oy_lo`` exactly when the
  previous row's tap would fall off the kernel or the map (``ky + sy >= kh or oy == 0``) and
  ``oy == oy_hi`` exactly when the next row's would (``ky < sy or oy == H_out − 1``), likewise
  for columns: the wrapper's arithmetic range is checked against the tap definition itself.
* **Handshake as documented**: ``i.ready`` is exactly "no walk in progress, or its last output
  is taken in this cycle" (back to back, no bubble); stream rules on ``o`` (``o.valid`` not
  withdrawn, payload stable until taken).

Assumed: reset in the first cycle only; the producer keeps the stream rules on ``i`` and offers
positions inside the map (``y < H``, ``x < W``).

Covered: an event's last output taken; a row change inside a walk (where the geometry reaches
two rows); the next event accepted with the previous event's last output; an output held under
back-pressure and then taken; an event reaching nothing (where the geometry has one).

k-induction uses invariants on the generator's registers (found by name through
:func:`~spikefab.sim.formal.sby.signals_by_name`): the row start ``row_ox``, ``row_kx`` and
the row and column ends ``last_oy``, ``last_ox`` agree with the wrapper's range of the recorded
event, and the expected position lies inside that range. With them the properties are
1-inductive.
"""

from pathlib import Path

from amaranth import Elaboratable, Module, Mux, ResetSignal, Signal
from amaranth.asserts import AnySeq, Initial
from amaranth.hdl import Assume, Cover, Fragment

from spikefab.hw.conv_address import ConvAddressGenerator
from spikefab.hw.elaboration import mark_elaborated
from spikefab.model.conv import Conv2dGeometry
from spikefab.sim.formal.sby import PropertyChecker, run_sby, signals_by_name

__all__ = ["GEOMETRIES", "ConvAddressProperties", "conv_address_internals", "describe",
           "expected_covers", "prove_conv_address"]

#: The geometries ``spikefab formal`` proves: ``name -> Conv2dGeometry`` (channels unused).
GEOMETRIES = {
    "k3 s1 p1": Conv2dGeometry(1, 5, 5, 1, kernel=3, stride=1, padding=1),
    "k2 s3": Conv2dGeometry(1, 7, 8, 1, kernel=2, stride=3, padding=0),
    "k1": Conv2dGeometry(1, 3, 4, 1, kernel=1, stride=1, padding=0),
    "k3x2 s2x1 p2x1": Conv2dGeometry(1, 6, 5, 1, kernel=(3, 2), stride=(2, 1),
                                     padding=(2, 1)),
    "k5 s2 p2": Conv2dGeometry(1, 9, 7, 1, kernel=5, stride=2, padding=2),
    "k3 s2": Conv2dGeometry(1, 8, 7, 1, kernel=3, stride=2, padding=0),
}

REGISTERS = ["busy", "row_ox", "row_kx", "last_oy", "last_ox", "row_pos", "row_tap"]


def describe(geometry):
    """One line: the map, kernel, stride and padding of ``geometry``."""
    g = geometry
    return (f"{g.height}x{g.width} map, kernel {g.kernel[0]}x{g.kernel[1]}, stride "
            f"{g.stride[0]}x{g.stride[1]}, padding {g.padding[0]}x{g.padding[1]}")


def _reach(geometry):
    """(two rows reachable by one event, an event reaching nothing exists), from the model."""
    g = geometry
    ranges = [g.reached_range(y, x) for y in range(g.height) for x in range(g.width)]
    rows = any(hi > lo for lo, hi, _, _ in ranges)
    empty = any(ylo > yhi or xlo > xhi for ylo, yhi, xlo, xhi in ranges)
    return rows, empty


def expected_covers(geometry):
    """How many covers :class:`ConvAddressProperties` states for ``geometry`` (3, plus one
    for a row change and one for an empty event where the geometry has them)."""
    rows, empty = _reach(geometry)
    return 3 + rows + empty


def conv_address_internals(generator, platform=None):
    """Elaborate ``generator`` and return ``(fragment, registers)``: the walk's registers
    ``busy``, ``row_ox``, ``row_kx``, ``last_oy``, ``last_ox``, ``row_pos``, ``row_tap`` by name. Use ``fragment`` as
    the submodule in place of ``generator``."""
    mark_elaborated(generator)
    fragment = Fragment.get(generator.elaborate(platform), platform)
    return fragment, signals_by_name(fragment, "ConvAddressGenerator", REGISTERS)


def axis_range(m, name, i, size, kernel, stride, padding, out_size):
    """``(lo, hi, reaches)``: the output range input coordinate ``i`` reaches along one axis,
    with Amaranth arithmetic on the symbolic ``i`` (no table): ``lo = max(0, ceil((i + p -
    k + 1) / s))``, ``hi = min(O - 1, floor((i + p) / s))``."""
    width = max(size + padding + stride, out_size + 1).bit_length() + 1
    lo = Signal(width, name=f"{name}_lo")
    hi = Signal(width, name=f"{name}_hi")
    above = Signal(width, name=f"{name}_above")        # i + p + 1: ceil(...) > 0 iff > k
    floor_hi = Signal(width, name=f"{name}_floor_hi")
    m.d.comb += [
        above.eq(i + padding + 1),
        lo.eq(Mux(above > kernel, (above - kernel + stride - 1) // stride, 0)),
        floor_hi.eq((i + padding) // stride),
        hi.eq(Mux(floor_hi > out_size - 1, out_size - 1, floor_hi)),
    ]
    return lo, hi, lo <= hi


class ConvAddressProperties(Elaboratable):
    """Formal wrapper of a :class:`ConvAddressGenerator` (properties in the module
    docstring).

    Parameters
    ----------
    geometry : Conv2dGeometry
        The geometry the generator is built for.
    tag_bits : int
        Width of the tag carried through (default 2).
    generator_class : type
        ``ConvAddressGenerator`` or a subclass (the tests use mutants).
    inductive : bool
        Also assert the invariants on the generator's registers (needed by ``mode prove``;
        a bounded run without them reports only the end-to-end properties).
    """

    def __init__(self, geometry, tag_bits=2, generator_class=ConvAddressGenerator, *,
                 inductive=True):
        self.geometry = geometry
        self.generator = generator_class(geometry, tag_bits=tag_bits)
        self.inductive = inductive
        self.properties = {}

    def elaborate(self, platform):
        m = Module()
        g, gen = self.geometry, self.generator
        (kh, kw), (sy, sx), (py, px) = g.kernel, g.stride, g.padding
        h_out, w_out = g.out_height, g.out_width
        check = PropertyChecker()
        self.properties = check.properties
        fragment, inside = conv_address_internals(gen, platform)
        m.submodules.generator = fragment
        i, o = gen.i, gen.o
        in_width = len(i.payload.as_value())
        out_width = len(o.payload.as_value())

        # --- environment: reset in the first cycle only; free inputs; producer stream rules;
        # positions inside the map
        m.d.comb += Assume(ResetSignal() == Initial())
        m.d.comb += [i.valid.eq(AnySeq(1)), i.payload.eq(AnySeq(in_width)),
                     o.ready.eq(AnySeq(1))]
        in_waiting = Signal()
        in_payload = Signal(in_width)
        m.d.sync += [in_waiting.eq(i.valid & ~i.ready), in_payload.eq(i.payload)]
        with m.If(in_waiting):
            m.d.comb += [Assume(i.valid), Assume(i.payload.as_value() == in_payload)]
        with m.If(i.valid):
            m.d.comb += [Assume(i.payload.y < g.height), Assume(i.payload.x < g.width)]

        accept = i.valid & i.ready
        taken = o.valid & o.ready
        out = o.payload

        # --- the wrapper's own ranges: of the offered event, and of the recorded one
        new_oy_lo, _, new_rows = axis_range(m, "new_oy", i.payload.y, g.height, kh, sy, py,
                                            h_out)
        new_ox_lo, _, new_cols = axis_range(m, "new_ox", i.payload.x, g.width, kw, sx, px,
                                            w_out)
        ev_y = Signal.like(i.payload.y, name="ev_y")
        ev_x = Signal.like(i.payload.x, name="ev_x")
        ev_tag = Signal.like(i.payload.tag, name="ev_tag")
        oy_lo, oy_hi, _ = axis_range(m, "oy", ev_y, g.height, kh, sy, py, h_out)
        ox_lo, ox_hi, _ = axis_range(m, "ox", ev_x, g.width, kw, sx, px, w_out)

        # --- the model of the walk: an event is active while outputs are due; exp_* is the
        # next output due
        active = Signal()
        exp_oy = Signal.like(oy_lo, name="exp_oy")
        exp_ox = Signal.like(ox_lo, name="exp_ox")
        model_last = (exp_oy == oy_hi) & (exp_ox == ox_hi)
        with m.If(accept):
            m.d.sync += [ev_y.eq(i.payload.y), ev_x.eq(i.payload.x), ev_tag.eq(i.payload.tag),
                         active.eq(new_rows & new_cols), exp_oy.eq(new_oy_lo),
                         exp_ox.eq(new_ox_lo)]
        with m.Elif(taken):
            with m.If(model_last):
                m.d.sync += active.eq(0)
            with m.Elif(exp_ox == ox_hi):
                m.d.sync += [exp_oy.eq(exp_oy + 1), exp_ox.eq(ox_lo)]
            with m.Else():
                m.d.sync += exp_ox.eq(exp_ox + 1)

        # --- handshake: ready exactly when idle or the last output goes; empty events
        m.d.comb += [
            check(i.ready == (~active | (taken & out.last)),
                  "i.ready is not 'idle, or the last output taken'"),
            check(gen.empty == (accept & ~(new_rows & new_cols)),
                  "empty is not 'an event reaching nothing accepted'"),
            check(o.valid == active, "o.valid is not 'an output of the event is due'"),
        ]

        # --- stream rules on o
        out_waiting = Signal()
        out_payload = Signal(out_width)
        m.d.sync += [out_waiting.eq(o.valid & ~o.ready), out_payload.eq(o.payload)]
        with m.If(out_waiting):
            m.d.comb += [check(o.valid, "o.valid withdrawn before o.ready"),
                         check(o.payload.as_value() == out_payload,
                               "o.payload changed before o.ready")]

        # --- every output: taps, bounds, the walk's order, last, tag, the range's definition
        with m.If(o.valid):
            m.d.comb += [
                check(out.oy * sy + out.ky == ev_y + py, "ky is not the tap of oy for y"),
                check(out.ox * sx + out.kx == ev_x + px, "kx is not the tap of ox for x"),
                check((out.ky < kh) & (out.kx < kw), "tap outside the kernel"),
                check((out.oy < h_out) & (out.ox < w_out), "output outside the map"),
                check((out.oy == exp_oy) & (out.ox == exp_ox),
                      "output is not the walk's next position"),
                check(out.last == model_last, "last is not at (oy_hi, ox_hi)"),
                check(out.tag == ev_tag, "tag is not the event's"),
                check(out.pos == out.oy * w_out + out.ox, "pos is not oy * W_out + ox"),
                check(out.tap == out.ky * kw + out.kx, "tap is not ky * kw + kx"),
                check((out.oy == oy_lo) == ((out.ky + sy >= kh) | (out.oy == 0)),
                      "oy_lo is not where the previous row's tap leaves the kernel or map"),
                check((out.oy == oy_hi) == ((out.ky < sy) | (out.oy == h_out - 1)),
                      "oy_hi is not where the next row's tap leaves the kernel or map"),
                check((out.ox == ox_lo) == ((out.kx + sx >= kw) | (out.ox == 0)),
                      "ox_lo is not where the previous column's tap leaves the kernel or map"),
                check((out.ox == ox_hi) == ((out.kx < sx) | (out.ox == w_out - 1)),
                      "ox_hi is not where the next column's tap leaves the kernel or map"),
            ]

        # --- inductive strengthening: the generator's registers agree with the model
        if self.inductive:
            m.d.comb += check(inside["busy"] == active, "busy disagrees with the model")
            with m.If(active):
                m.d.comb += [
                    check((ev_y < g.height) & (ev_x < g.width), "recorded event off the map"),
                    check((oy_lo <= exp_oy) & (exp_oy <= oy_hi) & (ox_lo <= exp_ox)
                          & (exp_ox <= ox_hi), "expected position outside the range"),
                    check(inside["row_ox"] == ox_lo, "row start is not ox_lo"),
                    check(inside["row_ox"] * sx + inside["row_kx"] == ev_x + px,
                          "row start tap is not the tap of ox_lo"),
                    check((inside["last_oy"] == oy_hi) & (inside["last_ox"] == ox_hi),
                          "row and column ends are not (oy_hi, ox_hi)"),
                    check(inside["row_pos"] == out.oy * w_out + inside["row_ox"],
                          "row start position is not oy * W_out + ox_lo"),
                    check(inside["row_tap"] == out.ky * kw + inside["row_kx"],
                          "row start tap is not ky * kw + the tap of ox_lo"),
                ]

        # --- covers
        rows, empty = _reach(g)
        was_waiting_taken = Signal()
        m.d.comb += [
            Cover(taken & out.last, "an event's last output taken"),
            Cover(accept & taken & out.last, "next event accepted with the last output"),
            was_waiting_taken.eq(out_waiting & taken),
            Cover(was_waiting_taken, "an output held under back-pressure, then taken"),
        ]
        if rows:
            m.d.comb += Cover(taken & (out.ox == ox_hi) & ~out.last, "a row change in a walk")
        if empty:
            m.d.comb += Cover(gen.empty, "an event reaching nothing accepted")
        return m


def prove_conv_address(workdir, geometry, *, induction=2, generator_class=ConvAddressGenerator):
    """k-induction proof and cover run of the address generator for ``geometry``; returns
    ``(prove, cover)``. The cover bound is the longest walk plus a few cycles."""
    workdir = Path(workdir)
    longest = max(len(geometry.reached(y, x)) for y in range(geometry.height)
                  for x in range(geometry.width))
    prove = run_sby(ConvAddressProperties(geometry, generator_class=generator_class),
                    workdir / "prove", mode="prove", depth=induction)
    cover = run_sby(ConvAddressProperties(geometry, generator_class=generator_class),
                    workdir / "cover", mode="cover", depth=2 * longest + 6)
    return prove, cover
