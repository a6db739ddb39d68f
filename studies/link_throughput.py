"""``spikefab throughput``: images per second end to end through the host link, beside the
compute-only µs per image, for the digits and MNIST demo networks on each board.

What a user with a board gets is not the accelerator's compute latency: every input spike
crosses the UART (a byte per event in ``SPIKES`` frames, two in ``EVENTS`` frames, plus
framing, in request/reply frames of at most 512 bytes), so the link sets the pace. This study
measures that figure the way a user meets it:

1. the demo's network (digits: :data:`~spikefab.model.DIGITS`, trained as ``make demo``
   trains it; MNIST: the MNIST demo's 784-128-10 LIF, T = 25, trained as
   ``make demo DEMO_ARGS="--dataset mnist"`` trains it, or read from its ``network.npz``)
   and the first ``images`` test images, rate coded as the demos code them;
2. the board top :func:`spikefab.boards.build.board_top` builds for ``spikefab synth`` (the
   demo's configuration for that board, the board's memory rule, the UART divisor of the
   board clock and the baud rate), its :class:`~spikefab.boards.link.HostLink` — the RTL
   the bitstream is synthesized from, inside the pins — written to Verilog and built with
   Verilator (:mod:`spikefab.sim.link_verilator`: simulated time at the board clock, the UART
   cycle-exact, bit by bit on both lines);
3. the real host driver exactly as ``spikefab run`` uses it: ``Device(port)`` (its session
   opens with ``RESET``), ``check``, ``load``, then ``infer`` of every image; the images/s
   end to end are ``images / (simulated time of infer)``;
4. every answer checked: class and counts equal to the golden model
   (:func:`spikefab.model.simulate`), the result's cycle count equal to the cycle model fed
   with the ``SPIKES`` (or ``EVENTS``) frames at the cycles the host sent them
   (:func:`spikefab.sim.gatesim.board.board_cycle_model`);
5. the split of one image's time: bytes up (host to device) and down, requests (round
   trips), the time on the line (bytes x 10 bits x divisor), and the rest (the device
   checking frames, pushing events the accelerator is still busy with, the compute after the
   last event); beside it the **compute-only** latency: the cycle model's cycles of each
   image alone (first input event to result) at the board clock, the figure the demos and
   ``spikefab synth`` report.

Simulated time leaves out what the host computer and USB add per round trip (USB frames,
the bridge's latency timer): :attr:`LinkThroughput.requests` says how many round trips an
image takes, so that cost can be added for a given host.
"""

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

__all__ = ["DEMOS", "MNIST", "LinkThroughput", "demo_setup", "measure", "plan_rows", "run",
           "table_rows"]

DEMOS = ("digits", "mnist")

#: The MNIST demo's network and configurations (:class:`spikefab.studies.mnist_demo.MnistDemo`
#: and its iCEBreaker build; a study does not import another, tests check they agree).
MNIST = {"hidden": 128, "w_bits": 4, "density": 1.0, "steps": 25, "lanes": 128,
         "sweep_lanes": 8, "format": "dense", "icebreaker": (8, 2), "seed": 0}


@dataclass
class LinkThroughput:
    """One network's images through one board's host link (simulated, cycle-exact).

    Members
    -------
    board, demo : str
    baud, divisor : int
        The UART rate and clock cycles per bit (board clock / baud).
    clock_mhz : float
        The clock the simulation runs at: the board oscillator, or the PLL clock the board
        top was built for (``pll``; the PLL itself is not simulated).
    images, steps : int
        Images run (each through ``Device.infer``) and their time steps T.
    configuration : str
        The hardware configuration (:meth:`~spikefab.model.HardwareConfig.describe`).
    cycles : float
        Simulated board-clock cycles per image, end to end: from the host's first ``EVENTS``
        frame to the last ``RESULT`` reply, averaged over the images.
    up_bytes, down_bytes, requests : float
        Per image: bytes host to device, device to host, and requests (round trips).
    line_cycles : float
        Per image: the cycles those bytes take on the line (``10 * divisor`` each).
    compute_cycles : float
        The cycle model's cycles of each image alone (first input event to result), mean:
        the compute-only latency.
    classes, counts, result_cycles : int
        Images whose class, counts (golden model) and result cycle (cycle model fed the
        frames as sent) the device answered exactly.
    load_requests, load_seconds : int, float
        The ``LOAD`` of the weights before the images (once per session; not in the
        images/s): requests and simulated seconds.
    pixels : int
        Inputs per image (the network's first layer): the bytes an image would take as
        8-bit pixels.
    sim_seconds : float
        Wall-clock seconds the simulation of ``infer`` took on the machine that ran it.
    pll : bool
        The board ran at a PLL clock (``clock_mhz``), not its oscillator.
    events : bool
        The driver sent two-byte ``EVENTS`` frames and a ``RESULT`` request per image
        (protocol version 3's way; ``spikefab throughput --events``), not ``SPIKES``/``INFER``.
    encoder : str
        ``""``, or the on-chip encoder the images went through as ``PIXELS`` (``spikefab
        throughput --pixels``), e.g. ``"rate, k = 8"``; ``compute_cycles`` then count from
        the encoder's start.
    """

    board: str
    demo: str
    baud: int
    divisor: int
    clock_mhz: float
    images: int
    steps: int
    configuration: str
    cycles: float
    up_bytes: float
    down_bytes: float
    requests: float
    line_cycles: float
    compute_cycles: float
    classes: int
    counts: int
    result_cycles: int
    load_requests: int
    load_seconds: float
    sim_seconds: float
    pixels: int = 0
    pll: bool = False
    events: bool = False
    encoder: str = ""

    @property
    def agree(self):
        """Every image's class, counts and result cycle as the golden and cycle models."""
        return self.classes == self.counts == self.result_cycles == self.images

    @property
    def images_per_second(self):
        """End to end through the host link (simulated time at the board clock)."""
        return self.clock_mhz * 1e6 / self.cycles

    @property
    def ms_per_image(self):
        """End to end, in ms."""
        return self.cycles / (self.clock_mhz * 1e3)

    @property
    def line_ms(self):
        return self.line_cycles / (self.clock_mhz * 1e3)

    @property
    def rest_ms(self):
        """End to end minus the line: the device's frame checks, event pushes behind busy
        layers and the compute after the last event (what the line does not hide)."""
        return self.ms_per_image - self.line_ms

    @property
    def compute_us(self):
        """Compute only: the cycle model's cycles of an image alone at the board clock."""
        return self.compute_cycles / self.clock_mhz

    def to_json(self):
        out = asdict(self)
        out.update(images_per_second=self.images_per_second, ms_per_image=self.ms_per_image,
                   line_ms=self.line_ms, rest_ms=self.rest_ms, compute_us=self.compute_us,
                   agree=self.agree)
        return out


def demo_setup(demo, images, *, network=None, epochs=None, encoder=None, steps=None):
    """``(network, configs, trains)`` of a demo: the trained network (or the one saved in
    ``network``, a ``.npz`` of :meth:`~spikefab.model.Network.save`), the demo's hardware
    configuration per board name, and the first ``images`` test images, coded as the
    demo codes them (``[images, T, inputs]``), or by ``encoder`` (``"rate"`` or
    ``"latency"``) over ``steps`` (default the demo's T) for a saved network trained so.
    ``epochs``: MNIST training epochs (default the demo's); the bytes on the link depend on
    the images and their code only, the compute cycles on the network too."""
    from spikefab.hw.accelerator import hardware_config
    from spikefab.model import (DIGITS, HardwareConfig, Network, encode_images, load_dataset,
                                mlp_network, to_intensity, train_mlp)

    if demo not in DEMOS:
        raise ValueError(f"demo = {demo!r} is not allowed; choose one of "
                         f"{', '.join(map(repr, DEMOS))}")
    if not isinstance(images, int) or not 1 <= images <= 1000:
        raise ValueError(f"images = {images!r} is out of range; allowed range is [1, 1000]")
    if demo == "digits":
        x_train, x_test, y_train, _ = load_dataset("digits")
        if network is None:
            mlp, _ = train_mlp(x_train, y_train, hidden=DIGITS["hidden"],
                               density=DIGITS["density"], lanes=DIGITS["lanes"])
            network = mlp_network(mlp, x_train, w_bits=DIGITS["w_bits"],
                                  density=DIGITS["density"], lanes=DIGITS["lanes"])
        else:
            network = Network.load(network)
        config = HardwareConfig.uniform(network, lanes=DIGITS["lanes"], format=DIGITS["format"],
                                        queue_depth=16)
        trains = encode_images(x_test[:images], steps or DIGITS["steps"],
                               encoder or DIGITS["encoder"])
        return network, {"icebreaker": config, "ulx3s": config, "orangecrab": config}, trains
    split = load_dataset("mnist")
    if network is None:
        from spikefab.model.train import TrainConfig, train_snn
        options = TrainConfig(hidden=(MNIST["hidden"],), steps=MNIST["steps"],
                              w_bits=MNIST["w_bits"], density=MNIST["density"],
                              seed=MNIST["seed"],
                              **({} if epochs is None else {"epochs": epochs}))
        network = train_snn(to_intensity(split.x_train), split.y_train, options).network
    else:
        network = Network.load(network)
    ecp5 = hardware_config(network, MNIST["lanes"], MNIST["sweep_lanes"], MNIST["format"])
    lanes, sweep = MNIST["icebreaker"]
    ice40 = HardwareConfig.uniform(network, lanes=lanes, sweep_lanes=sweep,
                                   format=MNIST["format"], timing=ecp5.timing)
    trains = encode_images(split.x_test[:images], steps or MNIST["steps"], encoder or "rate")
    return network, {"icebreaker": ice40, "ulx3s": ecp5, "orangecrab": ecp5}, trains


class _Counted:
    """A port that counts the bytes each way and logs every request frame with the simulated
    cycle at which the host wrote it."""

    def __init__(self, port):
        self.port = port
        self.frames, self.read_bytes = [], 0

    def write(self, data):
        self.frames.append((self.port.cycles, bytes(data)))
        return self.port.write(data)

    def read(self, size=1):
        data = self.port.read(size)
        self.read_bytes += len(data)
        return data

    def __getattr__(self, name):
        return getattr(self.port, name)


def demo_pixels(demo, images):
    """The first ``images`` test images of ``demo`` as 8-bit intensities ``[images, inputs]``
    (what :func:`demo_setup` encodes; what ``PIXELS`` frames carry)."""
    from spikefab.model import load_dataset, to_intensity
    return to_intensity(load_dataset("digits" if demo == "digits" else "mnist")[1][:images])


def measure(board, network, config, trains, *, demo="", baud=None, cache_dir=None,
            progress=False, clock_mhz=None, compact=None, pixels=None, encoder=None):
    """Run ``trains`` (``[B, T, N0]``) through ``board``'s host link at ``baud`` (default
    the board's :attr:`~spikefab.boards.registry.Board.default_baud`, or
    :func:`~spikefab.boards.registry.default_baud` at ``clock_mhz``) with the real host
    driver, as the module docstring says; returns a :class:`LinkThroughput`. ``clock_mhz``:
    the PLL clock of the board top (``None``: the board oscillator); the simulation runs at
    it (the PLL itself is not simulated). ``pixels`` (``[B, N0]`` intensities) and
    ``encoder`` (the :class:`~spikefab.boards.link.HostLink` ``encoder``, whose code of
    ``pixels`` must be ``trains``): the board top gets the on-chip encoder and the driver
    sends the images as ``PIXELS`` (:meth:`~spikefab.boards.host.Device.infer_pixels`)."""
    from spikefab.boards.build import board_top
    from spikefab.boards.host import Device
    from spikefab.boards.link import offered_frames
    from spikefab.boards.registry import get_board
    from spikefab.hw.elaboration import never_elaborated
    from spikefab.model import cycle_model, simulate
    from spikefab.model.simulate import check_inputs
    from spikefab.sim.gatesim.board import board_cycle_model
    from spikefab.sim.link_verilator import (VerilatorSerial, build, default_cache_dir,
                                             hostlink_design)
    from spikefab.toolchain.progress import stage

    spec = get_board(board)
    trains, _ = check_inputs(network, trains)    # spikes, or a direct network's values
    steps = trains.shape[1]
    run_mhz = spec.clock_mhz if clock_mhz is None else clock_mhz
    clock_hz = run_mhz * 1e6
    top = board_top(spec, network, config, baud=baud, max_steps=steps, clock_mhz=clock_mhz,
                    encoder=encoder)
    link = top.link_for(clock_hz)
    never_elaborated(top)                     # its host link is what gets simulated
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    with stage(f"writing the {spec.title} host link's Verilog"):
        design = hostlink_design(link, cache / "sources", name="link")
    model = build(replace(design, clock_hz=clock_hz), cache_dir=cache)

    golden = simulate(network, trains)
    if encoder is None:
        compute = [int(cycle_model(network, simulate(network, t[None]), config).latency[0])
                   for t in trains]
    else:                          # from the encoder's start, its events as it offers them
        from spikefab.model.encoders import encoder_schedule
        compute = []
        for t, x in zip(trains, pixels):
            delays = encoder_schedule(x, **encoder)
            report = cycle_model(network, simulate(network, t[None]), config,
                                 frames=[(0, len(delays), delays)])
            compute.append(int(report.finish[0]))
    began = time.perf_counter()
    # The port's timeout (simulated) is above the board's 50 ms frame timeout, as a real
    # host's 2 s is.
    with VerilatorSerial(model, timeout=0.2) as serial:
        port = _Counted(serial)
        device = Device(port)                      # the session opens with RESET
        device.check(network, config)
        start = port.cycles
        load_requests = device.load(network)
        load_seconds = (port.cycles - start) / clock_hz
        first_frame, read_before, start = len(port.frames), port.read_bytes, port.cycles
        if encoder is None:
            results = device.infer(trains, progress=progress, compact=compact)
        else:
            results = device.infer_pixels(pixels, progress=progress)
        end = port.cycles
        frames = port.frames[first_frame:]
        down = port.read_bytes - read_before
    sim_seconds = time.perf_counter() - began

    # The cycle model fed the frames as the host sent them (since the session's RESET).
    offered, _ = offered_frames(frames, link.divisor, encoder)
    finish, _, _ = board_cycle_model(network, trains, config, offered)
    up = sum(len(frame) for _, frame in frames)
    n = len(trains)
    return LinkThroughput(
        board=spec.name, demo=demo, baud=top.baud, divisor=link.divisor,
        clock_mhz=run_mhz, images=n, steps=steps, configuration=config.describe(),
        cycles=(end - start) / n, up_bytes=up / n, down_bytes=down / n,
        requests=len(frames) / n, line_cycles=(up + down) * 10 * link.divisor / n,
        compute_cycles=float(np.mean(compute)),
        classes=sum(r.cls == int(c) for r, c in zip(results, golden.predicted)),
        counts=sum(list(r.counts) == k.tolist() for r, k in zip(results, golden.counts)),
        result_cycles=sum(r.cycles == int(f) for r, f in zip(results, finish)),
        load_requests=load_requests, load_seconds=load_seconds, sim_seconds=sim_seconds,
        pixels=network.n_inputs, pll=clock_mhz is not None, events=compact is False,
        encoder="" if encoder is None else f"{encoder['kind']}, k = {encoder['scan']}")


def _board_cell(run):
    """The board, its PLL clock when it runs at one, and ``EVENTS`` when sent so."""
    notes = ([f"{run.clock_mhz:g} MHz PLL"] if run.pll else []) + (["EVENTS"] if run.events
                                                                   else []) \
        + ([f"PIXELS, {run.encoder}"] if run.encoder else [])
    return f"{run.board} ({', '.join(notes)})" if notes else run.board


def table_rows(runs):
    """The CLI's and the results page's table: one row per run, every figure labelled end to
    end or compute only."""
    header = ("board", "network", "baud", "images", "bytes up / down per image",
              "requests per image", "end to end ms per image", "end to end images/s",
              "on the line ms", "rest ms", "compute only µs per image",
              "compute only images/s", "= golden, cycle model")
    rows = [(_board_cell(r), r.demo, f"{r.baud:,}", r.images,
             f"{r.up_bytes:,.0f} / {r.down_bytes:,.0f}", f"{r.requests:,.1f}",
             f"{r.ms_per_image:,.2f}", f"{r.images_per_second:,.1f}", f"{r.line_ms:,.2f}",
             f"{r.rest_ms:,.2f}", f"{r.compute_us:,.1f}", f"{1e6 / r.compute_us:,.0f}",
             f"{min(r.classes, r.counts, r.result_cycles)}/{r.images}")
            for r in runs]
    return header, rows


def plan_rows(runs):
    """What the next steps of the link would give, by arithmetic from each run's measured split
    (not measured): images/s end to end

    * *no reply per frame* (a batch request: the host streams a sample's ``EVENTS`` frames and
      reads one reply): the bytes up and the result's reply on the line, plus the measured
      rest;
    * *and overlapped* (the next image's upload while the current one computes): the larger of
      the upload's line time and the compute-only latency;
    * *pixels up* (encoders on the chip, issue 23 §1: one byte per input, one frame), also
      overlapped: the larger of those bytes' line time and the compute-only latency.
    """
    header = ("board", "network", "baud", "measured images/s", "no reply per frame",
              "and overlapped", "pixels up, overlapped")
    rows = []
    for r in runs:
        per_byte_ms = 10 * r.divisor / (r.clock_mhz * 1e3)
        result_reply = r.down_bytes - 6 * (r.requests - 1)
        batch = (r.up_bytes + result_reply) * per_byte_ms + r.rest_ms
        overlapped = max(r.up_bytes * per_byte_ms, r.compute_us / 1e3)
        pixels = max((r.pixels + 5 + 5 + result_reply) * per_byte_ms, r.compute_us / 1e3)
        rows.append((_board_cell(r), r.demo, f"{r.baud:,}", f"{r.images_per_second:,.1f}",
                     f"{1e3 / batch:,.1f}", f"{1e3 / overlapped:,.1f}",
                     f"{1e3 / pixels:,.0f}"))
    return header, rows


def run(demos=DEMOS, boards=("icebreaker", "ulx3s", "orangecrab"), *, images=3, bauds=None,
        networks=None, epochs=None, encoder=None, steps=None, out=None, cache_dir=None,
        progress=False, clocks=None, events=False, scan=None):
    """Measure every demo on every board at each rate of ``bauds`` (``None`` in it, or
    ``bauds=None``: the board's default); ``networks``: ``{demo: path}`` of saved networks
    (else each is trained as its demo trains it, MNIST for ``epochs``, and saved as
    ``out/<demo>-network.npz`` when ``out`` is given). Returns the :class:`LinkThroughput`
    list. ``encoder`` and ``steps``: the input code and T of :func:`demo_setup`. ``clocks``:
    ``{board: MHz}``, the PLL clock of each board named (the others run at their
    oscillator), as ``spikefab synth --clock-mhz`` builds it. ``events``: the driver sends
    two-byte ``EVENTS`` frames and a ``RESULT`` per image instead of ``SPIKES``/``INFER``.
    ``scan``: build the on-chip encoder (the demo's code, or ``encoder``, over its T) scanning
    ``scan`` inputs a cycle, and send the images as ``PIXELS``."""
    from spikefab.boards.registry import default_baud
    from spikefab.model import DIGITS
    runs = []
    for demo in demos:
        saved = (networks or {}).get(demo)
        network, configs, trains = demo_setup(demo, images, network=saved, epochs=epochs,
                                              encoder=encoder, steps=steps)
        if saved is None and out is not None:        # with the code and T it was run in
            kind = encoder or (DIGITS["encoder"] if demo == "digits" else "rate")
            network.with_input(kind, trains.shape[1]).save(Path(out) / f"{demo}-network.npz")
        on_chip, pixels = None, None
        if scan is not None:
            kind = encoder or (DIGITS["encoder"] if demo == "digits" else "rate")
            on_chip = dict(kind=kind, steps=trains.shape[1], scan=scan)
            if network[0].direct:                 # its values at the layer's width
                on_chip["x_bits"] = network[0].x_bits
            pixels = demo_pixels(demo, images)
        for board in boards:
            clock = (clocks or {}).get(board)
            default = default_baud(board, clock)
            for baud in dict.fromkeys(default if b is None else b for b in bauds or (None,)):
                runs.append(measure(board, network, configs[board], trains, demo=demo,
                                    baud=baud, cache_dir=cache_dir, progress=progress,
                                    clock_mhz=clock, compact=False if events else None,
                                    pixels=pixels, encoder=on_chip))
                if progress:
                    r = runs[-1]
                    print(f"{board}, {demo}, {r.baud:,} baud: {r.images_per_second:,.1f} "
                          f"images/s end to end, {r.compute_us:,.1f} µs per image compute "
                          f"only", flush=True)
    return runs
