"""UART receiver and transmitter (8 data bits, no parity, 1 stop bit) as stream components."""

from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from spikefab.hw.params import check_int, validating

__all__ = ["UARTRx", "UARTTx"]


class UARTTx(wiring.Component):
    """Sends each byte of ``i`` as a start bit, 8 data bits (LSB first) and a stop bit, each
    ``divisor`` clock cycles long. ``i.ready`` is high while the line is idle; a byte takes
    ``10 * divisor`` cycles.

    Members
    -------
    i : ``In(stream.Signature(8))``
    tx : ``Out(1)``, idle high
    """

    def __init__(self, divisor):
        with validating(self):
            self.divisor = check_int("divisor", divisor, 2, 1 << 24)
        super().__init__({"i": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        shift = Signal(10)
        bits = Signal(range(11))
        timer = Signal(range(self.divisor))
        m.d.comb += self.i.ready.eq(bits == 0)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [shift.eq(self.i.payload << 1 | 1 << 9), bits.eq(10),
                         timer.eq(self.divisor - 1), self.tx.eq(0)]
        with m.Elif(bits != 0):
            with m.If(timer == 0):
                m.d.sync += [timer.eq(self.divisor - 1), bits.eq(bits - 1),
                             shift.eq(shift >> 1)]
                m.d.sync += self.tx.eq(shift[1] | (bits == 1))
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m


class UARTRx(wiring.Component):
    """Receives bytes from ``rx`` (synchronised with two flip-flops). A start bit is checked at
    its middle, then the data bits and the stop bit are sampled every ``divisor`` cycles. A byte
    with a bad stop bit is dropped and counts as a framing error; a byte that arrives while
    the previous one was not taken is an overrun. Both errors are sticky.

    Members
    -------
    rx : ``In(1)``
    o : ``Out(stream.Signature(8))``
        A received byte, held until taken.
    framing_error, overrun : ``Out(1)``
    """

    def __init__(self, divisor):
        with validating(self):
            self.divisor = check_int("divisor", divisor, 4, 1 << 24)
        super().__init__({"rx": In(1, init=1), "o": Out(stream.Signature(8)),
                          "framing_error": Out(1), "overrun": Out(1)})

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, line, init=1)
        timer = Signal(range(self.divisor))
        bits = Signal(range(10))
        shift = Signal(8)
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq(self.divisor // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer == 0):
                    with m.If(line):              # a glitch, not a start bit
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += [timer.eq(self.divisor - 1), bits.eq(8)]
                        m.next = "DATA"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(self.divisor - 1), shift.eq(line << 7 | shift >> 1),
                                 bits.eq(bits - 1)]
                    with m.If(bits == 1):
                        m.next = "STOP"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(~line):
                        m.d.sync += self.framing_error.eq(1)
                    with m.Elif(self.o.valid & ~self.o.ready):
                        m.d.sync += self.overrun.eq(1)
                    with m.Else():
                        m.d.sync += [self.o.payload.eq(shift), self.o.valid.eq(1)]
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
        return m
