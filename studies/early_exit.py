"""Early exit on the reference networks: accuracy, steps and cycles per rule (issue 23 §3).

``python -m spikefab.studies.early_exit`` (or ``main(images=N)``) prints, for the MNIST
reference network (:func:`spikefab.model.mnist_reference`, 784-128-10, T = 25, the bundled
1,000-image test split) and the digits demo's network
(:func:`spikefab.model.digits_network`, 64-128-10, T = 32, its 360 test images), under no
exit, ``exact`` and ``("margin", m)`` for m = 1..4: the golden model's accuracy, how many
images keep the full-T class, the mean steps run, and the cycle model's mean cycles of an
image run alone (first input event to result) on the MNIST demo's configuration (P = 128, S
= 8 in the hidden layer, the output layer fully parallel, dense format) and on the digits
demo's (P = 4, csc). ``images=N`` limits the cycle-model images (the first N; the accuracy
always covers the whole split).
"""

import numpy as np

from spikefab.hw.accelerator import hardware_config
from spikefab.model import DIGITS, HardwareConfig, cycle_model, encode_images, simulate
from spikefab.model.encoders import encode

__all__ = ["RULES", "exit_table", "main"]

RULES = (None, "exact", ("margin", 1), ("margin", 2), ("margin", 3), ("margin", 4))


def _name(rule):
    return "none" if rule is None else rule if isinstance(rule, str) else f"margin {rule[1]}"


def exit_table(network, trains, labels, config, *, images=None):
    """One row per rule of :data:`RULES`: ``rule``, ``accuracy``, ``same`` (fraction with
    the full-T class), ``steps`` (mean steps run) and ``cycles`` (mean cycle-model cycles of
    an image alone, over the first ``images``)."""
    full = simulate(network, trains)
    count = len(trains) if images is None else min(images, len(trains))
    rows = []
    for rule in RULES:
        result = simulate(network, trains, exit=rule)
        cycles = [int(cycle_model(network, simulate(network, trains[i], exit=rule),
                                  config).latency[0]) for i in range(count)]
        rows.append({"rule": _name(rule),
                     "accuracy": float(np.mean(result.predicted == labels)),
                     "same": float(np.mean(result.predicted == full.predicted)),
                     "steps": float(np.mean(result.ran)), "cycles": float(np.mean(cycles)),
                     "images": count})
    return rows


def _print(title, rows):
    print(title)
    base = rows[0]
    print("| rule | accuracy | same class as full T | mean steps | mean cycles (alone) "
          "| cycles saved |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        saved = 1 - r["cycles"] / base["cycles"]
        print(f"| {r['rule']} | {100 * r['accuracy']:.2f} % | {100 * r['same']:.1f} % "
              f"| {r['steps']:.2f} | {r['cycles']:.0f} | {100 * saved:.1f} % |")
    print()


def main(images=None):
    """Print both tables (markdown); ``images``: the cycle model's images per rule and
    network (default: all)."""
    from spikefab.model import digits_network, mnist_reference
    ref = mnist_reference(steps=25)
    trains = encode("rate", ref.test_images.astype(np.int64), 25)
    config = hardware_config(ref.network, 128, 8, "dense")
    _print(f"MNIST reference 784-128-10, T = 25, {len(trains)} test images; "
           f"{config.describe()}", exit_table(ref.network, trains, ref.test_labels, config,
                                             images=images))
    network, split, _ = digits_network()
    trains = encode_images(split.x_test, DIGITS["steps"], DIGITS["encoder"])
    config = HardwareConfig.uniform(network, lanes=DIGITS["lanes"], format=DIGITS["format"])
    _print(f"digits 64-128-10, T = {DIGITS['steps']}, {len(trains)} test images; "
           f"{config.describe()}", exit_table(network, trains, split.y_test, config,
                                             images=images))


if __name__ == "__main__":
    main()
