"""What quantization does to an imported NIR graph's behaviour: the graph run in float64
beside the integer golden model (issue 21).

:func:`float_reference` runs the NIR graph as :func:`~spikefab.model.nir_io.import_nir` read
it (the float weights, bias, threshold and beta before rounding, Conv2d and pools included)
with the golden model's step rule and no saturation; :func:`compare_with_reference` puts it
beside the integer network on the same input spikes: spike agreement and first-spike shift
per layer, and the verdict against :data:`AGREEMENT_BOUND` and :data:`SHIFT_BOUND` that
``spikefab nir import`` warns on. Its convolution is written apart from :mod:`.conv` (the
integer model's arithmetic), so the two check each other.
"""

import numpy as np

from .checks import check_instance

__all__ = ["AGREEMENT_BOUND", "SHIFT_BOUND", "compare_with_reference", "float_reference"]

#: Bounds of :func:`compare_with_reference`'s verdict: the integer network behaves like the
#: float reference of the NIR graph when at least this fraction of the spikes of either agree
#: (same sample, step and neuron) ...
AGREEMENT_BOUND = 0.9
#: ... and no neuron's first spike moves by more than this many steps.
SHIFT_BOUND = 2


def float_reference(imported, trains):
    """The NIR graph as :func:`import_nir` read it, run in float64: every layer's spikes
    ``[B, T, N]`` for the input spike ``trains`` ``[B, T, N0]``.

    Each layer runs the float parameters the integers approximate (``LayerImport.weight``,
    ``bias``, ``theta``, ``beta``: the NIR node under the chosen discretization) with the
    golden model's step rule (docs/design.md §2: leak, integrate, fire when ``v > theta``,
    the layer's reset and timing) and no saturation, as NIR's float membranes have none."""
    from .nir_io import NIRImport
    from .simulate import check_spike_trains
    check_instance("imported", imported, NIRImport)
    trains, _ = check_spike_trains(trains, imported.network.n_inputs)
    batch, steps, _ = trains.shape
    spikes_in = trains.astype(np.float64)
    out = []
    for report in imported.layers:
        weight = np.asarray(report.weight, dtype=np.float64)
        bias, theta, beta = report.bias, report.theta, report.beta
        v = np.zeros((batch, report.neurons))
        fired = np.zeros((batch, report.neurons), dtype=np.bool_)
        spikes = np.zeros((batch, steps, report.neurons), dtype=np.bool_)
        for t in range(steps):
            x = spikes_in[:, t]
            if report.pool is not None:
                pool = report.pool
                ones = np.ones((1, 1, *pool["kernel"]))
                x = _float_correlate(x.reshape(batch, *pool["in_map"]), ones, pool["stride"],
                                     pool["padding"], per_channel=True)
                if pool["kind"] == "AvgPool2d":
                    x = x / (pool["kernel"][0] * pool["kernel"][1])
                x = x.reshape(batch, -1)
            if report.conv is not None:
                conv = report.conv
                maps = _float_correlate(x.reshape(batch, *conv["in_map"]), weight,
                                        conv["stride"], conv["padding"])
                current = (maps + np.asarray(bias)[None, :, None, None]).reshape(batch, -1)
            else:
                current = x @ weight.T + bias
            if report.timing == "immediate":
                v = beta * v + current
                fired = v > theta
                v = v - theta * fired if report.reset == "subtract" else np.where(fired, 0, v)
            else:
                if report.reset == "subtract":
                    v = beta * v + current - theta * fired
                else:
                    v = np.where(fired, 0.0, beta * v) + current
                fired = v > theta
            spikes[:, t] = fired
        out.append(spikes)
        spikes_in = spikes.astype(np.float64)
    return out


def _float_correlate(maps, kernel, stride, padding, *, per_channel=False):
    """NIR's Conv2d (``kernel`` ``[C_out, C_in, kh, kw]``) or, ``per_channel``, a sum pool
    (``kernel`` ``[1, 1, kh, kw]`` of ones applied to each channel alone) of the float maps
    ``[B, C, H, W]`` with zero padding: one tap at a time, in float64. It is written apart
    from :mod:`.conv` (the integer model's arithmetic) so the two check each other."""
    batch, channels, height, width = maps.shape
    kh, kw = kernel.shape[2:]
    (sy, sx), (py, px) = stride, padding
    out_h, out_w = (height + 2 * py - kh) // sy + 1, (width + 2 * px - kw) // sx + 1
    padded = np.zeros((batch, channels, height + 2 * py, width + 2 * px))
    padded[:, :, py:py + height, px:px + width] = maps
    out = np.zeros((batch, channels if per_channel else kernel.shape[0], out_h, out_w))
    for ky in range(kh):
        for kx in range(kw):
            taps = padded[:, :, ky:ky + sy * (out_h - 1) + 1:sy, kx:kx + sx * (out_w - 1) + 1:sx]
            if per_channel:
                out += kernel[0, 0, ky, kx] * taps
            else:
                out += np.einsum("bchw,oc->bohw", taps, kernel[:, :, ky, kx])
    return out


def _first_spikes(spikes):
    """``[B, N]`` step of each neuron's first spike, -1 where it never fires."""
    first = np.argmax(spikes, axis=1)
    return np.where(spikes.any(axis=1), first, -1)


def compare_with_reference(imported, trains, golden=None):
    """What the quantization does to behaviour: the integer network (the golden model, or its
    result ``golden`` for these trains) beside :func:`float_reference` on the same ``trains``.

    Returns a dict: ``layers`` (per layer ``node``, ``float_spikes``, ``integer_spikes``,
    ``agreement`` — spikes at the same sample, step and neuron over spikes of either, 1.0 when
    neither spikes —, ``max_shift`` — the largest ``|first spike (integer) - first spike
    (float)|`` in steps over the (sample, neuron) pairs where both fire, 0 if none —,
    ``one_only`` — (sample, neuron) pairs where only one of the two fires), ``agreement``
    and ``max_shift`` over all layers, ``samples``, ``steps``, and ``within_bound``:
    agreement >= :data:`AGREEMENT_BOUND`, max_shift <= :data:`SHIFT_BOUND` and one_only 0."""
    from .nir_io import NIRImport
    from .simulate import simulate
    check_instance("imported", imported, NIRImport)
    if getattr(imported.network[0], "direct", False):
        raise ValueError("compare_with_reference takes spike trains; a direct input layer "
                         "(x_bits) reads input values, which the float reference does not "
                         "run")
    reference = float_reference(imported, trains)
    if golden is None:
        golden = simulate(imported.network, np.asarray(trains))
    layers, common, either = [], 0, 0
    for report, floats, ints in zip(imported.layers, reference, golden.spikes):
        ints = np.asarray(ints, dtype=np.bool_).reshape(floats.shape)
        both, any_ = int((floats & ints).sum()), int((floats | ints).sum())
        first_f, first_i = _first_spikes(floats), _first_spikes(ints)
        fire_both = (first_f >= 0) & (first_i >= 0)
        layers.append({
            "node": report.node, "float_spikes": int(floats.sum()),
            "integer_spikes": int(ints.sum()), "agreement": both / any_ if any_ else 1.0,
            "max_shift": int(np.abs(first_i - first_f)[fire_both].max(initial=0)),
            "one_only": int(((first_f >= 0) != (first_i >= 0)).sum())})
        common, either = common + both, either + any_
    agreement = common / either if either else 1.0
    max_shift = max(layer["max_shift"] for layer in layers)
    one_only = sum(layer["one_only"] for layer in layers)
    return {"layers": layers, "agreement": agreement, "max_shift": max_shift,
            "one_only": one_only, "samples": reference[0].shape[0],
            "steps": reference[0].shape[1],
            "within_bound": agreement >= AGREEMENT_BOUND and max_shift <= SHIFT_BOUND
            and one_only == 0}
