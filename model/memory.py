"""Weight-memory images: the exact integer words the hardware holds (docs/design.md §3).

A layer's weights are stored column-major (one column per pre-synaptic input ``j``) in
words of ``P`` lanes, one lane per processing element. The neuron at *hardware position*
``h`` lives in PE ``h % P`` at local index ``h // P``; each PE owns ``rows = ceil(N / P)``
local indices. Neuron ``i`` is at position ``h = i`` (the identity placement) unless the
image is compiled with a ``placement`` (:mod:`spikefab.model.placement`), a permutation
with neuron ``i`` at ``h = placement[i]``: the formats below then describe the matrix
whose row ``h`` is the user's row ``i`` (``W[r*P + p, j]`` reads "the neuron at position
``r*P + p``"), and :func:`decode_weights` returns the user's matrix again.

Formats
-------
``dense``
    Every weight stored. Column ``j`` is the ``rows`` words ``j*rows .. j*rows+rows-1``;
    word ``r`` lane ``p`` holds ``W[r*P + p, j]`` (0 for the padding neurons ``>= N``).
    Memory ``weights``: width ``P*w_bits``, depth ``fan_in*rows``.
``csc``
    Lane-aligned compressed sparse column. Lane ``p`` of column ``j`` lists its non-zero
    weights in ascending local index; word ``k`` of the column holds, in lane ``p``, the
    ``k``-th of them as a slot ``(valid, local index, weight)``, or an all-zero slot when the
    lane has fewer. A column has ``max_p nnz_p(j)`` words (0 for an empty column).
    Memories: ``pointers`` (depth ``fan_in``; word ``start | length << start_bits``) and
    ``weights`` (width ``P*(1 + index_bits + w_bits)``).
``bitmap``
    Per-lane occupancy bitmaps plus lane-aligned packed non-zero weights. Memory ``bitmaps``
    (depth ``fan_in``, width ``P*rows``) holds for column ``j`` in bits
    ``[p*rows, (p+1)*rows)`` the bitmap of lane ``p`` (bit ``r`` set when
    ``W[r*P + p, j] != 0``). The ``weights`` memory (width ``P*w_bits``) holds the non-zero
    weights like ``csc`` but without valid bit and index, which the bitmap supplies (the
    ``k``-th weight of a lane belongs to the ``k``-th set bit of its bitmap). ``pointers``
    as for ``csc``.

Bit packing (all formats): lane ``p`` of a word occupies bits ``[p*S, (p+1)*S)`` where ``S``
is the slot width. Inside a slot the weight is in the low ``w_bits`` bits (two's
complement), then the local index (``index_bits = ceil(log2(rows))`` bits, csc only), then
the valid bit (csc only, the top bit of the slot).

Sizes: :attr:`WeightImage.size_bits` is the sum of width × depth over the memories, which is
what a block-RAM implementation must hold (before rounding to the RAM primitive's shape).
"""

from dataclasses import dataclass

import numpy as np

from .checks import check_instance
from .network import Layer
from .placement import resolve_placement

__all__ = ["FORMATS", "Memory", "WeightImage", "compile_weights", "decode_weights"]

FORMATS = ("dense", "csc", "bitmap")


def _ceil_log2(n):
    return max(0, int(n - 1).bit_length())


def _bits_for(values):
    """Width of an unsigned field that holds every value in ``values`` (at least 1)."""
    return max(1, int(np.max(values, initial=0)).bit_length())


def _field_bits(name, requested, values):
    need = _bits_for(values)
    if requested is None:
        return need
    if isinstance(requested, bool) or not isinstance(requested, (int, np.integer)):
        raise TypeError(f"{name} must be an integer in [{need}, 32], not {requested!r}")
    if not need <= requested <= 32:
        raise ValueError(f"{name} = {requested} is out of range; allowed range is [{need}, 32] "
                         f"(this image needs {need})")
    return int(requested)


@dataclass(frozen=True, eq=False)
class Memory:
    """One memory of an image: ``depth`` words of ``width`` bits, as Python ints."""

    width: int
    words: tuple

    @property
    def depth(self):
        return len(self.words)

    @property
    def size_bits(self):
        return self.width * self.depth


@dataclass(frozen=True, eq=False)
class WeightImage:
    """The memory image of one layer's weights in one format for ``lanes`` PEs.

    Members
    -------
    format, lanes, neurons, fan_in, w_bits : as given to :func:`compile_weights`.
    rows : int
        ``ceil(neurons / lanes)``, local indices per PE.
    index_bits : int
        Width of a local index, ``ceil(log2(rows))`` (0 when ``rows == 1``).
    start_bits, length_bits : int
        Widths of the fields of a pointer word ``start | length << start_bits`` (csc,
        bitmap; 0 for dense).
    column_start, column_words : int arrays, shape ``(fan_in,)``
        First word and number of words of each column in the ``weights`` memory; the
        weight memory streams ``column_words[j]`` words for an event on input ``j``.
    column_nnz : int array, shape ``(fan_in,)``
        Non-zero synapses of each column (the synaptic updates an event causes).
    memories : dict of str to Memory
        The exact words: ``weights`` always, ``pointers`` for csc and bitmap,
        ``bitmaps`` for bitmap.
    placement : int array ``[neurons]`` or None
        The hardware position of each user neuron (:mod:`spikefab.model.placement`);
        ``None`` for the identity placement.
    """

    format: str
    lanes: int
    neurons: int
    fan_in: int
    w_bits: int
    rows: int
    index_bits: int
    column_start: np.ndarray
    column_words: np.ndarray
    column_nnz: np.ndarray
    memories: dict

    @property
    def size_bits(self):
        """Total bits over all memories of the image."""
        return sum(memory.size_bits for memory in self.memories.values())

    @property
    def size_breakdown(self):
        """Bits per memory, e.g. ``{"pointers": 1280, "weights": 40960}``."""
        return {name: memory.size_bits for name, memory in self.memories.items()}

    @property
    def slot_bits(self):
        """Width of one lane slot in the ``weights`` memory."""
        return self.memories["weights"].width // self.lanes

    start_bits: int = 0
    length_bits: int = 0
    placement: np.ndarray = None

    @property
    def order(self):
        """The user neuron at each hardware position ``h < neurons`` (the inverse of
        ``placement``; ``arange(neurons)`` for the identity)."""
        if self.placement is None:
            return np.arange(self.neurons)
        order = np.empty(self.neurons, dtype=np.int64)
        order[self.placement] = np.arange(self.neurons)
        return order


def _pack(fields_per_lane, slot_bits):
    """Pack an int array ``(words, lanes)`` of slot values into Python ints."""
    words = []
    for row in fields_per_lane:
        value = 0
        for lane, slot in enumerate(row):
            value |= int(slot) << (lane * slot_bits)
        words.append(value)
    return tuple(words)


def _lane_matrix(layer_weights, lanes):
    """Return ``W`` reshaped to ``(rows, lanes, fan_in)`` with zero padding neurons."""
    neurons, fan_in = layer_weights.shape
    rows = -(-neurons // lanes)
    padded = np.zeros((rows * lanes, fan_in), dtype=np.int64)
    padded[:neurons] = layer_weights
    return padded.reshape(rows, lanes, fan_in)


def _check_lanes(lanes, neurons):
    if isinstance(lanes, bool) or not isinstance(lanes, (int, np.integer)):
        raise TypeError(f"lanes must be an integer in [1, {neurons}], not {lanes!r}")
    if not 1 <= lanes <= neurons:
        raise ValueError(f"lanes = {lanes} is out of range; allowed range is [1, {neurons}] "
                         f"(at most one PE per neuron)")
    return int(lanes)


def compile_weights(layer, lanes, format="csc", *, start_bits=None, length_bits=None,
                    placement=None):
    """Compile ``layer`` (a :class:`Layer`) into the :class:`WeightImage` of ``format`` for
    ``lanes`` PEs.

    ``placement`` puts the neurons on lanes (:mod:`spikefab.model.placement`): ``None`` or
    ``"identity"`` (neuron ``i`` in lane ``i % P``), ``"balanced"``
    (:func:`~spikefab.model.placement.balanced_placement` of the layer's weights) or an
    explicit permutation of ``range(N)``. A placement equal to the identity compiles exactly
    the identity's image (``image.placement is None``).

    ``start_bits`` and ``length_bits`` fix the widths of the pointer fields (csc, bitmap)
    instead of the smallest that fit, so that an image can be loaded into hardware generated
    for a larger one; ``length_bits = bits(rows)`` fits any matrix of the same shape.

    >>> import numpy as np
    >>> from spikefab.model import Layer, compile_weights
    >>> layer = Layer(np.array([[1, 0], [0, -2], [3, 0]]), theta=4, w_bits=4)
    >>> image = compile_weights(layer, lanes=2, format="csc")
    >>> image.column_words.tolist()   # column 0: lane 0 holds neurons 0 and 2 -> 2 words
    [2, 1]
    """
    if not isinstance(layer, Layer):
        raise TypeError(f"layer must be a spikefab.model.Layer, not {type(layer).__name__}")
    if format not in FORMATS:
        raise ValueError(f"format = {format!r} is not allowed; choose one of {', '.join(FORMATS)}")
    weights = layer.weights
    neurons, fan_in = weights.shape
    lanes = _check_lanes(lanes, neurons)
    placement = resolve_placement(weights, lanes, placement)
    if placement is not None:
        hardware = np.empty_like(weights)
        hardware[placement] = weights                    # row h = the neuron placed at h
        weights = hardware
    w_bits = layer.w_bits
    w_mask = (1 << w_bits) - 1
    rows = -(-neurons // lanes)
    index_bits = _ceil_log2(rows)
    cube = _lane_matrix(weights, lanes)                  # (rows, lanes, fan_in)
    nonzero = cube != 0
    column_nnz = nonzero.sum(axis=(0, 1)).astype(np.int64)

    if format == "dense":
        column_words = np.full(fan_in, rows, dtype=np.int64)
        column_start = np.arange(fan_in, dtype=np.int64) * rows
        slots = (cube.transpose(2, 0, 1).reshape(fan_in * rows, lanes)) & w_mask
        memories = {"weights": Memory(lanes * w_bits, _pack(slots, w_bits))}
    else:
        lane_nnz = nonzero.sum(axis=0)                   # (lanes, fan_in)
        column_words = lane_nnz.max(axis=0).astype(np.int64)
        column_start = np.concatenate([[0], np.cumsum(column_words)[:-1]]).astype(np.int64)
        total = int(column_words.sum())
        slot_bits = (1 + index_bits + w_bits) if format == "csc" else w_bits
        slots = np.zeros((total, lanes), dtype=np.int64)
        bitmaps = []
        for j in range(fan_in):
            bitmap_word = 0
            for p in range(lanes):
                local = np.flatnonzero(nonzero[:, p, j])
                values = cube[local, p, j]
                if format == "csc":
                    slots[column_start[j]:column_start[j] + len(local), p] = (
                        (1 << (index_bits + w_bits)) | (local << w_bits) | (values & w_mask))
                else:
                    slots[column_start[j]:column_start[j] + len(local), p] = values & w_mask
                    bitmap_word |= sum(1 << int(r) for r in local) << (p * rows)
            bitmaps.append(bitmap_word)
        start_bits = _field_bits("start_bits", start_bits, column_start)
        length_bits = _field_bits("length_bits", length_bits, column_words)
        pointers = tuple(int(s) | (int(n) << start_bits)
                         for s, n in zip(column_start, column_words))
        memories = {"pointers": Memory(start_bits + length_bits, pointers)}
        if format == "bitmap":
            memories["bitmaps"] = Memory(lanes * rows, tuple(bitmaps))
        memories["weights"] = Memory(lanes * slot_bits, _pack(slots, slot_bits))

    if format == "dense":
        start_bits = length_bits = 0
    return WeightImage(format=format, lanes=lanes, neurons=neurons, fan_in=fan_in,
                       w_bits=w_bits, rows=rows, index_bits=index_bits,
                       column_start=column_start, column_words=column_words,
                       column_nnz=column_nnz, memories=memories, start_bits=start_bits,
                       length_bits=length_bits, placement=placement)


def _signed(value, bits):
    return value - (1 << bits) if value >> (bits - 1) else value


def decode_weights(image):
    """Rebuild the weight matrix ``(neurons, fan_in)`` from the image's packed words alone.

    This reads only ``image.memories``, the shape fields and the placement, as the
    hardware does, so a compile → decode round trip checks the packing end to end. With a
    placement the rows come back in the user's order.
    """
    check_instance("image", image, WeightImage)
    lanes, rows, w_bits = image.lanes, image.rows, image.w_bits
    weights = np.zeros((rows * lanes, image.fan_in), dtype=np.int64)
    w_mask = (1 << w_bits) - 1
    words = image.memories["weights"].words
    if image.format == "dense":
        for j in range(image.fan_in):
            for r in range(rows):
                word = words[j * rows + r]
                for p in range(lanes):
                    weights[r * lanes + p, j] = _signed((word >> (p * w_bits)) & w_mask, w_bits)
        return _user_order(image, weights)

    pointer_memory = image.memories["pointers"]
    start_bits = image.start_bits
    slot_bits = image.memories["weights"].width // lanes
    for j, pointer in enumerate(pointer_memory.words):
        start = pointer & ((1 << start_bits) - 1)
        length = pointer >> start_bits
        if image.format == "csc":
            for word in words[start:start + length]:
                for p in range(lanes):
                    slot = (word >> (p * slot_bits)) & ((1 << slot_bits) - 1)
                    if slot >> (slot_bits - 1):
                        local = (slot >> w_bits) & ((1 << image.index_bits) - 1)
                        weights[local * lanes + p, j] = _signed(slot & w_mask, w_bits)
        else:
            bitmap = image.memories["bitmaps"].words[j]
            for p in range(lanes):
                lane_bits = (bitmap >> (p * rows)) & ((1 << rows) - 1)
                locals_ = [r for r in range(rows) if lane_bits >> r & 1]
                for k, local in enumerate(locals_):
                    slot = (words[start + k] >> (p * slot_bits)) & w_mask
                    weights[local * lanes + p, j] = _signed(slot, w_bits)
    return _user_order(image, weights)


def _user_order(image, hardware):
    """The rows of the hardware-ordered matrix ``hardware`` ``[rows*P, fan_in]`` in the
    user's order (row ``i`` is position ``placement[i]``), without the padding."""
    if image.placement is None:
        return hardware[:image.neurons]
    return hardware[np.asarray(image.placement)]
