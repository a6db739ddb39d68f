"""UART cores: the transmitter's line waveform bit by bit, the receiver decoding a line
driven by the test (with framing errors and glitches), and the two looped back."""

import random

import pytest

from spikefab.boards.uart import UARTRx, UARTTx

from ..hw.simulate import run


def line_bits(byte):
    return [0] + [(byte >> b) & 1 for b in range(8)] + [1]


def test_transmitter_waveform():
    dut = UARTTx(divisor=5)
    sampled = []

    async def testbench(ctx):
        assert ctx.get(dut.tx) == 1 and ctx.get(dut.i.ready)
        ctx.set(dut.i.payload, 0b1011_0010)
        ctx.set(dut.i.valid, 1)
        await ctx.tick()
        ctx.set(dut.i.valid, 0)
        for _ in range(10 * 5):
            sampled.append(ctx.get(dut.tx))
            assert not ctx.get(dut.i.ready)
            await ctx.tick()
        assert ctx.get(dut.i.ready) and ctx.get(dut.tx) == 1

    run(dut, testbench)
    assert [sampled[k * 5 + 2] for k in range(10)] == line_bits(0b1011_0010)
    assert all(len(set(sampled[k * 5:(k + 1) * 5])) == 1 for k in range(10))  # whole bits


def drive_line(bits, divisor):
    """Cycle-by-cycle line levels for a list of bit values of ``divisor`` cycles each."""
    return [bit for bit in bits for _ in range(divisor)]


@pytest.mark.parametrize("divisor", [4, 7, 16])
def test_receiver_decodes_bytes_and_flags_framing_errors(divisor):
    dut = UARTRx(divisor=divisor)
    rng = random.Random(divisor)
    data = [rng.randrange(256) for _ in range(12)]
    bad = line_bits(0x3C)
    bad[-1] = 0                                    # a stop bit of 0: dropped, framing error
    cycles = drive_line([1] * 2, divisor)
    for byte in data[:6]:
        cycles += drive_line(line_bits(byte), divisor)
    cycles += drive_line(bad + [1] * 3, divisor)
    cycles += [0] + [1] * (2 * divisor)            # a one-cycle glitch: not a start bit
    for byte in data[6:]:
        cycles += drive_line(line_bits(byte) + [1], divisor)
    cycles += [1] * (4 * divisor)
    received = []

    async def testbench(ctx):
        ctx.set(dut.o.ready, 1)
        for level in cycles:
            ctx.set(dut.rx, level)
            if ctx.get(dut.o.valid):
                received.append(ctx.get(dut.o.payload))
            await ctx.tick()
        assert ctx.get(dut.framing_error) and not ctx.get(dut.overrun)

    run(dut, testbench)
    assert received == data


def test_overrun_is_flagged():
    dut = UARTRx(divisor=4)

    async def testbench(ctx):
        for level in drive_line(line_bits(1) + line_bits(2) + [1, 1], 4):
            ctx.set(dut.rx, level)
            await ctx.tick()
        assert ctx.get(dut.overrun) and ctx.get(dut.o.valid) and ctx.get(dut.o.payload) == 1

    run(dut, testbench)


@pytest.mark.parametrize("kwargs, message", [(dict(divisor=1), r"divisor = 1 .*\[2, 16777216\]")])
def test_divisor_is_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        UARTTx(**kwargs)
    with pytest.raises(ValueError, match=r"divisor = 3 .*\[4, 16777216\]"):
        UARTRx(divisor=3)
