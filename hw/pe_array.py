"""PE array: ``P`` processing elements accumulating weight words into per-neuron currents."""

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .layouts import NamedArrayLayout
from .params import check_int, validating
from .weight_memory import WordLayout

__all__ = ["PEArray", "accumulator_bits"]


def accumulator_bits(w_bits, fan_in):
    """Signed width that holds any sum of ``fan_in`` ``w_bits`` weights:
    ``w_bits + ceil(log2(fan_in))`` (the most negative sum is ``-fan_in * 2**(w_bits-1)``)."""
    return w_bits + max(0, (fan_in - 1).bit_length())


class PEArray(wiring.Component):
    """``lanes`` PEs; PE ``p`` owns the input currents of neurons ``i ≡ p (mod lanes)``.

    Each PE keeps ``rows`` signed ``acc_bits`` accumulators in its own block RAM (local
    index ``i // lanes``) and adds the weight of its lane of every word into the addressed
    accumulator: a read in the word's cycle and a write in the next, with the read port
    transparent to the write port, so a neuron hit by consecutive words is forwarded and no
    update is lost. ``acc_bits`` from :func:`accumulator_bits` can never overflow.

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

    Members
    -------
    words : ``In(stream.Signature(WordLayout, always_ready=True))``
        One word per cycle at full throughput.
    sweep : ``In(stream.Signature(range(rows), always_ready=True))``
        Read-and-clear request for a row (local index) of every PE.
    currents : ``Out(stream.Signature(ArrayLayout(signed(acc_bits), lanes), always_ready=True))``
        The requested row's currents, valid the cycle after the request; the row is zero
        from then on.
    error : ``Out(1)``
        Sticky: a sweep request arrived in the same cycle as a word (a contract violation
        that would lose the word).

    Timing: a word in cycle ``w`` is in its accumulator at the end of cycle ``w + 1``; a
    sweep request from cycle ``w + 1`` on reads it (``Timing.drain``). Sweep requests run
    at one row per cycle.
    """

    def __init__(self, *, lanes, rows, w_bits, acc_bits):
        with validating(self):
            self.lanes = check_int("lanes", lanes, 1, 256)
            self.rows = check_int("rows", rows, 1, 1 << 16)
            self.w_bits = check_int("w_bits", w_bits, 2, 16)
            self.acc_bits = check_int("acc_bits", acc_bits, w_bits, 48)
            self.index_bits = max(0, (rows - 1).bit_length())
            self.word_layout = WordLayout(lanes, self.index_bits, w_bits)
        super().__init__({
            "words": In(stream.Signature(self.word_layout, always_ready=True)),
            "sweep": In(stream.Signature(range(rows), always_ready=True)),
            "currents": Out(stream.Signature(NamedArrayLayout(signed(acc_bits), lanes,
                                                              prefix="lane"),
                                             always_ready=True)),
            "error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        sweeping = Signal()
        sweep_row = Signal(range(self.rows))
        m.d.sync += [sweeping.eq(self.sweep.valid), sweep_row.eq(self.sweep.payload)]
        m.d.comb += self.currents.valid.eq(sweeping)

        collision = self.sweep.valid & self.words.valid
        with m.If(collision):
            m.d.sync += self.error.eq(1)

        for p in range(self.lanes):
            memory = Memory(shape=signed(self.acc_bits), depth=self.rows, init=[])
            m.submodules[f"pe{p}"] = memory
            write = memory.write_port()
            read = memory.read_port(transparent_for=(write,))
            lane = self.words.payload.lanes[p]

            adding = Signal(name=f"adding{p}")
            add_index = Signal(range(self.rows), name=f"add_index{p}")
            add_weight = Signal(signed(self.w_bits), name=f"add_weight{p}")
            m.d.sync += [adding.eq(self.words.valid & lane.valid & ~self.sweep.valid),
                         add_index.eq(lane.index), add_weight.eq(lane.weight)]

            m.d.comb += [
                read.addr.eq(Mux(self.sweep.valid, self.sweep.payload, lane.index)),
                self.currents.payload[p].eq(read.data),
            ]
            with m.If(adding):
                m.d.comb += [write.addr.eq(add_index), write.data.eq(read.data + add_weight),
                             write.en.eq(1)]
            with m.Elif(sweeping):
                m.d.comb += [write.addr.eq(sweep_row), write.data.eq(0), write.en.eq(1)]
        return m
