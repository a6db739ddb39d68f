"""Reading single NIR nodes for :func:`spikefab.model.nir_io.import_nir`: declared shapes,
integrality, metadata text, and the convolutional nodes (issue 22): ``Conv2d`` (kernel,
stride, padding as NIR writes it, the map it reads), ``SumPool2d``/``AvgPool2d`` (a
convolution's input pool, or a pool folded into the next fully connected layer) and the notes
the import report gives them (docs/design.md §12). The chain itself is walked in
:mod:`.nir_io`."""

import numpy as np

__all__ = []

_INTEGER = 1e-6       # relative distance within which a float counts as an integer


def _text(value):
    value = value.item() if isinstance(value, np.ndarray) and value.ndim == 0 else value
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode()
    return value


#: Metadata key prefixes read, newest first: files written before the project was renamed
#: (``spikeforge_*``, ``spikeforge-nir-1``) read as they did then.


def _shape(types, key):
    """A node's declared shape as a 1-D int array (empty when the writer left it out)."""
    value = (types or {}).get(key)
    if value is None:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(value, dtype=np.int64).reshape(-1)


def _is_int(values):
    values = np.asarray(values, dtype=np.float64)
    return bool(np.all(np.isfinite(values)) and
                np.all(np.abs(values - np.round(values)) <= _INTEGER * np.maximum(1, np.abs(values))))


def _map_of(declared):
    """A declared shape as a ``(C, H, W)`` map, or ``None`` for a vector (a leading batch
    dimension of size 1 is dropped)."""
    dims = tuple(int(x) for x in declared)
    if len(dims) == 4 and dims[0] == 1:
        dims = dims[1:]
    return dims if len(dims) == 3 else None


def _pair_of(value, where, what, default=None):
    """A NIR kernel size, stride or padding (one integer or a pair) as ``(height, width)``."""
    if value is None and default is not None:
        return default
    array = np.asarray(_text(value) if not isinstance(value, np.ndarray) else value)
    if array.dtype.kind not in "iuf" or array.size not in (1, 2) or not _is_int(array):
        raise ValueError(f"{where}: {what} = {value!r} is not one integer or a pair of "
                         f"integers (height, width)")
    return tuple(int(round(float(v))) for v in np.broadcast_to(array.reshape(-1), 2))


def _padding(value, kernel, stride, where):
    """NIR's padding (an integer, a pair, or the strings 'valid' and 'same' that
    ``nir.Conv2d`` accepts) as ``(py, px)``."""
    text = _text(value)
    if isinstance(text, np.ndarray) and text.dtype.kind in "SU" and text.size == 1:
        text = _text(text.reshape(-1)[0])
    if isinstance(text, str):
        if text == "valid":
            return 0, 0
        if text == "same":
            if stride == (1, 1) and all(k % 2 for k in kernel):
                return tuple((k - 1) // 2 for k in kernel)
            raise ValueError(f"{where}: padding 'same' with kernel {kernel} and stride "
                             f"{stride} pads unevenly (or depends on the input size); only "
                             f"the symmetric case is built (odd kernel, stride 1): give the "
                             f"padding as integers")
        raise ValueError(f"{where}: padding {text!r} is not supported; use an integer, a "
                         f"pair (py, px), 'valid' or 'same'")
    return _pair_of(value, where, "padding")


def _pool_node(node, name, kind, last, shape, width, pending, conv, pool):
    """The pending pool of a ``SumPool2d``/``AvgPool2d`` node: ``{"name", "kind",
    "geometry", "divisor"}`` (``divisor`` is ``kh * kw`` for an average pool, else 1)."""
    from .conv import sum_pool_geometry
    where = f"NIR node {name!r} of type {kind}"
    if pending is not None or conv is not None:
        raise ValueError(f"{where} pools the output of {last!r} before any neurons; spikefab "
                         f"pools spikes (after LIF or IF), not currents")
    if pool is not None:
        raise ValueError(f"{where} follows the pool {pool['name']!r}; two pools in a row are "
                         f"not supported (write them as one)")
    if shape is None:
        got = "an unknown number of" if width is None else width
        raise ValueError(f"{where} needs a (C, H, W) map, but {last!r} gives {got} values "
                         f"without one (declare the Input's shape as (C, H, W))")
    kernel = _pair_of(node.kernel_size, where, "kernel_size")
    stride = _pair_of(node.stride, where, "stride", default=kernel)
    padding = _padding(node.padding, kernel, stride, where)
    try:
        geometry = sum_pool_geometry(*shape, kernel, stride, padding)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{where}: {error}") from None
    return {"name": name, "kind": kind, "geometry": geometry,
            "divisor": kernel[0] * kernel[1] if kind == "AvgPool2d" else 1}


def _conv1d_as_conv2d(node, name, shape, line):
    """A ``Conv1d`` node (weight ``[C_out, C_in, k]`` on a ``(C, L)`` line) as the ``Conv2d``
    of height 1 that computes it (weight ``[C_out, C_in, 1, k]``, stride ``(1, s)``, padding
    ``(0, p)``, dilation ``(1, d)``), and the map it reads as ``(C, 1, L)``: the same values
    in the same order. ``line`` is the ``(C, L)`` shape the Input declared, if any."""
    from types import SimpleNamespace
    where = f"NIR node {name!r} of type Conv1d"
    weight = np.asarray(node.weight, dtype=np.float64)
    if weight.ndim != 3:
        raise ValueError(f"{where}: weight must be 3-D (C_out, C_in, k), got shape "
                         f"{weight.shape}")

    def one(value, what):
        array = np.asarray(_text(value))
        if array.size != 1 or array.dtype.kind not in "iuf" or not _is_int(array):
            raise ValueError(f"{where}: {what} must be one integer, got {_text(value)!r}")
        return int(array.reshape(-1)[0])
    padding = _text(node.padding)
    if isinstance(padding, np.ndarray) and padding.dtype.kind in "SU" and padding.size == 1:
        padding = _text(padding.reshape(-1)[0])
    padding = padding if isinstance(padding, str) else (0, one(padding, "padding"))
    length = None if node.input_shape is None else one(node.input_shape, "input_shape")
    if length is None and shape is not None:
        if shape[1] != 1:
            raise ValueError(f"{where} reads a (C, L) line but receives the map {shape}")
        length = shape[2]
    if length is None and line is not None:
        length = line[1]
    as_2d = SimpleNamespace(
        weight=weight[:, :, None, :], bias=node.bias, groups=node.groups,
        dilation=(1, one(node.dilation, "dilation")), stride=(1, one(node.stride, "stride")),
        padding=padding, input_shape=None if length is None else (1, length),
        output_type={"output": None})
    if shape is None and line is not None and length is not None:
        shape = (line[0], 1, length)
    return as_2d, shape


def _conv_node(node, name, last, shape, width, pool, kind="Conv2d"):
    """A ``Conv2d`` node (or a ``Conv1d`` as :func:`_conv1d_as_conv2d` gives it) as
    ``{"name", "kernel", "bias", "geometry"}`` (floats), checked against the map it receives
    and the pool before it."""
    from .conv import Conv2dGeometry, check_supported
    where = f"NIR node {name!r} of type {kind}"
    weight = np.asarray(node.weight, dtype=np.float64)
    if weight.ndim != 4:
        raise ValueError(f"{where}: weight must be 4-D (C_out, C_in, kh, kw), got shape "
                         f"{weight.shape}")
    check_supported(groups=node.groups, dilation=node.dilation, what=where)
    if pool is not None and pool["geometry"].stride != pool["geometry"].kernel:
        raise ValueError(
            f"NIR node {pool['name']!r} of type {pool['kind']}: stride "
            f"{pool['geometry'].stride} differs from its kernel {pool['geometry'].kernel}; an "
            f"overlapping pool before Conv2d node {name!r} is not built (one spike would "
            f"become several events); only stride = kernel_size")
    c_out, c_in, kh, kw = weight.shape
    declared = None if node.input_shape is None else tuple(
        int(v) for v in np.asarray(node.input_shape).reshape(-1))
    if declared is not None and len(declared) != 2:
        raise ValueError(f"{where}: input_shape {declared} is not (height, width)")
    if shape is not None:
        if shape[0] != c_in or (declared is not None and declared != shape[1:]):
            reads = (c_in, *(declared or ("H", "W")))
            raise ValueError(f"{where} reads a {reads} map (C_in, H, W) but {last!r} gives "
                             f"{shape}")
        in_map = shape
    elif declared is not None:
        in_map = (c_in, *declared)
        if width is not None and int(np.prod(in_map)) != width:
            raise ValueError(f"{where} reads a {in_map} map ({int(np.prod(in_map))} values) "
                             f"but {last!r} gives {width} values")
    else:
        raise ValueError(f"{where} has no input_shape and {last!r} gives no (C, H, W) map; "
                         f"declare one of them")
    stride = _pair_of(node.stride, where, "stride")
    padding = _padding(node.padding, (kh, kw), stride, where)
    try:
        geometry = Conv2dGeometry(*in_map, c_out, (kh, kw), stride, padding)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{where}: {error}") from None
    out = _shape(node.output_type, "output")
    notes = []
    if out.size and _map_of(out) != geometry.out_shape:
        # nir 1.0's shape inference uses kh for both axes: trust the definition
        notes.append((f"Conv2d {name!r} declares the output {tuple(int(x) for x in out)}; "
                      f"its weight, stride and padding on the {in_map} map give "
                      f"{geometry.out_shape}, which is what was built (nir's shape inference "
                      f"takes kh for both axes)", ()))
    bias = np.zeros(c_out) if node.bias is None else np.asarray(node.bias, dtype=np.float64)
    if bias.size == 1 and c_out > 1:
        bias = np.full(c_out, float(bias.reshape(-1)[0]))
    bias = bias.reshape(-1)
    if bias.size != c_out:
        raise ValueError(f"{where}: bias has {bias.size} values for {c_out} output channels")
    if not (np.all(np.isfinite(weight)) and np.all(np.isfinite(bias))):
        raise ValueError(f"{where}: weight and bias must be finite")
    return {"name": name, "kernel": weight, "bias": bias, "geometry": geometry,
            "notes": notes}


def _channel_rows(values, channels):
    return np.asarray(values, dtype=np.float64).reshape(channels, -1)


def _differs(rows):
    return ~np.isclose(rows, rows[:, :1], rtol=_INTEGER, atol=0)


def _one_per_layer(name, kind, what, values, channels):
    """Refuse by name a conv layer's neuron parameter that is not one value for the layer."""
    rows = _channel_rows(values, channels)
    if np.any(_differs(rows)):
        raise ValueError(f"NIR node {name!r} of type {kind} after a Conv2d: {what} differs "
                         f"within an output channel; a convolutional layer has one {what} "
                         f"for all its neurons")
    column = rows[:, :1].T
    if np.any(_differs(column)):
        raise ValueError(f"NIR node {name!r} of type {kind} after a Conv2d: {what} differs "
                         f"between output channels ({np.nanmin(rows):.6g} to "
                         f"{np.nanmax(rows):.6g}); per-channel neuron parameters are not "
                         f"built yet (one {what} per convolutional layer)")


def _per_channel(name, kind, what, values, channels):
    """A conv layer's per-neuron parameter as one value per output channel (it scales or
    shifts the channel's kernel and bias, which keeps the kernel shared)."""
    rows = _channel_rows(values, channels)
    if np.any(_differs(rows)):
        raise ValueError(f"NIR node {name!r} of type {kind} after a Conv2d: {what} differs "
                         f"within an output channel; a convolutional layer's kernel is shared "
                         f"by every position of a channel")
    return rows[:, 0].copy()


def _pool_notes(pool, integral, into):
    """Notes saying how the pool before a layer was folded into ``into``."""
    geometry, kind = pool["geometry"], pool["kind"]
    size = f"{geometry.kernel[0]}x{geometry.kernel[1]}"
    copies = ("non-overlapping: weights copied" if geometry.stride == geometry.kernel
              else f"stride {geometry.stride}, overlapping: the weights of overlapping "
                   f"windows add")
    if into == "pool":
        text = (f"{kind} {pool['name']!r} ({size}) before it is the ConvLayer's sum pool (an "
                f"address remap)")
    else:
        text = f"{kind} {pool['name']!r} ({size}) folded into the weights ({copies})"
    if kind == "AvgPool2d":
        what = "kernel" if into == "pool" else "weights"
        text += (f"; its 1/{pool['divisor']} divides the {what}"
                 + (" exactly" if integral else ", rounded (see the weight error)"))
    return [(text, ())]


def _conv_notes(conv, pool, integral):
    """Notes saying a layer runs as a ConvLayer, and how its pool was read."""
    geometry = conv["geometry"]
    c_out, c_in, kh, kw = conv["kernel"].shape
    rows = geometry.n_outputs
    columns = (pool["geometry"] if pool is not None else geometry).n_inputs
    notes = [(f"runs as a ConvLayer: Conv2d {conv['name']!r}, kernel {c_out}x{c_in}x{kh}x{kw}, "
              f"stride {geometry.stride}, padding {geometry.padding}, map {geometry.in_shape} "
              f"to {geometry.out_shape}; today's accelerator runs it as the unrolled baseline "
              f"({rows} x {columns} weights, no weight sharing)", ())]
    if pool is not None:
        notes += _pool_notes(pool, integral, "pool")
    return notes + conv["notes"]
