"""PE array: ``P`` processing elements accumulating weight words into per-neuron currents."""

from amaranth import Array, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .layouts import NamedArrayLayout
from .params import check_int, validating
from .weight_memory import WordLayout

__all__ = ["PEArray", "REGISTER_ROWS", "SweepRequest", "accumulator_bits"]


def accumulator_bits(w_bits, fan_in, x_bits=0):
    """Signed width that holds any sum of ``fan_in`` ``w_bits`` weights:
    ``w_bits + ceil(log2(fan_in))`` (the most negative sum is ``-fan_in * 2**(w_bits-1)``);
    with ``x_bits`` (a direct layer), of ``fan_in`` products of a weight and an unsigned
    ``x_bits``-bit value, ``x_bits`` more."""
    return w_bits + x_bits + max(0, (fan_in - 1).bit_length())


#: Accumulator rows per PE up to which the accumulators are flip-flops (see PEArray).
REGISTER_ROWS = 2


class SweepRequest(data.StructLayout):
    """A sweep read-and-clear request: local index ``row`` of PE group ``group`` (PEs
    ``group * S .. group * S + S - 1``); with ``hold`` (a direct layer) also ``clear``:
    read and clear, or only read."""

    def __init__(self, rows, groups, hold=False):
        fields = {"row": range(rows), "group": range(groups)}
        if hold:
            fields["clear"] = 1
        super().__init__(fields)


class PEArray(wiring.Component):
    """``lanes`` PEs; PE ``p`` owns the input currents of neurons ``i ≡ p (mod lanes)``.

    Each PE keeps ``rows`` signed ``acc_bits`` accumulators (local index ``i // lanes``)
    and adds the weight of its lane of every word into the addressed accumulator: the word
    is taken in its cycle and added in the next. ``acc_bits`` from :func:`accumulator_bits`
    can never overflow.

    Memory mapping (docs/design.md §7): with ``rows <= REGISTER_ROWS`` the accumulators are
    flip-flops (a fully parallel layer has one per PE and needs no RAM at all); deeper, each
    PE has its own :class:`~amaranth.lib.memory.Memory` (the synthesizer makes it LUT RAM
    or block RAM by depth) with a read in the word's cycle, a write in the next and the
    read port transparent to the write port, so a neuron hit by consecutive words is
    forwarded and no update is lost.

    The sweep reads ``S = sweep_lanes`` accumulators per request: PE group ``g`` is PEs
    ``gS .. gS+S-1``, so neuron ``i`` is lane ``i % S`` of the request
    ``(row = i // lanes, group = (i % lanes) // S)``.

    Parameters
    ----------
    lanes : int
        PEs, ``[1, 256]``.
    rows : int
        Accumulators per PE, ``ceil(N / lanes)``, ``[1, 65536]``.
    w_bits : int
        Weight width, ``[2, 16]``.
    acc_bits : int
        Accumulator width, ``[w_bits, 48]``.
    sweep_lanes : int, optional
        ``S``, a divisor of ``lanes`` (default ``lanes``).
    value_bits : int
        A direct layer (docs/design.md §13), ``[0, 16]``: each word carries an unsigned
        ``value_bits``-bit ``value`` and a lane adds ``weight * value`` (one multiplier per
        PE; the weight and value registered in the word's cycle, the product in the next,
        the add in the one after: one cycle more than a spike layer, so its ``drain`` is one
        more); its sweep requests carry ``clear`` (the ``STEP`` sweep reads, the ``SAMPLE``
        sweep reads and clears). 0: a spiking layer.

    Members
    -------
    words : ``In(stream.Signature(WordLayout, always_ready=True))``
        One word per cycle at full throughput.
    sweep : ``In(stream.Signature(SweepRequest(rows, lanes // S), always_ready=True))``
        Read-and-clear request for one row of one PE group (with ``value_bits``: clear only
        when ``clear`` is set).
    currents : ``Out(stream.Signature(ArrayLayout(signed(acc_bits), S), always_ready=True))``
        The requested accumulators, valid the cycle after the request; they are zero from
        then on (with ``value_bits``, when the request's ``clear`` was set).
    error : ``Out(1)``
        Sticky: a sweep request arrived in the same cycle as a word (a contract violation
        that loses the word, or with flip-flop accumulators the clear of its row).

    Timing: a word in cycle ``w`` is in its accumulator at the end of cycle ``w + 1``; a
    sweep request from cycle ``w + 1`` on reads it (``Timing.drain``); with ``value_bits``,
    at the end of ``w + 2`` and from ``w + 2`` on. Sweep requests run at one per cycle.
    """

    def __init__(self, *, lanes, rows, w_bits, acc_bits, sweep_lanes=None, value_bits=0):
        with validating(self):
            self.value_bits = check_int("value_bits", value_bits, 0, 16)
            self.lanes = check_int("lanes", lanes, 1, 256)
            self.rows = check_int("rows", rows, 1, 1 << 16)
            self.w_bits = check_int("w_bits", w_bits, 2, 16)
            self.acc_bits = check_int("acc_bits", acc_bits, w_bits, 48)
            self.sweep_lanes = check_int("sweep_lanes", lanes if sweep_lanes is None
                                         else sweep_lanes, 1, lanes)
            if lanes % self.sweep_lanes:
                raise ValueError(f"sweep_lanes = {sweep_lanes} must divide lanes = {lanes}")
            self.groups = lanes // self.sweep_lanes
            self.storage = "registers" if rows <= REGISTER_ROWS else "memory"
            self.index_bits = max(0, (rows - 1).bit_length())
            self.word_layout = WordLayout(lanes, self.index_bits, w_bits, self.value_bits)
        super().__init__({
            "words": In(stream.Signature(self.word_layout, always_ready=True)),
            "sweep": In(stream.Signature(SweepRequest(rows, self.groups,
                                                      hold=bool(self.value_bits)),
                                         always_ready=True)),
            "currents": Out(stream.Signature(NamedArrayLayout(signed(acc_bits),
                                                              self.sweep_lanes, prefix="lane"),
                                             always_ready=True)),
            "error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        sweeping = Signal()
        sweep_row = Signal(range(self.rows))
        sweep_group = Signal(range(self.groups))
        m.d.sync += [sweeping.eq(self.sweep.valid), sweep_row.eq(self.sweep.payload.row),
                     sweep_group.eq(self.sweep.payload.group)]
        sweep_clear = Const(1)
        if self.value_bits:
            sweep_clear = Signal()
            m.d.sync += sweep_clear.eq(self.sweep.payload.clear)
        m.d.comb += self.currents.valid.eq(sweeping)

        # A direct layer: a stage more, so the multipliers (DSP blocks, in fixed columns far
        # from the block RAM and from the accumulators) have a register on each side:
        # the word's weights and value registered per lane (A), their product registered (B),
        # then added. (The product made in the word's cycle: block RAM -> DSP -> flip-flop
        # across the ECP5, 42.11 MHz at 784-128-10; made from A into the adder: 48.44.)
        direct = bool(self.value_bits)
        words_valid = self.words.valid
        if direct:
            words_valid = Signal()              # stage A holds a word
            m.d.sync += words_valid.eq(self.words.valid)
        collision = self.sweep.valid & words_valid
        with m.If(collision):
            m.d.sync += self.error.eq(1)

        swept = []          # per PE, the accumulator the sweep reads in the cycle after
        for p in range(self.lanes):
            lane = self.words.payload.lanes[p]
            adding = Signal(name=f"adding{p}")
            add_index = Signal(range(self.rows), name=f"add_index{p}")
            add_weight = Signal(signed(self.w_bits), name=f"add_weight{p}")
            # With flip-flop accumulators a word adds whatever the sweep does (the sweep
            # request, the late issue of the LIF core, then reaches a few flip-flops instead of
            # one per PE; the two never meet unless ``error`` is set); with memories the sweep
            # takes the read port, and the word is dropped.
            live = self.words.valid & lane.valid
            index = lane.index                  # the row read in the cycle before the add
            if direct:
                a_live = Signal(name=f"a_live{p}")
                a_index = Signal(range(self.rows), name=f"a_index{p}")
                a_weight = Signal(signed(self.w_bits), name=f"a_weight{p}")
                a_value = Signal(self.value_bits, name=f"a_value{p}")
                m.d.sync += [a_live.eq(live), a_index.eq(lane.index),
                             a_weight.eq(lane.weight), a_value.eq(self.words.payload.value)]
                live, index = a_live, a_index
                add_weight = Signal(signed(self.w_bits + self.value_bits + 1),
                                    name=f"add_product{p}")
                addend = a_weight * a_value                      # signed x unsigned, exact
            else:
                addend = lane.weight
            if self.storage != "registers":
                live = live & ~self.sweep.valid
            m.d.sync += [adding.eq(live), add_index.eq(index), add_weight.eq(addend)]
            clearing = sweeping & sweep_clear & (sweep_group == p // self.sweep_lanes)

            if self.storage == "registers":
                accumulators = Array(Signal(signed(self.acc_bits), name=f"acc{p}_{r}")
                                     for r in range(self.rows))
                target = accumulators[add_index]
                with m.If(adding):
                    m.d.sync += target.eq(target + add_weight)
                with m.Elif(clearing):
                    m.d.sync += accumulators[sweep_row].eq(0)
                swept.append(accumulators[sweep_row])
            else:
                memory = Memory(shape=signed(self.acc_bits), depth=self.rows, init=[])
                m.submodules[f"pe{p}"] = memory
                write = memory.write_port()
                read = memory.read_port(transparent_for=(write,))
                m.d.comb += read.addr.eq(Mux(self.sweep.valid, self.sweep.payload.row, index))
                with m.If(adding):
                    m.d.comb += [write.addr.eq(add_index),
                                 write.data.eq(read.data + add_weight), write.en.eq(1)]
                with m.Elif(clearing):
                    m.d.comb += [write.addr.eq(sweep_row), write.data.eq(0), write.en.eq(1)]
                swept.append(read.data)

        for q in range(self.sweep_lanes):
            choices = Array(swept[g * self.sweep_lanes + q] for g in range(self.groups))
            m.d.comb += self.currents.payload[q].eq(choices[sweep_group])
        return m
