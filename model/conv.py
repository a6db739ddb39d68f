"""Convolution and pooling over spike maps: geometry and exact integer arithmetic
(docs/design.md §12).

A convolutional layer's neurons sit on a ``C × H × W`` map, flattened in NIR's C, H, W order
(no batch dimension): neuron ``(c, y, x)`` is index ``(c * H + y) * W + x``. Its input current
in a step is the cross-correlation of the previous map's spikes with its kernel, plus its
bias::

    I[co, oy, ox] = b[co] + sum over ci, ky, kx of
                    K[co, ci, ky, kx] * s[ci, oy * sy - py + ky, ox * sx - px + kx]

with ``s`` read as 0 outside the map (zero padding). A sum pool is the same sum with a
kernel of ones, one channel at a time, so its output is a spike *count*, not a spike.

:class:`Conv2dGeometry` holds the shapes and :meth:`~Conv2dGeometry.reached` is the
event-driven address generator the hardware implements: the output positions, and the kernel
tap for each, that one input event ``(y, x)`` reaches. :func:`conv2d` is the batched
(vectorized) correlation the golden model uses, :func:`conv2d_events` the same sum
accumulated event by event through :meth:`~Conv2dGeometry.reached`, and :func:`conv2d_matrix`
the equivalent fully connected weight matrix (each kernel weight repeated once per output
position it reaches: the unrolled baseline without weight sharing). All three are exact in
int64 and equal; the tests check them against each other, against a direct loop over NIR's
definition and against ``torch.nn.functional.conv2d``.

Only what the hardware builds is accepted: ``groups = 1`` and ``dilation = 1``; anything else
is refused by name (:func:`check_supported`).
"""

from dataclasses import dataclass

import numpy as np

from .checks import check_int
from .network import Layer, _check_fits

__all__ = ["ConvLayer", "Conv2dGeometry", "check_supported", "conv2d", "conv2d_events",
           "conv2d_matrix", "sum_pool2d", "sum_pool_geometry", "sum_pool_matrix"]

#: Largest map side and channel count accepted (the hardware's address fields are 16 bits).
MAX_SIDE = 1 << 12
MAX_CHANNELS = 1 << 12
MAX_KERNEL = 64


def _pair(name, value, lo, hi):
    if isinstance(value, (tuple, list, np.ndarray)):
        if len(value) != 2:
            raise ValueError(f"{name} must be one integer or a pair (height, width), not "
                             f"{len(value)} values")
        return tuple(check_int(f"{name}[{i}]", int(v) if isinstance(v, np.integer) else v,
                               lo, hi) for i, v in enumerate(value))
    value = check_int(name, int(value) if isinstance(value, np.integer) else value, lo, hi)
    return value, value


def check_supported(*, groups=1, dilation=1, what="Conv2d"):
    """Refuse by name what the convolution core does not build: ``groups`` other than 1 and
    ``dilation`` other than 1 (NIR and PyTorch allow both)."""
    dilation = tuple(np.broadcast_to(np.asarray(dilation), 2).tolist())
    groups = int(np.asarray(groups).item()) if np.ndim(groups) == 0 else groups
    if groups != 1:
        raise ValueError(f"{what}: groups = {groups} is not supported (grouped and depthwise "
                         f"convolution are not built); only groups = 1")
    if dilation != (1, 1):
        raise ValueError(f"{what}: dilation = {dilation} is not supported; only dilation 1")


@dataclass(frozen=True)
class Conv2dGeometry:
    """The shapes of one 2-D convolution (or sum pool) over a ``C × H × W`` map.

    Parameters
    ----------
    in_channels, height, width : int
        The input map ``C_in × H × W``.
    out_channels : int
        ``C_out`` (for a pool: the same as ``in_channels``, see :func:`sum_pool_geometry`).
    kernel, stride, padding : int or (int, int)
        ``(kh, kw)``, ``(sy, sx)`` and the zero padding ``(py, px)`` on each side, as in NIR
        and ``torch.nn.Conv2d`` (``padding`` at most ``kernel - 1`` on each axis, so every
        output sees at least one input).
    """

    in_channels: int
    height: int
    width: int
    out_channels: int
    kernel: tuple = (3, 3)
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "in_channels", check_int("in_channels", self.in_channels, 1, MAX_CHANNELS))
        set_(self, "out_channels", check_int("out_channels", self.out_channels, 1,
                                             MAX_CHANNELS))
        set_(self, "height", check_int("height", self.height, 1, MAX_SIDE))
        set_(self, "width", check_int("width", self.width, 1, MAX_SIDE))
        kernel = _pair("kernel", self.kernel, 1, MAX_KERNEL)
        set_(self, "kernel", kernel)
        set_(self, "stride", _pair("stride", self.stride, 1, MAX_KERNEL))
        padding = _pair("padding", self.padding, 0, MAX_KERNEL)
        for axis, (p, k) in enumerate(zip(padding, kernel)):
            if p > k - 1:
                raise ValueError(f"padding[{axis}] = {p} is out of range; allowed range is "
                                 f"[0, {k - 1}] (kernel {k}: a larger padding makes outputs "
                                 f"that see no input)")
        set_(self, "padding", padding)
        for axis, (side, p, k) in enumerate(zip((self.height, self.width), padding, kernel)):
            if side + 2 * p < k:
                raise ValueError(f"the kernel ({k}) is larger than the padded input "
                                 f"({side} + 2 * {p}) along {'yx'[axis]}: no output")

    @property
    def out_height(self):
        """``floor((H + 2 py - kh) / sy) + 1``."""
        return (self.height + 2 * self.padding[0] - self.kernel[0]) // self.stride[0] + 1

    @property
    def out_width(self):
        """``floor((W + 2 px - kw) / sx) + 1``."""
        return (self.width + 2 * self.padding[1] - self.kernel[1]) // self.stride[1] + 1

    @property
    def in_shape(self):
        """``(C_in, H, W)``."""
        return self.in_channels, self.height, self.width

    @property
    def out_shape(self):
        """``(C_out, H_out, W_out)``."""
        return self.out_channels, self.out_height, self.out_width

    @property
    def n_inputs(self):
        return self.in_channels * self.height * self.width

    @property
    def n_outputs(self):
        return self.out_channels * self.out_height * self.out_width

    def reached_range(self, y, x):
        """The output rows ``oy_lo..oy_hi`` and columns ``ox_lo..ox_hi`` (inclusive; empty
        when ``lo > hi``) that an input event at ``(y, x)`` reaches: along each axis
        ``o_lo = max(0, ceil((i + p - k + 1) / s))`` and ``o_hi = min(O - 1,
        floor((i + p) / s))``."""
        ranges = []
        for i, p, k, s, size, out in ((y, self.padding[0], self.kernel[0], self.stride[0],
                                       self.height, self.out_height),
                                      (x, self.padding[1], self.kernel[1], self.stride[1],
                                       self.width, self.out_width)):
            if not 0 <= i < size:
                raise ValueError(f"input position {i} is outside the map (size {size})")
            lo = max(0, -(-(i + p - k + 1) // s))
            hi = min(out - 1, (i + p) // s)
            ranges += [lo, hi]
        return tuple(ranges)

    def reached(self, y, x):
        """The event-driven walk of an input event at ``(y, x)`` (any input channel): the
        ``(oy, ox, ky, kx)`` of every output position it reaches and the kernel tap that
        connects them (``ky = y + py - oy * sy``, ``kx = x + px - ox * sx``), rows outer,
        columns inner, each exactly once; borders, stride and padding included. An input
        that no window covers (beyond the last full stride) reaches nothing."""
        oy_lo, oy_hi, ox_lo, ox_hi = self.reached_range(y, x)
        py, px = self.padding
        sy, sx = self.stride
        return [(oy, ox, y + py - oy * sy, x + px - ox * sx)
                for oy in range(oy_lo, oy_hi + 1) for ox in range(ox_lo, ox_hi + 1)]

    def check_kernel(self, kernel):
        """``kernel`` as an int64 array of shape ``[C_out, C_in, kh, kw]``."""
        array = np.asarray(kernel)
        if not np.issubdtype(array.dtype, np.integer):
            if not np.issubdtype(array.dtype, np.number) or not np.all(array == np.round(array)):
                raise TypeError(f"kernel must hold integers, not dtype {array.dtype}")
        array = array.astype(np.int64)
        expected = (self.out_channels, self.in_channels, *self.kernel)
        if array.shape != expected:
            raise ValueError(f"kernel has shape {array.shape}; this convolution needs "
                             f"{expected} (C_out, C_in, kh, kw)")
        return array


def sum_pool_geometry(channels, height, width, kernel, stride=None, padding=0):
    """The geometry of a sum pool (``stride`` defaults to ``kernel``, as in NIR and
    PyTorch): a convolution of each channel with a ``kh × kw`` kernel of ones."""
    return Conv2dGeometry(channels, height, width, channels, kernel,
                          kernel if stride is None else stride, padding)


def _maps(x, geometry):
    array = np.asarray(x)
    shape = geometry.in_shape
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[1:] != shape:
        raise ValueError(f"input maps must have shape [B, {shape[0]}, {shape[1]}, {shape[2]}] "
                         f"(or one map {shape}), not {np.shape(x)}")
    return array.astype(np.int64)


def conv2d(x, kernel, geometry):
    """The cross-correlation of the maps ``x`` (``[B, C_in, H, W]`` integers: spikes or
    counts) with ``kernel`` ``[C_out, C_in, kh, kw]``, zero-padded: ``[B, C_out, H_out,
    W_out]`` int64, exact. Vectorized over samples and positions: the kernel's windows as
    rows of one matrix product, in float64 (BLAS) when every partial sum is provably below
    ``2**53`` in magnitude, else in int64."""
    maps = _maps(x, geometry)
    kernel = geometry.check_kernel(kernel)
    (py, px), (sy, sx), (kh, kw) = geometry.padding, geometry.stride, geometry.kernel
    batch, (c_out, h_out, w_out) = len(maps), geometry.out_shape
    padded = np.pad(maps, ((0, 0), (0, 0), (py, py), (px, px)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(2, 3))
    windows = windows[:, :, ::sy, ::sx][:, :, :h_out, :w_out]
    rows = windows.transpose(0, 2, 3, 1, 4, 5).reshape(batch * h_out * w_out, -1)
    taps = kernel.reshape(c_out, -1).T
    bound = int(np.abs(maps).max(initial=0)) * int(np.abs(taps).sum(axis=0).max(initial=0))
    if bound < 2 ** 53:
        product = np.rint(rows.astype(np.float64) @ taps.astype(np.float64)).astype(np.int64)
    else:
        product = rows @ taps
    return product.reshape(batch, h_out, w_out, c_out).transpose(0, 3, 1, 2)


def sum_pool2d(x, geometry):
    """The sum pool of the maps ``x`` over ``geometry`` (:func:`sum_pool_geometry`): each
    output is the number of input spikes (or the sum of input counts) in its window."""
    maps = _maps(x, geometry)
    (py, px), (sy, sx), (kh, kw) = geometry.padding, geometry.stride, geometry.kernel
    padded = np.pad(maps, ((0, 0), (0, 0), (py, py), (px, px)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(2, 3))
    windows = windows[:, :, ::sy, ::sx][:, :, :geometry.out_height, :geometry.out_width]
    return windows.sum(axis=(-2, -1), dtype=np.int64)


def conv2d_events(events, kernel, geometry):
    """The same correlation as :func:`conv2d`, accumulated the way the event-driven core
    does: for every input event ``(c, y, x)`` of one map (a list, repeated events adding
    again), every ``(oy, ox, ky, kx)`` of :meth:`Conv2dGeometry.reached` adds
    ``kernel[:, c, ky, kx]`` to the outputs at ``(oy, ox)`` of every output channel. Returns
    ``[C_out, H_out, W_out]`` int64."""
    kernel = geometry.check_kernel(kernel)
    out = np.zeros(geometry.out_shape, dtype=np.int64)
    for c, y, x in events:
        if not 0 <= c < geometry.in_channels:
            raise ValueError(f"input channel {c} is outside the map ({geometry.in_channels} "
                             f"channels)")
        for oy, ox, ky, kx in geometry.reached(y, x):
            out[:, oy, ox] += kernel[:, c, ky, kx]
    return out


def conv2d_matrix(kernel, geometry):
    """The fully connected weights ``[C_out * H_out * W_out, C_in * H * W]`` (C, H, W order
    on both sides) equal to the convolution: ``conv2d_matrix(K, g) @ s.ravel() ==
    conv2d(s, K, g).ravel()``. Each kernel weight appears once per output position it
    reaches: the unrolled baseline, without weight sharing."""
    kernel = geometry.check_kernel(kernel)
    (c_out, h_out, w_out), (c_in, h, w) = geometry.out_shape, geometry.in_shape
    (kh, kw), (sy, sx), (py, px) = geometry.kernel, geometry.stride, geometry.padding
    # every (output position, tap) pair at once: its input position, kept when on the map
    oy, ox, ky, kx = np.meshgrid(np.arange(h_out), np.arange(w_out), np.arange(kh),
                                 np.arange(kw), indexing="ij")
    y, x = oy * sy - py + ky, ox * sx - px + kx
    inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
    oy, ox, ky, kx, y, x = (a[inside] for a in (oy, ox, ky, kx, y, x))
    co, ci = np.arange(c_out)[:, None, None], np.arange(c_in)[None, :, None]
    rows = (co * h_out + oy) * w_out + ox                      # [C_out, 1, taps]
    columns = (ci * h + y) * w + x                             # [1, C_in, taps]
    matrix = np.zeros((geometry.n_outputs, geometry.n_inputs), dtype=np.int64)
    matrix[np.broadcast_to(rows, (c_out, c_in, rows.shape[-1])),
           np.broadcast_to(columns, (c_out, c_in, rows.shape[-1]))] = kernel[:, :, ky, kx]
    return matrix


def sum_pool_matrix(geometry):
    """The 0/1 matrix ``[C * H_out * W_out, C * H * W]`` of the sum pool ``geometry``
    (:func:`sum_pool_geometry`): ``sum_pool_matrix(g) @ s.ravel() == sum_pool2d(s,
    g).ravel()``."""
    ones = np.zeros((geometry.in_channels, geometry.in_channels, *geometry.kernel),
                    dtype=np.int64)
    for c in range(geometry.in_channels):
        ones[c, c] = 1
    return conv2d_matrix(ones, geometry)


def _through_pool(matrix, pool):
    """``matrix @ sum_pool_matrix(pool)`` for a non-overlapping pool, as a column gather:
    each input position takes the column of the one pooled position whose window covers it
    (none beyond the last full window)."""
    pooled = np.full(pool.n_inputs, -1, dtype=np.int64)
    for y in range(pool.height):
        for x in range(pool.width):
            reached = pool.reached(y, x)
            if reached:
                (oy, ox, _, _), = reached
                for c in range(pool.in_channels):
                    pooled[(c * pool.height + y) * pool.width + x] = (
                        (c * pool.out_height + oy) * pool.out_width + ox)
    out = np.zeros((matrix.shape[0], pool.n_inputs), dtype=np.int64)
    covered = pooled >= 0
    out[:, covered] = matrix[:, pooled[covered]]
    return out


@dataclass(frozen=True, eq=False)
class ConvLayer(Layer):
    """A layer of LIF neurons on a ``C_out × H_out × W_out`` map whose input current is the
    convolution of docs/design.md §12, optionally of the sum-pooled previous map.

    Build it with ``ConvLayer(kernel=K, geometry=g, theta=..., pool=None,
    channel_bias=None, w_bits=..., v_bits=..., leak=..., reset=..., timing=...)`` (leave
    ``weights`` out). ``kernel`` is ``[C_out, C_in, kh, kw]`` for the
    :class:`Conv2dGeometry` ``geometry``; ``pool`` (a :func:`sum_pool_geometry` whose output
    map is ``geometry``'s input map) sums the previous map's spikes in non-overlapping
    windows first; ``channel_bias`` is one bias per output channel. The neuron parameters are
    :class:`~spikefab.model.network.Layer`'s, one per layer.

    It *is* a :class:`~spikefab.model.network.Layer`: ``weights`` is the equivalent fully
    connected matrix (:func:`conv2d_matrix`, times :func:`sum_pool_matrix` with a pool) and
    ``bias`` the channel bias at every position, so the unrolled baseline (one synapse per
    weight, no weight sharing: ``--conv unrolled``) runs it bit for bit as a fully connected
    layer. That matrix is built on first read of ``weights`` only: it has ``C_out·H_out·W_out
    × C·H·W`` entries (17 GB of int64 for a 2×128×128 event-camera input to 16 channels at
    stride 2), and the golden model (:meth:`input_current`), the cycle model and the
    convolution core (:func:`~spikefab.model.kernel_image.compile_kernel`) never read it
    (``neurons``, ``fan_in``, :meth:`current_bound` and :meth:`column_nonzeros` come from the
    kernel and geometry). A non-overlapping sum pool copies weights, so the unrolled weights
    fit ``w_bits``; an overlapping pool (stride below its kernel) is refused.
    """

    weights: np.ndarray | None = None
    theta: int | None = None
    kernel: np.ndarray | None = None
    geometry: Conv2dGeometry | None = None
    pool: Conv2dGeometry | None = None
    channel_bias: np.ndarray | None = None

    def __post_init__(self):
        set_ = object.__setattr__
        if not isinstance(self.geometry, Conv2dGeometry):
            raise TypeError(f"geometry must be a Conv2dGeometry, not "
                            f"{type(self.geometry).__name__}")
        kernel = self.geometry.check_kernel(self.kernel)
        kernel.setflags(write=False)
        set_(self, "kernel", kernel)
        if self.pool is not None:
            pool = self.pool
            if not isinstance(pool, Conv2dGeometry):
                raise TypeError(f"pool must be a Conv2dGeometry (sum_pool_geometry), not "
                                f"{type(pool).__name__}")
            if pool.in_channels != pool.out_channels:
                raise ValueError("pool must keep the channels (sum_pool_geometry)")
            if pool.stride != pool.kernel:
                raise ValueError(f"pool stride {pool.stride} differs from its kernel "
                                 f"{pool.kernel}: an overlapping sum pool is not built (one "
                                 f"spike would become several events); use stride = kernel")
            if pool.out_shape != self.geometry.in_shape:
                raise ValueError(f"the pool's output map {pool.out_shape} is not the "
                                 f"convolution's input map {self.geometry.in_shape}")
        given = self.__dict__.pop("_given_weights", None)
        if given is not None and not np.array_equal(np.asarray(given), self.weights):
            raise ValueError("a ConvLayer's weights come from its kernel and geometry; leave "
                             "weights out (change kernel instead)")
        positions = self.geometry.out_height * self.geometry.out_width
        if self.channel_bias is not None:
            channel_bias = np.asarray(self.channel_bias)
            if channel_bias.shape != (self.geometry.out_channels,):
                raise ValueError(f"channel_bias must have shape ({self.geometry.out_channels},)"
                                 f", one per output channel, not {channel_bias.shape}")
            if self.bias is not None:
                raise ValueError("give channel_bias (one per output channel) or bias (one per "
                                 "neuron), not both")
            set_(self, "bias", np.repeat(channel_bias.astype(np.int64), positions))
        super().__post_init__()
        bias = self.bias.reshape(self.geometry.out_channels, positions)
        if not np.all(bias == bias[:, :1]):
            raise ValueError("a ConvLayer's bias is one per output channel: the same at every "
                             "position of a channel")
        set_(self, "channel_bias", bias[:, 0].copy())

    def _check_weights(self):
        """The kernel fits ``w_bits`` (the unrolled weights are copies of its entries)."""
        _check_fits("kernel", self.kernel, self.w_bits, "w_bits")

    @property
    def neurons(self):
        """``C_out · H_out · W_out``."""
        return self.geometry.n_outputs

    @property
    def fan_in(self):
        """The previous map's size ``C · H · W`` (before the pool, if any)."""
        return (self.pool or self.geometry).n_inputs

    def _unrolled(self):
        matrix = conv2d_matrix(self.kernel, self.geometry)
        return matrix if self.pool is None else _through_pool(matrix, self.pool)

    def current_bound(self):
        """Largest ``|W s + b|`` over all binary input vectors ``s``, from the convolution
        of an all-ones map with the kernel's positive (negative) part: each neuron's sum of
        its positive (negative) weights, borders and the pool's copies included."""
        ones = np.ones((1, *self.in_map), dtype=np.int64)
        if self.pool is not None:
            ones = sum_pool2d(ones, self.pool)
        pos = conv2d(ones, np.clip(self.kernel, 0, None), self.geometry).ravel()
        neg = conv2d(ones, np.clip(self.kernel, None, 0), self.geometry).ravel()
        pos = pos + np.clip(self.bias, 0, None)
        neg = neg + np.clip(self.bias, None, 0)
        return int(max(pos.max(), -neg.min()))

    def column_nonzeros(self):
        """``(weights != 0).sum(axis=0)``: per input, the synapses it reaches (non-zero
        kernel weights over the output positions and channels it reaches), without the
        unrolled matrix."""
        g = self.geometry
        (_, h_out, w_out), (c_in, h, w) = g.out_shape, g.in_shape
        (kh, kw), (sy, sx), (py, px) = g.kernel, g.stride, g.padding
        per_tap = (self.kernel != 0).sum(axis=0)                    # [C_in, kh, kw]
        counts = np.zeros((c_in, h, w), dtype=np.int64)
        oy, ox = np.arange(h_out), np.arange(w_out)
        for ky in range(kh):
            y = oy * sy - py + ky
            y = y[(y >= 0) & (y < h)]
            for kx in range(kw):
                x = ox * sx - px + kx
                x = x[(x >= 0) & (x < w)]
                counts[:, y[:, None], x[None, :]] += per_tap[:, ky, kx][:, None, None]
        counts = counts.ravel()
        if self.pool is None:
            return counts
        pool = self.pool
        out = np.zeros(pool.n_inputs, dtype=np.int64)
        c, y, x = np.meshgrid(np.arange(pool.in_channels), np.arange(pool.height),
                              np.arange(pool.width), indexing="ij")
        # non-overlapping (stride = kernel): the one window covering (y, x), if any
        oy = (y + pool.padding[0]) // pool.stride[0]
        ox = (x + pool.padding[1]) // pool.stride[1]
        covered = (oy < pool.out_height) & (ox < pool.out_width)
        source = (c * pool.out_height + oy) * pool.out_width + ox
        out[((c * pool.height + y) * pool.width + x)[covered]] = counts[source[covered]]
        return out

    def input_current(self, spikes):
        """The current ``[B, neurons]`` (int64, bias included) of the previous layer's
        ``spikes`` ``[B, fan_in]``: the sum pool (if any) and the convolution themselves,
        equal to ``spikes @ weights.T + bias`` at a fraction of its work."""
        spikes = np.asarray(spikes)
        maps = spikes.reshape(len(spikes), *self.in_map).astype(np.int64)
        if self.pool is not None:
            maps = sum_pool2d(maps, self.pool)
        return conv2d(maps, self.kernel, self.geometry).reshape(len(spikes), -1) + self.bias

    @property
    def in_map(self):
        """The ``(C, H, W)`` map this layer reads (before its pool, if any)."""
        return (self.pool or self.geometry).in_shape

    @property
    def out_map(self):
        """The ``(C_out, H_out, W_out)`` map of this layer's neurons."""
        return self.geometry.out_shape

    def replace(self, **changes):
        """A copy with some fields changed (validated again); ``weights`` cannot change (they
        come from ``kernel``)."""
        if "weights" in changes:
            raise ValueError("a ConvLayer's weights come from its kernel; change kernel")
        fields = {name: getattr(self, name) for name in
                  ("theta", "w_bits", "v_bits", "leak", "k", "m", "f", "reset", "timing",
                   "kernel", "geometry", "pool", "channel_bias")}
        fields.update(changes)
        if "leak" in changes:
            for name in ("k", "m", "f"):
                if name not in changes:
                    fields[name] = None
        if "bias" in changes:
            fields.pop("channel_bias")
        return ConvLayer(**fields)



class _UnrolledWeights:
    """``ConvLayer.weights``: the unrolled matrix, built on first read and kept (a data
    descriptor, so that the dataclass's ``__init__`` hands a given matrix to ``__set__``,
    which keeps it aside for :meth:`ConvLayer.__post_init__` to check)."""

    def __get__(self, layer, owner=None):
        if layer is None:
            return None                         # the field's default
        matrix = layer.__dict__.get("_weights")
        if matrix is None:
            matrix = layer._unrolled()
            matrix.setflags(write=False)
            layer.__dict__["_weights"] = matrix
        return matrix

    def __set__(self, layer, value):
        layer.__dict__["_given_weights"] = value


ConvLayer.weights = _UnrolledWeights()
