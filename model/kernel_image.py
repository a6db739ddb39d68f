"""The convolution core's memory image: each kernel once, and the core's neuron order
(docs/design.md §12, *Convolution core*).

A :class:`~spikefab.model.conv.ConvLayer` on the convolution core (format ``kernel``) has
``P`` lanes across its output channels: lane ``p`` owns the channels ``co ≡ p (mod P)``, so
one cycle adds ``P`` weights of one kernel tap to ``P`` channels at one output position.
With ``G = ceil(C_out / P)`` channel groups and ``HW = H_out · W_out`` positions:

* **Kernel memory.** ``G · C_in · kh · kw`` words of ``P`` weights: word
  ``g · (C_in·kh·kw) + ci · (kh·kw) + ky · kw + kx`` holds in lane ``p`` the weight
  ``K[g·P + p, ci, ky, kx]`` (0 for a padding channel ``>= C_out``). Each kernel weight is
  stored once (weight sharing).
* **Neuron order.** Neuron ``(co, oy, ox)`` (NIR index ``co·HW + oy·W_out + ox``) is the core's
  neuron ``h = (g·HW + pos)·P + p`` with ``co = g·P + p`` and ``pos = oy·W_out + ox``: PE ``p``,
  local index ``g·HW + pos``, so the ``P`` updates of a word never meet in one PE. The sweep
  walks ``h`` in chunks of ``S`` lanes and the emitter sends each spike with its NIR index,
  so a step's spikes leave in the order of ``h`` (channel group, then position, then channel).
  Padding channels are neurons that never fire (no weight, no bias, ``theta >= 1``).
* **Decode table.** An input event's NIR index ``j`` of the (pre-pool) input map becomes
  ``(ci, y, x)`` on the convolution's input map: through the non-overlapping input pool
  ``y = (y_in + py) div ky`` when a window covers it, otherwise the event reaches nothing.
  The hardware holds this table (``fan_in`` entries) instead of dividing.
* **Cost.** An event at ``(y, x)`` reaches ``R`` output positions and streams ``R · G``
  kernel words, one per cycle.
"""

from dataclasses import dataclass

import numpy as np

from .checks import check_instance, check_int
from .conv import Conv2dGeometry, ConvLayer, conv2d, sum_pool2d

__all__ = ["KERNEL_FORMAT", "KernelImage", "SWEEP_BLOCK", "compile_kernel"]

#: The weight format of a convolutional layer on the convolution core.
KERNEL_FORMAT = "kernel"
#: Output positions per block of the skipping sweep's activity flags.
SWEEP_BLOCK = 16


def _bits(n):
    """Width of an unsigned field holding ``0 .. n - 1`` (at least 1)."""
    return max(1, int(n - 1).bit_length())


@dataclass(frozen=True, eq=False)
class KernelImage:
    """A conv layer compiled for the convolution core with ``lanes`` output-channel lanes.

    Members
    -------
    layer : ConvLayer
    format : str
        ``"kernel"``.
    lanes, groups, positions, taps : int
        ``P``, ``G = ceil(C_out / P)``, ``HW = H_out · W_out`` and ``kh · kw``.
    neurons, fan_in, w_bits : int
        The layer's (NIR) neuron count, inputs and weight width.
    rows : int
        Local indices per PE, ``G · HW``; the core has ``rows · P`` neurons.
    words : int64 array ``[G · C_in · taps, P]``
        The kernel memory.
    channel, y, x : int arrays ``[fan_in]``
        The decode table: input ``j`` as ``(ci, y, x)`` on the convolution's input map.
    reaches : bool array ``[fan_in]``
        Whether input ``j`` reaches any output (inside a pool window and a stride window).
    reach : bool array ``[fan_in, positions]``
        The output positions input ``j`` reaches (its words land on them, in every group).
    event_words : int array ``[fan_in]``
        Kernel words an event on input ``j`` streams, ``R · G`` (0 when it reaches nothing).
    event_updates : int array ``[fan_in]``
        The non-zero weights among them (the synaptic updates the event causes).
    order : int array ``[rows · P]``
        NIR index of the core's neuron ``h`` (``-1`` for a padding channel).
    rank : int array ``[neurons]``
        The core's neuron ``h`` of NIR neuron ``i`` (the inverse of ``order``).
    """

    layer: ConvLayer
    lanes: int
    groups: int
    positions: int
    taps: int
    words: np.ndarray
    channel: np.ndarray
    y: np.ndarray
    x: np.ndarray
    reaches: np.ndarray
    event_words: np.ndarray
    event_updates: np.ndarray
    order: np.ndarray
    rank: np.ndarray
    reach: np.ndarray

    format = KERNEL_FORMAT

    @property
    def neurons(self):
        return self.layer.neurons

    @property
    def fan_in(self):
        return self.layer.fan_in

    @property
    def w_bits(self):
        return self.layer.w_bits

    @property
    def rows(self):
        return self.groups * self.positions

    #: The memories a host can load at run time: none (the kernel memory and the decode table
    #: are built with their contents), so the host link describes the layer with no memory.
    memories = {}
    start_bits = length_bits = 0

    @property
    def event_wait(self):
        """Per input, ``max(2, event_words) - 2``: the cycles the core waits after an event's
        decode before it may take the next one (the decode table holds it)."""
        return np.maximum(self.event_words, 2) - 2

    def decode_fields(self):
        """The decode-table entry's fields and widths: a reach bit, the channel's kernel
        offset ``tag = ci · taps``, ``y``, ``x`` on the convolution's input map and
        :attr:`event_wait`."""
        g = self.layer.geometry
        return {"reaches": 1, "tag": _bits(g.in_channels * self.taps),
                "y": _bits(g.height), "x": _bits(g.width),
                "wait": max(1, int(self.event_wait.max(initial=0)).bit_length())}

    @property
    def decode_bits(self):
        """Width of a decode-table entry (:meth:`decode_fields`)."""
        return sum(self.decode_fields().values())

    def size_breakdown(self):
        """Bits per memory: ``kernel`` (``P · w_bits`` × ``G · C_in · taps``) and ``decode``
        (``decode_bits`` × ``fan_in``)."""
        return {"kernel": self.lanes * self.w_bits * len(self.words),
                "decode": self.decode_bits * self.fan_in}

    @property
    def size_bits(self):
        """Total bits of the kernel memory and the decode table."""
        return sum(self.size_breakdown().values())

    def chunk_digits(self, sweep_lanes):
        """The sweep's chunk ``k`` (``S`` core neurons ``kS .. kS+S-1``) as mixed-radix digits
        ``(radix, stride)``, lowest first: the NIR index of the chunk's first lane is
        ``sum(digit · stride)``, and lane ``l`` adds ``l · positions``."""
        s = sweep_lanes
        return ((self.lanes // s, s * self.positions), (self.positions, 1),
                (self.groups, self.lanes * self.positions))

    @property
    def skips(self):
        """Whether the sweep skips inactive rows: only without a bias (a biased neuron
        changes with no input)."""
        return not self.layer.bias.any()

    @property
    def blocks(self):
        """Blocks of :data:`SWEEP_BLOCK` positions per channel group."""
        return -(-self.positions // SWEEP_BLOCK)

    def touched(self, trains):
        """The output positions the input spikes of each step reach, ``[B, T, positions]``
        (bool) for ``trains`` ``[B, T, fan_in]``: a position is touched when its window
        (after the input pool) holds a spike of any channel. Equal to ``trains @ reach > 0``,
        computed as a convolution of the step's activity map with a kernel of ones, so a
        large map costs no ``fan_in × positions`` product."""
        layer, g = self.layer, self.layer.geometry
        trains = np.asarray(trains)
        batch, steps = trains.shape[:2]
        maps = trains.reshape(batch * steps, *layer.in_map).astype(np.int64)
        if layer.pool is not None:
            maps = sum_pool2d(maps, layer.pool)
        active = (maps.sum(axis=1, keepdims=True) > 0).astype(np.int64)
        window = Conv2dGeometry(1, g.height, g.width, 1, g.kernel, g.stride, g.padding)
        ones = np.ones((1, 1, *g.kernel), dtype=np.int64)
        return (conv2d(active, ones, window) > 0).reshape(batch, steps, self.positions)

    def held(self, membranes, spikes):
        """The rows ``[groups, positions]`` that hold state after a step: a neuron with a
        non-zero membrane, or (``delayed`` timing) a spike to reset at the next step.
        ``membranes`` and ``spikes`` are NIR-ordered ``[..., neurons]``."""
        state = np.asarray(membranes) != 0
        if self.layer.timing == "delayed":
            state = state | np.asarray(spikes, dtype=bool)
        lead = state.shape[:-1]
        real = self.order >= 0
        rows = np.zeros(lead + (self.rows * self.lanes,), dtype=bool)
        rows[..., real] = state[..., self.order[real]]
        return rows.reshape(lead + (self.groups, self.positions, self.lanes)).any(axis=-1)

    def sweep_items(self, sweep_lanes, active, chunk_spikes):
        """The skipping sweep of one step: for each channel group, each block of
        :data:`SWEEP_BLOCK` positions, either ``None`` (a block with no active row: one cycle,
        nothing issued) or, for each active position in ascending order, its ``P / S`` chunks'
        spike counts (from ``chunk_spikes``, indexed by the core's chunk). ``active`` is
        ``[groups, positions]``."""
        per_row = self.lanes // sweep_lanes
        items = []
        for g in range(self.groups):
            for start in range(0, self.positions, SWEEP_BLOCK):
                rows = np.flatnonzero(active[g, start:start + SWEEP_BLOCK]) + start
                if not len(rows):
                    items.append(None)
                    continue
                for pos in rows:
                    first = (g * self.positions + pos) * per_row
                    items += [int(c) for c in chunk_spikes[first:first + per_row]]
        return items

    def emission_key(self, addresses):
        """Sort key putting NIR ``addresses`` of one step in the order the core emits them."""
        return self.rank[np.asarray(addresses, dtype=np.int64)]


def compile_kernel(layer, lanes):
    """Compile ``layer`` (a :class:`ConvLayer`) for the convolution core with ``lanes``
    output-channel lanes (``[1, C_out]``). Returns a :class:`KernelImage`."""
    check_instance("layer", layer, ConvLayer)
    g = layer.geometry
    c_out, c_in = g.out_channels, g.in_channels
    lanes = check_int("lanes", lanes, 1, c_out)
    groups = -(-c_out // lanes)
    kh, kw = g.kernel
    taps = kh * kw
    positions = g.out_height * g.out_width

    padded = np.zeros((groups * lanes, c_in, kh, kw), dtype=np.int64)
    padded[:c_out] = layer.kernel
    # word (g, ci, ky, kx), lane p  <-  K[g*P + p, ci, ky, kx]
    words = padded.reshape(groups, lanes, c_in * taps).transpose(0, 2, 1).reshape(-1, lanes)

    # Decode table over the pre-pool input map.
    c_map, h_map, w_map = layer.in_map
    cc, yy, xx = (a.ravel() for a in np.meshgrid(np.arange(c_map), np.arange(h_map),
                                                 np.arange(w_map), indexing="ij"))
    reaches = np.ones(len(cc), dtype=bool)
    if layer.pool is not None:
        (pk_y, pk_x), (pp_y, pp_x) = layer.pool.kernel, layer.pool.padding
        yy, xx = (yy + pp_y) // pk_y, (xx + pp_x) // pk_x
        reaches &= (yy < g.height) & (xx < g.width)
        yy, xx = np.minimum(yy, g.height - 1), np.minimum(xx, g.width - 1)
    count = np.zeros((g.height, g.width), dtype=np.int64)
    reach_map = np.zeros((g.height * g.width, positions), dtype=bool)
    for y in range(g.height):
        for x in range(g.width):
            reached = g.reached(y, x)
            count[y, x] = len(reached)
            for oy, ox, _, _ in reached:
                reach_map[y * g.width + x, oy * g.out_width + ox] = True
    reaches &= count[yy, xx] > 0
    event_words = np.where(reaches, count[yy, xx] * groups, 0)
    event_updates = layer.column_nonzeros()          # 0 where the input reaches nothing

    reach = reach_map[yy * g.width + xx] & reaches[:, None]

    core = groups * positions * lanes
    h = np.arange(core)
    p, local = h % lanes, h // lanes
    co, pos = (local // positions) * lanes + p, local % positions
    order = np.where(co < c_out, co * positions + pos, -1)
    rank = np.empty(layer.neurons, dtype=np.int64)
    rank[order[order >= 0]] = h[order >= 0]
    for array in (words, cc, yy, xx, reaches, event_words, event_updates, order, rank, reach):
        array.setflags(write=False)
    return KernelImage(layer=layer, lanes=lanes, groups=groups, positions=positions, taps=taps,
                       words=words, channel=cc, y=yy, x=xx, reaches=reaches,
                       event_words=event_words, event_updates=event_updates, order=order,
                       rank=rank, reach=reach)
