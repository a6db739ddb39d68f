"""Compressed weight memory: streams a pre-synaptic column as words of ``P`` lanes."""

from amaranth import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from spikefab.model.memory import WeightImage

from .layouts import NamedArrayLayout
from .params import check_instance, check_int, validating

__all__ = ["RUNTIME_STORE_ATTR", "LaneLayout", "LoadTarget", "WeightMemory", "WordLayout"]

#: Attribute marking a run-time loaded weight store in the netlist; its value is the store's
#: size in bits. Amaranth writes an all-zero initializer for every memory, which keeps yosys
#: from SPRAM (no initial contents); the board flow clears the initializer of the memories
#: carrying this attribute (``spikefab.boards.synth``).
RUNTIME_STORE_ATTR = "spikefab_runtime_store"


class LaneLayout(data.StructLayout):
    """One lane of a weight word: ``{valid, index, weight}`` for one PE."""

    def __init__(self, index_bits, w_bits):
        super().__init__({"valid": 1, "index": max(1, index_bits), "weight": signed(w_bits)})


class WordLayout(data.StructLayout):
    """A weight word as the PE array sees it: ``P`` lanes, the column's ``last`` flag and
    ``live`` (a word read from memory, not the placeholder of an empty column); with
    ``value_bits`` also the column request's ``value`` (a direct layer's input value, which
    every lane's weight is multiplied by)."""

    def __init__(self, lanes, index_bits, w_bits, value_bits=0):
        self.lane_layout = LaneLayout(index_bits, w_bits)
        fields = {"lanes": NamedArrayLayout(self.lane_layout, lanes, prefix="lane"),
                  "last": 1,
                  "live": 1}
        if value_bits:
            fields["value"] = value_bits
        super().__init__(fields)


class LoadTarget(enum.Enum, shape=2):
    POINTERS = 0
    BITMAPS = 1
    WEIGHTS = 2


def _bits(n):
    return max(1, (n - 1).bit_length())


class WeightMemory(wiring.Component):
    """A layer's weight memory, initialized from a :class:`~spikefab.model.WeightImage`.

    Given the address of a pre-synaptic input ``j`` (a *column*), it streams that column as
    ``L_j`` words, one per cycle, each lane ``(valid, local index, weight)`` for one PE
    (docs/design.md §3); an empty column yields one word with no valid lane. The memories hold
    exactly the image's words (``model/`` is the one source of truth); formats ``dense``,
    ``csc`` and ``bitmap`` are decoded as :mod:`spikefab.model.memory` documents.

    Parameters
    ----------
    image : WeightImage
        Compiled by :func:`spikefab.model.compile_weights`; its format, lanes, rows, widths
        and pointer field widths fix the hardware geometry.
    capacity : int, optional
        Depth of the ``weights`` memory (default: the image's, at least 1), so that a larger
        image can be loaded at run time; must fit the image's ``start_bits``.
    runtime : bool
        Build the ``weights`` memory as a *run-time loaded single-port store*: no initial
        contents and one address for reading and loading (the load's while ``load.valid``,
        else the column's). That is the shape yosys maps to the iCE40 UP5K's SPRAM
        (``synth_ice40 -spram``; 4 blocks of 16384 x 16 bits, which cannot be initialized by
        the bitstream), so a weight store larger than the block RAM fits. The weights read
        zero until loaded (``LOAD`` over the host link); pointers and bitmaps stay
        initialized block RAM. Timing is unchanged.
    value_bits : int
        A direct layer's input value width, ``[0, 16]`` (0: a spiking layer): column requests
        carry a ``value`` that leaves with each of the column's words.

    Members
    -------
    columns : ``In(stream.Signature({addr, gate[, value]}))``
        Column requests. ``gate = 0`` streams the same words with every lane invalid (the
        dense baseline gates columns of inputs that did not spike).
    words : ``Out(stream.Signature(WordLayout, always_ready=True))``
        The consumer takes one word per cycle.
    load : ``In(stream.Signature({target, addr, data}, always_ready=True))``
        Run-time write of one memory word (``LoadTarget``); use only while no column streams.

    Timing: a column accepted in cycle ``s`` has its words on ``words`` in cycles ``s + 2``
    … ``s + 1 + max(1, L_j)``; ``columns.ready`` rises in the cycle that issues a column's
    last word, so the next column is accepted in cycle ``s + max(1, L_j)`` and streams
    back to back with no bubble (the pointer fetch is prefetched). Dense columns take the
    same one-cycle pointer stage (their start ``j * rows`` is computed), so every format has
    the same latency.
    """

    def __init__(self, image, *, capacity=None, runtime=False, value_bits=0):
        with validating(self):
            check_instance("image", image, WeightImage)
            self.value_bits = check_int("value_bits", value_bits, 0, 16)
            self.image = image
            self.runtime = bool(runtime)
            self.format = image.format
            self.lanes = image.lanes
            self.rows = image.rows
            self.neurons = image.neurons
            self.fan_in = image.fan_in
            self.w_bits = image.w_bits
            self.index_bits = image.index_bits
            depth = image.memories["weights"].depth
            if self.format == "dense":
                if capacity is not None and capacity != depth:
                    raise ValueError(f"capacity = {capacity} is out of range for format dense; "
                                     f"allowed range is [{depth}, {depth}] (fan_in * rows)")
                capacity = depth
            else:
                # The deepest a loadable image can be: its last column starts at the largest
                # start the pointer field holds and has at most ``rows`` words.
                limit = (1 << image.start_bits) - 1 + image.rows
                capacity = check_int("capacity", max(1, depth) if capacity is None else capacity,
                                     max(1, depth), limit)
            self.capacity = capacity
            self.word_layout = WordLayout(self.lanes, self.index_bits, self.w_bits,
                                          self.value_bits)
            widths = {name: memory.width for name, memory in image.memories.items()}
            self.load_layout = data.StructLayout({
                "target": LoadTarget,
                "addr": _bits(max(capacity, self.fan_in)),
                "data": max(widths.values()),
            })
        column_fields = {"addr": _bits(self.fan_in), "gate": 1}
        if self.value_bits:
            column_fields["value"] = self.value_bits
        super().__init__({
            "columns": In(stream.Signature(data.StructLayout(column_fields))),
            "words": Out(stream.Signature(self.word_layout, always_ready=True)),
            "load": In(stream.Signature(self.load_layout, always_ready=True)),
        })

    def check_image(self, image):
        """Raise ValueError naming the mismatch if ``image`` cannot be loaded into this memory."""
        for name in ("format", "lanes", "rows", "neurons", "fan_in", "w_bits", "index_bits",
                     "start_bits", "length_bits"):
            mine = getattr(self.image, name)
            theirs = getattr(image, name)
            if mine != theirs:
                raise ValueError(f"image {name} = {theirs!r} does not match the hardware's "
                                 f"{name} = {mine!r}")
        depth = image.memories["weights"].depth
        if depth > self.capacity:
            raise ValueError(f"image needs {depth} weight words; the memory holds "
                             f"{self.capacity} (generate it with a larger capacity)")

    def elaborate(self, platform):
        m = Module()
        image = self.image
        lanes, rows = self.lanes, self.rows

        width = image.memories["weights"].width
        weights_mem = Memory(shape=width, depth=self.capacity,
                             init=[] if self.runtime else image.memories["weights"].words,
                             attrs={RUNTIME_STORE_ATTR: str(width * self.capacity)}
                             if self.runtime else None)
        m.submodules.weights = weights_mem
        weight_read = weights_mem.read_port()
        weight_load = self._load_port(m, weights_mem, LoadTarget.WEIGHTS)

        accept = self.columns.valid & self.columns.ready
        f_valid = Signal()            # the accepted column's pointer is on the read ports
        f_addr = Signal.like(self.columns.payload.addr)
        f_gate = Signal()
        m.d.sync += f_valid.eq(accept)
        with m.If(accept):
            m.d.sync += [f_addr.eq(self.columns.payload.addr),
                         f_gate.eq(self.columns.payload.gate)]
        # A direct layer's value: taken with the column, held through its words (the next
        # column is accepted only as this one's last word issues).
        if self.value_bits:
            f_value = Signal(self.value_bits)
            o_value = Signal(self.value_bits)
            with m.If(accept):
                m.d.sync += f_value.eq(self.columns.payload.value)
            m.d.sync += o_value.eq(f_value)
            m.d.comb += self.words.payload.value.eq(o_value)

        addr_bits = max(image.start_bits, _bits(self.capacity + 1)) + 1
        length_bits = max(image.length_bits, _bits(rows + 1)) + 1
        start = Signal(addr_bits)
        length = Signal(length_bits)
        bitmap_now = Signal(lanes * rows) if self.format == "bitmap" else None
        if self.format == "dense":
            # start = j * rows as shifted adds of the constant's set bits, so no DSP block
            # is spent on it (the LIF core's mul leak is the only multiplier by design).
            m.d.comb += [start.eq(sum(f_addr << b for b in range(rows.bit_length())
                                      if rows >> b & 1)),
                         length.eq(rows)]
        else:
            pointers = Memory(shape=image.memories["pointers"].width, depth=self.fan_in,
                              init=image.memories["pointers"].words)
            m.submodules.pointers = pointers
            pointer_read = pointers.read_port()
            self._load_port(m, pointers, LoadTarget.POINTERS)
            m.d.comb += [pointer_read.addr.eq(self.columns.payload.addr),
                         pointer_read.en.eq(accept),
                         start.eq(pointer_read.data[:image.start_bits]),
                         length.eq(pointer_read.data[image.start_bits:])]
            if self.format == "bitmap":
                bitmaps = Memory(shape=lanes * rows, depth=self.fan_in,
                                 init=image.memories["bitmaps"].words)
                m.submodules.bitmaps = bitmaps
                bitmap_read = bitmaps.read_port()
                self._load_port(m, bitmaps, LoadTarget.BITMAPS)
                m.d.comb += [bitmap_read.addr.eq(self.columns.payload.addr),
                             bitmap_read.en.eq(accept)]

        # Issue stage: one word read per cycle, from the fresh pointer or the running column.
        remaining = Signal(length_bits)
        next_addr = Signal(addr_bits)
        s_gate = Signal()
        s_row = Signal(range(rows + 1))
        s_bitmap = Signal(lanes * rows) if self.format == "bitmap" else None

        issue = Signal()
        issue_read = Signal()
        issue_addr = Signal(addr_bits)
        issue_last = Signal()
        left_after = Signal(length_bits)
        gate = Signal()
        row = Signal(range(rows + 1))
        with m.If(f_valid):
            m.d.comb += [issue.eq(1), issue_read.eq(length != 0), issue_addr.eq(start),
                         issue_last.eq(length <= 1), gate.eq(f_gate), row.eq(0),
                         left_after.eq(Mux(length != 0, length - 1, 0))]
            if bitmap_now is not None:
                m.d.comb += bitmap_now.eq(bitmap_read.data)
        with m.Elif(remaining != 0):
            m.d.comb += [issue.eq(1), issue_read.eq(1), issue_addr.eq(next_addr),
                         issue_last.eq(remaining == 1), gate.eq(s_gate), row.eq(s_row),
                         left_after.eq(remaining - 1)]
            if bitmap_now is not None:
                m.d.comb += bitmap_now.eq(s_bitmap)
        m.d.comb += [
            self.columns.ready.eq(left_after == 0),
            weight_read.addr.eq(issue_addr),
            weight_read.en.eq(issue_read),
        ]
        if self.runtime:
            # One address for both ports (a single-port RAM): the load's while loading.
            # The read is disabled while loading, so what a read sees of a write at the
            # same address never matters (SPRAM's ``no_change``).
            shared = Signal(len(weight_load.addr))
            m.d.comb += [shared.eq(Mux(self.load.valid, self.load.payload.addr, issue_addr)),
                         weight_read.addr.eq(shared), weight_load.addr.eq(shared),
                         weight_read.en.eq(issue_read & ~self.load.valid)]
        with m.If(issue):
            m.d.sync += [remaining.eq(left_after), next_addr.eq(issue_addr + 1),
                         s_gate.eq(gate), s_row.eq(row + 1)]

        # Output stage: the word read in the issue cycle, with its side information.
        o_valid = Signal()
        o_last = Signal()
        o_live = Signal()             # a real word (not the placeholder of an empty column)
        o_gate = Signal()
        o_row = Signal(range(rows + 1))
        m.d.sync += [o_valid.eq(issue), o_last.eq(issue_last), o_live.eq(issue_read),
                     o_gate.eq(gate), o_row.eq(row)]
        lane_index = [Signal(max(1, self.index_bits), name=f"o_index{p}") for p in range(lanes)]
        lane_valid = [Signal(name=f"o_valid{p}") for p in range(lanes)]
        if self.format == "bitmap":
            cleared = []
            for p in range(lanes):
                bits = bitmap_now[p * rows:(p + 1) * rows]
                lowest = Signal(range(rows), name=f"lowest{p}")
                for r in reversed(range(rows)):
                    with m.If(bits[r]):
                        m.d.comb += lowest.eq(r)
                m.d.sync += [lane_index[p].eq(lowest), lane_valid[p].eq(bits != 0)]
                cleared.append((bits & (bits - 1))[:rows])   # clear the lowest set bit
            with m.If(issue):
                m.d.sync += s_bitmap.eq(Cat(*cleared))

        slot_bits = image.memories["weights"].width // lanes
        w_bits, index_bits = self.w_bits, self.index_bits
        last_row_lanes = self.neurons - (rows - 1) * lanes
        m.d.comb += [self.words.valid.eq(o_valid), self.words.payload.last.eq(o_last),
                     self.words.payload.live.eq(o_live)]
        for p in range(lanes):
            slot = weight_read.data[p * slot_bits:(p + 1) * slot_bits]
            lane = self.words.payload.lanes[p]
            m.d.comb += lane.weight.eq(slot[:w_bits].as_signed())
            live = o_live & o_gate
            if self.format == "csc":
                m.d.comb += [lane.valid.eq(live & slot[slot_bits - 1]),
                             lane.index.eq(slot[w_bits:w_bits + index_bits] if index_bits else 0)]
            elif self.format == "dense":
                in_range = 1 if p < last_row_lanes else (o_row != rows - 1)
                m.d.comb += [lane.valid.eq(live & in_range), lane.index.eq(o_row)]
            else:
                m.d.comb += [lane.valid.eq(live & lane_valid[p]), lane.index.eq(lane_index[p])]
        return m

    def _load_port(self, m, memory, target):
        port = memory.write_port()
        m.d.comb += [port.addr.eq(self.load.payload.addr),
                     port.data.eq(self.load.payload.data),
                     port.en.eq(self.load.valid & (self.load.payload.target == target))]
        return port
