"""Energy per inference, **as an estimate**: counted operations × cited per-operation energies,
plus static power × time.

Nothing here is measured. The result is an order-of-magnitude figure for design-space
exploration (which configuration spends less energy per inference, and on what), built from
three things, each of which can be checked on its own:

1. **Operation counts** (:func:`operation_counts`), per inference (batch totals divided by the
   number of samples; floats). They come from the performance counters the hardware keeps
   and the cycle model predicts exactly (:class:`~spikefab.model.LayerCycles`: ``events``,
   ``words``, ``synaptic_updates``, ``busy``, ``stall``), from the weight-memory layout
   (:func:`~spikefab.model.compile_weights`: the width of each memory) and from the event
   rule of :func:`spikefab.model.events.event_stream` (per sample, each queue carries its
   SPIKE events, one ``STEP`` per step and one ``SAMPLE``).
2. **Per-bit energies** (:class:`EnergyTable`), each with its citation and the exact figure
   used (below), priced on the bits each operation moves or computes.
3. **Static power** of the board's device (:attr:`EnergyTable.static_mw`) × the time of an
   inference at the chosen clock, ``report.total / samples`` cycles (the batch run back to
   back) over ``clock_mhz``.

The operation model (layer ``l`` with ``N`` neurons, fan-in ``F``, ``P`` lanes, ``T`` steps)
---------------------------------------------------------------------------------------------
Per inference, with ``E`` the SPIKE events layer ``l`` consumes:

``queue``
    The event queue in front of the layer: ``E + T + 1`` pushes (spikes, ``STEP`` markers, the
    ``SAMPLE`` marker) written and as many pops read, each an entry of ``2 + addr_bits(F)``
    bits (:class:`spikefab.hw.events.EventLayout`). The input layer's pushes are the source's.
``weights``
    The weight words read (the ``words`` counter: a sparse core streams each spiking column's
    words, the dense baseline every column every step), each the width of the layer's
    ``weights`` memory (``P × w_bits`` for dense and bitmap, ``P × (1 + index_bits + w_bits)``
    for csc).
``pointers``
    csc and bitmap: one pointer word (``start_bits + length_bits``) read per event; bitmap also
    one bitmap word (``P × rows``) per event. None for dense. A convolutional layer on the
    convolution core (format ``kernel``, :mod:`spikefab.model.kernel_image`): one decode-table
    entry (``decode_bits``) read per event, priced here; its kernel words (``P × w_bits``) are
    the ``weights`` above, and its sweep is priced as ``T × N`` updates of its ``N`` real
    neurons (the skipping sweep visits fewer; its padding channels more), an approximation.
``accumulate``
    One synaptic update per non-zero weight reached (the ``synaptic_updates`` counter): the
    accumulator is read, added to and written, ``acc_bits =``
    :func:`~spikefab.hw.pe_array.accumulator_bits` each. Zero and invalid lanes are assumed
    gated (not priced).
``sweep``
    ``T × N`` neuron updates, the LIF core's datapath (:mod:`spikefab.hw.lif_core`) at its
    internal width ``W = max(v_bits, acc_bits) + 3``: read and clear the current (``acc_bits``
    read + written), read and write the membrane (``v_bits`` each), read the bias (``v_bits``)
    and add it (``W`` bits) when the layer has one, read and write the refractory bit
    (``delayed`` timing), the leak (``shift``: a ``v_bits + 1``-bit subtract; ``mul``: a
    ``v_bits × (f + 1)`` multiply), the sum (``W + 1`` bits), the delayed subtract reset or the
    immediate subtract (``W + 1`` bits each, when used) and three compares of ``W + 1`` bits
    (the clamp's two, the threshold). Plus ``N`` clears per inference (``SAMPLE``): the current
    read and cleared, the membrane (and refractory bit) written.

Energy of an operation = bits read × ``memory_read_bit`` + bits written × ``memory_write_bit``
+ add bits × ``add_bit`` + compare bits × ``compare_bit`` + multiply bits² × ``multiply_bit2``.
Every bit accessed is priced as if it switched: the estimate does not model data-dependent
toggle rates.

What it leaves out
------------------
The clock tree and the control logic's toggling every cycle (in practice a large share of an
FPGA's dynamic power, so the dynamic part is low), routing beyond the FPGA factor below, the
spike emitter's registers and compaction, the readout's counters, the host link (UART) and I/O,
the board (regulators, oscillator, LEDs, USB bridge), the difference between block RAM,
SPRAM, LUT RAM and flip-flops (every stored bit is priced as block RAM), and voltage and
temperature. The static figure is the device's typical standby core supply, at 25 °C.

The default table (:data:`DEFAULT_TABLE`)
-----------------------------------------
Per-operation energies are 45 nm ASIC figures from Horowitz (ISSCC 2014, 45 nm, 0.9 V), close
in process to the 40 nm iCE40 UltraPlus and ECP5 (whose cores run at 1.2 V and 1.1 V; the
voltage difference, about (1.2 / 0.9)² ≈ 1.8× more per switched capacitance, is *not*
applied):

* ``memory_read_bit``, ``memory_write_bit``: 10 pJ for a 64-bit access of an 8 KB SRAM
  → 0.15625 pJ/bit. Horowitz gives one figure per access; using it for writes too is an
  assumption. Block RAM is a hard SRAM macro in the FPGA, so no FPGA factor is applied (an
  assumption: Kuon & Rose report that hard blocks shrink the FPGA/ASIC gap but give no
  memory-only ratio that this work confirmed).
* ``add_bit``: 0.1 pJ for a 32-bit integer add → 0.003125 pJ/bit, × 14 (FPGA fabric) =
  0.04375 pJ/bit.
* ``compare_bit``: priced as an add bit (a compare is a subtract's carry chain; assumption).
* ``multiply_bit2``: 3.1 pJ for a 32-bit integer multiply → 3.1 / 32² pJ per bit², × 14.
* FPGA factor 14: Kuon & Rose (IEEE TCAD 2007) measured a 90 nm FPGA against 90 nm standard
  cells: "the dynamic power consumption ratio is approximately 14 times" for circuits of LUT
  logic and flip-flops.

Horowitz's figures were confirmed here through a secondary source that reproduces his table
(8-bit add 0.03 pJ, 32-bit add 0.1 pJ, 32-bit multiply 3.1 pJ, 8 KB / 32 KB / 1 MB SRAM
10 / 20 / 100 pJ per 64-bit access), not from the paper itself.

Static power (``static_mw``, by device):

* ``iCE40UP5K``: the iCE40 UltraPlus data sheet (FPGA-DS-02008) states "as low as 100 µA
  standby current typical"; × the 1.2 V nominal core supply = 0.12 mW (a published bench
  measurement of a minimally clocked UP5K design, 96.3 µA at 1.219 V on the core, agrees:
  tinyvision.ai, "Lattice iCE40 FPGA Power series").
* ``LFE5U-25F`` and ``LFE5U-85F``: **not confirmed.** Assumed typical standby core currents of
  77 mA and 212 mA at 1.1 V (84.7 mW and 233.2 mW), recalled from the ECP5 and ECP5-5G family
  data sheet's (FPGA-DS-02012) standby supply-current table but not found in any source this
  work could read. With them, static energy dominates on ECP5 boards at their board clocks;
  replace them with the Lattice Power Calculator's figure for a real design
  (:meth:`EnergyTable.from_values` builds a table with other numbers).

Published comparison figures (:data:`PUBLISHED`, pJ per synaptic operation) are measured or
simulated on neuromorphic ASICs and measure different things (see each entry's ``measures``):
compare the *total* pJ/SOP here with TrueNorth's all-in figure, the *dynamic* one with the
minimum per-operation figures of ODIN and Loihi, and keep the factors of process, voltage and
what is included in mind.

>>> import numpy as np
>>> from spikefab.model import HardwareConfig, Layer, Network, cycle_model, simulate
>>> net = Network([Layer(np.array([[1, 0], [2, 3]]), theta=2, w_bits=4, v_bits=8)])
>>> result = simulate(net, np.array([[1, 1], [0, 1]]))
>>> config = HardwareConfig.uniform(net, lanes=2)
>>> report = cycle_model(net, result, config)
>>> estimate = estimate_energy(net, config, report, samples=1, steps=2, board="icebreaker")
>>> estimate.synaptic_operations      # column 0 reaches 2 synapses, column 1 one, twice
4.0
>>> round(estimate.static_pj, 3) == round(0.12 * report.total / 12.0 * 1e3, 3)
True
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType

from spikefab.boards.registry import Board, get_board
from spikefab.hw.events import addr_bits_for
from spikefab.hw.pe_array import accumulator_bits
from spikefab.model import CycleReport, HardwareConfig, Network, compile_weights
from spikefab.model.kernel_image import KERNEL_FORMAT, compile_kernel
from spikefab.model.checks import check_instance, check_int, check_number

__all__ = ["CLASSES", "DEFAULT_TABLE", "FPGA_DYNAMIC_FACTOR", "PUBLISHED", "BitOps", "Cited",
           "EnergyEstimate", "EnergyTable", "LayerOperations", "OperationCounts", "Published",
           "estimate_energy", "operation_counts"]

#: The operation classes the dynamic energy is split into (module doc).
CLASSES = ("queue", "weights", "pointers", "accumulate", "sweep")

#: Largest clock accepted, in MHz (far above any iCE40 or ECP5 design).
CLOCK_RANGE_MHZ = (0, 10_000)
#: Largest sample or step count accepted.
COUNT_MAX = 1 << 40


@dataclass(frozen=True)
class Cited:
    """A figure and where it comes from.

    Members
    -------
    value : float
        The figure in ``unit``.
    unit : str
        ``"pJ/bit"``, ``"pJ/bit^2"`` or ``"mW"``.
    citation : str
        Author(s), title, venue, year.
    figure : str
        The exact figure used, how ``value`` follows from it, and how far it was confirmed
        (or the assumption, stated plainly).
    """

    value: float
    unit: str
    citation: str
    figure: str

    def __post_init__(self):
        object.__setattr__(self, "value", check_number("value", self.value, 0, math.inf))
        for name in ("unit", "citation", "figure"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{name} must be a str, not {getattr(self, name)!r}")

    def to_json(self):
        return {"value": self.value, "unit": self.unit, "citation": self.citation,
                "figure": self.figure}


HOROWITZ_2014 = ("M. Horowitz, \"1.1 Computing's energy problem (and what we can do about it)\", "
                 "IEEE International Solid-State Circuits Conference (ISSCC), Digest of "
                 "Technical Papers, pp. 10-14, 2014 (45 nm, 0.9 V)")
KUON_ROSE_2007 = ("I. Kuon and J. Rose, \"Measuring the Gap Between FPGAs and ASICs\", IEEE "
                  "Transactions on Computer-Aided Design of Integrated Circuits and Systems, "
                  "vol. 26, no. 2, pp. 203-215, 2007 (90 nm FPGA vs 90 nm standard cells)")
ICE40UP_DATASHEET = ("Lattice Semiconductor, \"iCE40 UltraPlus Family Data Sheet\", "
                     "FPGA-DS-02008, v1.9, December 2020")
ECP5_DATASHEET = ("Lattice Semiconductor, \"ECP5 and ECP5-5G Family Data Sheet\", "
                  "FPGA-DS-02012")

#: FPGA/ASIC dynamic power ratio for LUT logic and flip-flops (Kuon & Rose 2007, abstract:
#: "the dynamic power consumption ratio is approximately 14 times").
FPGA_DYNAMIC_FACTOR = 14.0

_SECONDARY = ("confirmed through a secondary source reproducing Horowitz's table, not from "
              "the paper itself")


@dataclass(frozen=True, eq=False)
class EnergyTable:
    """Per-operation energies (pJ) and static power (mW), each a :class:`Cited` figure.

    Members
    -------
    memory_read_bit, memory_write_bit : Cited
        pJ per bit read from / written to on-chip memory (block RAM; every stored bit is
        priced so).
    add_bit : Cited
        pJ per bit of an integer add or subtract in FPGA fabric.
    compare_bit : Cited
        pJ per bit of a magnitude compare.
    multiply_bit2 : Cited
        pJ per bit² of an integer multiply (``a`` × ``b`` bits costs ``a·b`` of these).
    static_mw : Mapping of str to Cited
        Static power in mW by device (``Board.device``, e.g. ``"iCE40UP5K"``) or, as a
        fallback, by family (``"ice40"``, ``"ecp5"``).
    """

    memory_read_bit: Cited
    memory_write_bit: Cited
    add_bit: Cited
    compare_bit: Cited
    multiply_bit2: Cited
    static_mw: Mapping

    def __post_init__(self):
        for name in ("memory_read_bit", "memory_write_bit", "add_bit", "compare_bit",
                     "multiply_bit2"):
            if not isinstance(getattr(self, name), Cited):
                raise TypeError(f"{name} must be a Cited figure, not "
                                f"{type(getattr(self, name)).__name__}")
        if not isinstance(self.static_mw, Mapping) or not self.static_mw or not all(
                isinstance(k, str) and isinstance(v, Cited) for k, v in self.static_mw.items()):
            raise TypeError("static_mw must be a non-empty mapping of device or family name to "
                            f"a Cited figure in mW, not {self.static_mw!r}")
        object.__setattr__(self, "static_mw", MappingProxyType(dict(self.static_mw)))

    @classmethod
    def from_values(cls, *, memory_read_bit, memory_write_bit, add_bit, compare_bit,
                    multiply_bit2, static_mw, citation="user-supplied figures"):
        """A table of plain numbers (pJ, and mW by device or family), all with one
        ``citation`` — for what-if studies and for checking the arithmetic by hand."""
        def cite(name, value, unit):
            return Cited(check_number(name, value, 0, math.inf), unit, citation, "as given")
        if not isinstance(static_mw, Mapping):
            raise TypeError(f"static_mw must be a mapping of device or family name to mW, "
                            f"not {static_mw!r}")
        return cls(cite("memory_read_bit", memory_read_bit, "pJ/bit"),
                   cite("memory_write_bit", memory_write_bit, "pJ/bit"),
                   cite("add_bit", add_bit, "pJ/bit"),
                   cite("compare_bit", compare_bit, "pJ/bit"),
                   cite("multiply_bit2", multiply_bit2, "pJ/bit^2"),
                   {key: cite(f"static_mw[{key!r}]", value, "mW")
                    for key, value in static_mw.items()})

    def static_power(self, board):
        """The static power :class:`Cited` figure (mW) of ``board``'s device, else its family.

        Raises ValueError naming the board and the devices and families the table knows.
        """
        board = get_board(board)
        for key in (board.device, board.family):
            if key in self.static_mw:
                return self.static_mw[key]
        raise ValueError(f"board {board.name!r}: the energy table has no static power for "
                         f"device {board.device!r} or family {board.family!r}; it knows "
                         f"{', '.join(repr(k) for k in self.static_mw)}")

    def to_json(self):
        out = {name: getattr(self, name).to_json() for name in
               ("memory_read_bit", "memory_write_bit", "add_bit", "compare_bit",
                "multiply_bit2")}
        out["static_mw"] = {key: value.to_json() for key, value in self.static_mw.items()}
        return out


def _ecp5_static(device, milliamps):
    return Cited(milliamps * 1.1, "mW", ECP5_DATASHEET,
                 f"NOT CONFIRMED: assumed typical standby core current {milliamps} mA for "
                 f"{device} at VCC = 1.1 V = {milliamps * 1.1:g} mW, recalled from the data "
                 f"sheet's standby supply-current table but not found in any source this work "
                 f"could read; replace with the Lattice Power Calculator's static figure")


#: The default table (module doc): Horowitz 45 nm figures, the fabric's × 14 on logic, data
#: sheet static power (ECP5 figures unconfirmed).
DEFAULT_TABLE = EnergyTable(
    memory_read_bit=Cited(
        10 / 64, "pJ/bit", HOROWITZ_2014,
        "64-bit access of an 8 KB SRAM: 10 pJ -> 10/64 = 0.15625 pJ/bit; block RAM is a hard "
        "SRAM macro, so no FPGA factor is applied (assumption); " + _SECONDARY),
    memory_write_bit=Cited(
        10 / 64, "pJ/bit", HOROWITZ_2014,
        "as memory_read_bit: Horowitz gives one figure per 64-bit access, taken for writes too "
        "(assumption); " + _SECONDARY),
    add_bit=Cited(
        0.1 / 32 * FPGA_DYNAMIC_FACTOR, "pJ/bit", f"{HOROWITZ_2014}; {KUON_ROSE_2007}",
        "32-bit integer add: 0.1 pJ -> 0.003125 pJ/bit (Horowitz), x 14 for FPGA fabric "
        "(Kuon & Rose: dynamic power ratio approximately 14 for LUT logic and flip-flops) = "
        "0.04375 pJ/bit; " + _SECONDARY),
    compare_bit=Cited(
        0.1 / 32 * FPGA_DYNAMIC_FACTOR, "pJ/bit", f"{HOROWITZ_2014}; {KUON_ROSE_2007}",
        "priced as an add bit (a compare is a subtract's carry chain; assumption) = "
        "0.04375 pJ/bit"),
    multiply_bit2=Cited(
        3.1 / 32 ** 2 * FPGA_DYNAMIC_FACTOR, "pJ/bit^2", f"{HOROWITZ_2014}; {KUON_ROSE_2007}",
        "32-bit integer multiply: 3.1 pJ -> 3.1/32^2 pJ per bit^2, x 14 for FPGA fabric "
        "(an overestimate where the multiply maps to a hard DSP) = 0.04238 pJ/bit^2; "
        + _SECONDARY),
    static_mw={
        "iCE40UP5K": Cited(
            0.1 * 1.2, "mW", ICE40UP_DATASHEET,
            "\"as low as 100 uA standby current typical\" x 1.2 V nominal core supply "
            "= 0.12 mW (core only, 25 C; a published bench measurement of a minimally clocked "
            "UP5K design, 96.3 uA at 1.219 V on the core, agrees: tinyvision.ai, \"Lattice "
            "iCE40 FPGA Power series\")"),
        "LFE5U-25F": _ecp5_static("LFE5U-25F", 77),
        "LFE5U-85F": _ecp5_static("LFE5U-85F", 212),
    },
)


@dataclass(frozen=True)
class Published:
    """A published energy per synaptic operation, and what it measures."""

    name: str
    pj_per_sop: float
    citation: str
    measures: str

    def to_json(self):
        return {"name": self.name, "pj_per_sop": self.pj_per_sop, "citation": self.citation,
                "measures": self.measures}


#: Published pJ per synaptic operation of digital neuromorphic chips, for comparison.
PUBLISHED = MappingProxyType({
    "ODIN": Published(
        "ODIN", 12.7,
        "C. Frenkel, M. Lefebvre, J.-D. Legat and D. Bol, \"A 0.086-mm2 12.7-pJ/SOP "
        "64k-Synapse 256-Neuron Online-Learning Digital Spiking Neuromorphic Processor in "
        "28-nm CMOS\", IEEE Transactions on Biomedical Circuits and Systems, vol. 13, no. 1, "
        "2019 (DOI 10.1109/TBCAS.2018.2880425)",
        "the minimum energy per synaptic operation of the chip, measured silicon, 28 nm "
        "FDSOI (abstract); 0.55 V is the supply the abstract gives for its 15 nJ/inference "
        "MNIST figure; that the 12.7 pJ point is at 0.55 V, and whether it includes leakage, "
        "was not confirmed here"),
    "Loihi": Published(
        "Loihi", 23.6,
        "M. Davies et al., \"Loihi: A Neuromorphic Manycore Processor with On-Chip "
        "Learning\", IEEE Micro, vol. 38, no. 1, pp. 82-99, 2018",
        "the minimum energy of one synaptic spike operation, 14 nm, at the nominal 0.75 V, "
        "from the paper's table of energy figures; secondary sources disagree on whether that "
        "table is pre-silicon (simulated); not confirmed against the paper here"),
    "TrueNorth": Published(
        "TrueNorth", 26.0,
        "P. A. Merolla et al., \"A million spiking-neuron integrated circuit with a scalable "
        "communication network and interface\", Science, vol. 345, no. 6197, pp. 668-673, 2014",
        "total chip energy (active and static) per synaptic event at one operating point "
        "(20 Hz mean firing, 128 active synapses per neuron, 0.775 V), 28 nm: an all-in "
        "average that includes static power (as secondary sources quoting the paper state; "
        "the paper itself was not read here)"),
})


@dataclass(frozen=True)
class BitOps:
    """Bit operations: bits read from and written to memory, bits of adds and of compares,
    and bits² of multiplies. Scales by a count (``ops * 3.5``) and adds up (``a + b``)."""

    read: float = 0.0
    write: float = 0.0
    add: float = 0.0
    compare: float = 0.0
    multiply: float = 0.0

    def __mul__(self, count):
        return BitOps(*(getattr(self, f.name) * count for f in fields(self)))

    __rmul__ = __mul__

    def __add__(self, other):
        return BitOps(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def pj(self, table):
        """Their energy in pJ under ``table``."""
        return (self.read * table.memory_read_bit.value
                + self.write * table.memory_write_bit.value
                + self.add * table.add_bit.value
                + self.compare * table.compare_bit.value
                + self.multiply * table.multiply_bit2.value)

    def to_json(self):
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _neuron_ops(layer, acc_bits):
    """The bit operations of one neuron update and of one clear (module doc, ``sweep``)."""
    v, width = layer.v_bits, max(layer.v_bits, acc_bits) + 3
    has_bias = bool(layer.bias.any())
    delayed = layer.timing == "delayed"
    subtract = layer.reset == "subtract"
    read = acc_bits + v + (v if has_bias else 0) + (1 if delayed else 0)
    write = acc_bits + v + (1 if delayed else 0)
    add = (width if has_bias else 0) + (width + 1)
    add += {"shift": v + 1, "mul": 0, "none": 0}[layer.leak]
    add += (width + 1) if subtract else 0        # delayed: - r*theta; immediate: v - theta
    multiply = v * (layer.f + 1) if layer.leak == "mul" else 0
    update = BitOps(read=read, write=write, add=add, compare=3 * (width + 1), multiply=multiply)
    clear = BitOps(read=acc_bits, write=acc_bits + v + (1 if delayed else 0))
    return update, clear


@dataclass(frozen=True)
class LayerOperations:
    """One layer's operations per inference (batch totals / samples) and the widths that
    price them.

    Members
    -------
    events : float
        SPIKE events consumed (the ``events`` counter).
    queue_pushes, queue_pops : float
        Entries written into and read from the queue in front of the layer: events plus one
        ``STEP`` per step and one ``SAMPLE``.
    queue_entry_bits : int
        ``2 + addr_bits(fan_in)``.
    words : float
        Weight words read (the ``words`` counter).
    word_bits : int
        Width of the layer's ``weights`` memory.
    pointer_reads, bitmap_reads : float
        Pointer words (csc, bitmap) and bitmap words (bitmap) read, one per event.
    pointer_bits, bitmap_bits : int
        Their widths (0 when the format has none).
    synaptic_updates : float
        Accumulations of a non-zero weight (the ``synaptic_updates`` counter): the synaptic
        operations (SOPs).
    acc_bits : int
        Accumulator width.
    neuron_updates : float
        ``T × N``: every neuron is swept every step.
    neuron_clears : float
        ``N``: the clearing sweep at the end of a sample.
    neuron_update, neuron_clear : BitOps
        The bit operations of one neuron update and of one clear.
    busy_cycles, stall_cycles : float
        The core's busy and stalled cycles (the ``busy`` and ``stall`` counters).
    """

    events: float
    queue_pushes: float
    queue_pops: float
    queue_entry_bits: int
    words: float
    word_bits: int
    pointer_reads: float
    pointer_bits: int
    bitmap_reads: float
    bitmap_bits: int
    synaptic_updates: float
    acc_bits: int
    neuron_updates: float
    neuron_clears: float
    neuron_update: BitOps
    neuron_clear: BitOps
    busy_cycles: float
    stall_cycles: float

    @property
    def queue_operations(self):
        """Pushes plus pops."""
        return self.queue_pushes + self.queue_pops

    def bit_ops(self):
        """The bit operations of each class of :data:`CLASSES`, per inference."""
        acc = self.synaptic_updates * self.acc_bits
        return {
            "queue": BitOps(read=self.queue_pops * self.queue_entry_bits,
                            write=self.queue_pushes * self.queue_entry_bits),
            "weights": BitOps(read=self.words * self.word_bits),
            "pointers": BitOps(read=self.pointer_reads * self.pointer_bits
                               + self.bitmap_reads * self.bitmap_bits),
            "accumulate": BitOps(read=acc, write=acc, add=acc),
            "sweep": (self.neuron_update * self.neuron_updates
                      + self.neuron_clear * self.neuron_clears),
        }

    def to_json(self):
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["neuron_update"] = self.neuron_update.to_json()
        out["neuron_clear"] = self.neuron_clear.to_json()
        out["queue_operations"] = self.queue_operations
        return out


@dataclass(frozen=True)
class OperationCounts:
    """Operations per inference of a batch run back to back: ``cycles`` is
    ``report.total / samples``; ``layers`` one :class:`LayerOperations` per layer."""

    samples: int
    steps: int
    cycles: float
    layers: tuple

    @property
    def synaptic_operations(self):
        """Synaptic updates (SOPs) over all layers, per inference."""
        return sum(layer.synaptic_updates for layer in self.layers)

    def to_json(self):
        return {"samples": self.samples, "steps": self.steps, "cycles": self.cycles,
                "synaptic_operations": self.synaptic_operations,
                "layers": [layer.to_json() for layer in self.layers]}


def _check_run(network, config, report, samples, steps):
    check_instance("network", network, Network)
    check_instance("config", config, HardwareConfig)
    if not isinstance(report, CycleReport):
        raise TypeError(f"report must be the CycleReport of cycle_model(network, result, "
                        f"config), not {type(report).__name__}")
    samples = check_int("samples", samples, 1, COUNT_MAX)
    steps = check_int("steps", steps, 1, COUNT_MAX)
    config.check(network)
    if len(report.layers) != len(network):
        raise ValueError(f"report has {len(report.layers)} layers, the network "
                         f"{len(network)}: pass the CycleReport of cycle_model(network, result, "
                         f"config) for this network and configuration")
    batch = len(report.finish)
    if batch != samples:
        raise ValueError(f"samples = {samples} does not match the report, which ran "
                         f"{batch} sample(s); allowed: {batch}")
    return samples, steps


def operation_counts(network, config, report, *, samples, steps):
    """Count the operations of one inference (module doc, *the operation model*).

    Returns an :class:`OperationCounts` of per-inference floats.

    Parameters
    ----------
    network : Network
    config : HardwareConfig
        The configuration ``report`` was computed for (its formats and lanes fix the word
        widths).
    report : CycleReport
        :func:`~spikefab.model.cycle_model` of ``network``, a batch of ``samples`` and
        ``config``.
    samples : int
        Samples in the batch, ``>= 1`` (must match the report).
    steps : int
        Time steps ``T`` per sample, ``>= 1`` (``SimResult.steps``).
    """
    samples, steps = _check_run(network, config, report, samples, steps)
    layers = []
    for layer, c, stats in zip(network, config.layers, report.layers):
        acc_bits = accumulator_bits(layer.w_bits, layer.fan_in)
        events = stats.events / samples
        entries = events + steps + 1
        if c.format == KERNEL_FORMAT:                      # the convolution core
            image = compile_kernel(layer, c.lanes)
            word_bits, sparse_pointers = c.lanes * layer.w_bits, True
            pointer_bits, bitmap_bits = image.decode_bits, 0
        else:
            image = compile_weights(layer, c.lanes, c.format)
            word_bits = image.memories["weights"].width
            sparse_pointers = config.mode == "sparse" and c.format in ("csc", "bitmap")
            pointer_bits = (image.memories["pointers"].width if "pointers" in image.memories
                            else 0)
            bitmap_bits = image.memories["bitmaps"].width if "bitmaps" in image.memories else 0
        update, clear = _neuron_ops(layer, acc_bits)
        layers.append(LayerOperations(
            events=events, queue_pushes=entries, queue_pops=entries,
            queue_entry_bits=2 + addr_bits_for(layer.fan_in),
            words=stats.words / samples, word_bits=word_bits,
            pointer_reads=events if sparse_pointers else 0.0, pointer_bits=pointer_bits,
            bitmap_reads=events if sparse_pointers and c.format == "bitmap" else 0.0,
            bitmap_bits=bitmap_bits,
            synaptic_updates=stats.synaptic_updates / samples, acc_bits=acc_bits,
            neuron_updates=float(steps * layer.neurons), neuron_clears=float(layer.neurons),
            neuron_update=update, neuron_clear=clear,
            busy_cycles=stats.busy / samples, stall_cycles=stats.stall / samples))
    return OperationCounts(samples=samples, steps=steps, cycles=report.total / samples,
                           layers=tuple(layers))


@dataclass(frozen=True, eq=False)
class EnergyEstimate:
    """Energy per inference, an estimate (module doc). Energies in pJ unless named otherwise.

    Members
    -------
    board, family, device : str
    clock_mhz : float
        The clock the static energy is computed at.
    counts : OperationCounts
    dynamic_pj : Mapping of str to float
        Dynamic energy per class of :data:`CLASSES`, summed over the layers.
    layer_dynamic_pj : tuple of Mapping
        The same per layer.
    static_mw : float
        The device's static power.
    static_pj : float
        ``static_mw`` × the time of an inference.
    table : EnergyTable
        The table used.
    """

    board: str
    family: str
    device: str
    clock_mhz: float
    counts: OperationCounts
    dynamic_pj: Mapping
    layer_dynamic_pj: tuple
    static_mw: float
    static_pj: float
    table: EnergyTable

    @property
    def cycles(self):
        """Cycles per inference (``report.total / samples``)."""
        return self.counts.cycles

    @property
    def time_us(self):
        """Time per inference at ``clock_mhz``, in µs."""
        return self.cycles / self.clock_mhz

    @property
    def dynamic_total_pj(self):
        return sum(self.dynamic_pj.values())

    @property
    def total_pj(self):
        return self.dynamic_total_pj + self.static_pj

    @property
    def total_uj(self):
        """Total energy per inference in µJ."""
        return self.total_pj * 1e-6

    @property
    def synaptic_operations(self):
        """Synaptic operations (non-zero synapses reached by spikes) per inference."""
        return self.counts.synaptic_operations

    @property
    def pj_per_sop(self):
        """Total (dynamic + static) pJ per synaptic operation; None without any."""
        sops = self.synaptic_operations
        return self.total_pj / sops if sops else None

    @property
    def dynamic_pj_per_sop(self):
        """Dynamic pJ per synaptic operation; None without any."""
        sops = self.synaptic_operations
        return self.dynamic_total_pj / sops if sops else None

    def comparison(self):
        """This estimate beside :data:`PUBLISHED`: rows of ``name``, ``pj_per_sop`` and
        ``measures``."""
        rows = [{"name": f"spikefab on {self.board} (estimate, total)",
                 "pj_per_sop": self.pj_per_sop,
                 "measures": f"estimated dynamic + static energy per synaptic operation at "
                             f"{self.clock_mhz:g} MHz"},
                {"name": f"spikefab on {self.board} (estimate, dynamic)",
                 "pj_per_sop": self.dynamic_pj_per_sop,
                 "measures": "estimated dynamic energy per synaptic operation"}]
        return rows + [{"name": p.name, "pj_per_sop": p.pj_per_sop, "measures": p.measures}
                       for p in PUBLISHED.values()]

    def to_json(self):
        """The estimate as a JSON-serializable dict."""
        return {
            "estimate": True,
            "note": "an estimate, not a measurement: counted operations x cited per-bit "
                    "energies + static power x time (spikefab.dse.energy documents the "
                    "model, its sources and what it leaves out)",
            "board": self.board, "family": self.family, "device": self.device,
            "clock_mhz": self.clock_mhz, "samples": self.counts.samples,
            "steps": self.counts.steps, "cycles": self.cycles, "time_us": self.time_us,
            "dynamic_pj": dict(self.dynamic_pj),
            "layer_dynamic_pj": [dict(layer) for layer in self.layer_dynamic_pj],
            "dynamic_total_pj": self.dynamic_total_pj,
            "static_mw": self.static_mw, "static_pj": self.static_pj,
            "total_pj": self.total_pj, "total_uj": self.total_uj,
            "synaptic_operations": self.synaptic_operations,
            "pj_per_sop": self.pj_per_sop, "dynamic_pj_per_sop": self.dynamic_pj_per_sop,
            "operations": self.counts.to_json(),
            "table": self.table.to_json(),
            "published": [p.to_json() for p in PUBLISHED.values()],
        }


def estimate_energy(network, config, report, *, samples, steps, board, clock_mhz=None,
                    table=DEFAULT_TABLE):
    """Estimate the energy of one inference (module doc).

    Returns an :class:`EnergyEstimate`.

    Parameters
    ----------
    network : Network
    config : HardwareConfig
        The configuration ``report`` was computed for.
    report : CycleReport
        :func:`~spikefab.model.cycle_model` of a batch of ``samples`` run back to back.
    samples : int
        Samples in the batch, ``>= 1`` (must match the report).
    steps : int
        Time steps per sample, ``>= 1`` (``SimResult.steps``).
    board : str or Board
        A board of :data:`spikefab.boards.registry.BOARDS` (its device's static power, its
        clock).
    clock_mhz : float, optional
        Clock in MHz, ``(0, 10000]``; default the board clock.
    table : EnergyTable
        Per-operation energies and static power; default :data:`DEFAULT_TABLE`.
    """
    if not isinstance(table, EnergyTable):
        raise TypeError(f"table must be a spikefab.dse.energy.EnergyTable, not "
                        f"{type(table).__name__}")
    if not isinstance(board, (str, Board)):
        raise TypeError(f"board must be a board name or a Board, not {board!r}")
    board = get_board(board)
    clock = board.clock_mhz if clock_mhz is None else check_number(
        "clock_mhz", clock_mhz, *CLOCK_RANGE_MHZ, low_open=True)
    static = table.static_power(board)
    counts = operation_counts(network, config, report, samples=samples, steps=steps)
    layer_pj = tuple(MappingProxyType({name: ops.pj(table)
                                       for name, ops in layer.bit_ops().items()})
                     for layer in counts.layers)
    dynamic = MappingProxyType({name: sum(layer[name] for layer in layer_pj)
                                for name in CLASSES})
    static_pj = static.value * (counts.cycles / clock) * 1e3      # mW x us = nJ = 1e3 pJ
    return EnergyEstimate(board=board.name, family=board.family, device=board.device,
                          clock_mhz=float(clock), counts=counts, dynamic_pj=dynamic,
                          layer_dynamic_pj=layer_pj, static_mw=static.value,
                          static_pj=static_pj, table=table)
