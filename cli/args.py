"""The argparse types of the ``spikefab`` command: a bad value makes argparse answer with one
line naming the flag the user typed and what is allowed, e.g. ``argument --lanes: 0 is out of
range; allowed range is [1, 256]``, before any tool runs (the same ranges as the checks in
:mod:`spikefab.model.checks`, which raise ``ValueError`` for the Python API)."""

import argparse
import os
from pathlib import Path

__all__ = ["EXIT_FORMS", "SizesAction", "add_exit_argument", "exit_flag", "exit_value", "fail",
           "flag_exit",
           "flag_int", "flag_float", "flag_input_file", "flag_input_dir", "flag_output_dir",
           "flag_scheduler", "input_code", "make_output_dir"]


def _flag_number(convert, noun, lo, hi, low_open):
    interval = f"{'(' if low_open else '['}{lo}, {hi}]"

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}; allowed range is "
                                             f"{interval}") from None
        if not (lo < value if low_open else lo <= value) or not value <= hi:
            raise argparse.ArgumentTypeError(f"{text} is out of range; allowed range is "
                                             f"{interval}")
        return value
    parse.__name__ = noun.split()[-1]        # argparse names the type in its own messages
    return parse


def flag_int(lo, hi):
    """An argparse type: an integer in ``[lo, hi]``."""
    return _flag_number(int, "an integer", lo, hi, False)


def flag_float(lo, hi, *, low_open=False):
    """An argparse type: a number in ``[lo, hi]`` (``(lo, hi]`` with ``low_open``)."""
    return _flag_number(float, "a number", lo, hi, low_open)


def flag_input_file(text):
    """An argparse type: an existing, readable file, returned as an absolute path (a tool or
    simulator may run in another folder)."""
    path = Path(text).expanduser().resolve()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text} does not exist (looked for {path})")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a file")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text} is not readable")
    return path


def flag_input_dir(text):
    """An argparse type: an existing folder, returned as an absolute path."""
    path = Path(text).expanduser().resolve()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not an existing folder (looked for {path})")
    return path


def flag_output_dir(text):
    """An argparse type: a folder to write into, returned as an absolute path, resolved against
    the working directory once, where the command starts (so every tool and simulator it runs
    writes to the same place, whatever folder they run in)."""
    path = Path(text).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a folder")
    return path


def flag_scheduler(value):
    """An argparse type: a Dask scheduler for ``spikefab dse``: ``local``, ``serial`` or an
    address ``tcp://host:port`` (or ``tls://…``)."""
    if value in ("local", "serial") or value.startswith("tcp://") or value.startswith("tls://"):
        return value
    raise argparse.ArgumentTypeError(f"{value!r} is not allowed; give local, serial or a "
                                     f"scheduler address tcp://host:port")


def _exit_forms():
    from spikefab.model.early_exit import MAX_MARGIN
    return f"none, exact or margin:N with N an integer in [1, {MAX_MARGIN}]"


#: What ``--exit`` allows, as its error messages and help name it.
EXIT_FORMS = "none, exact or margin:N"


def flag_exit(text):
    """An argparse type: the early-exit rule of ``--exit`` (docs/design.md §2, *Early exit*):
    ``none`` (returned as ``"none"``), ``exact`` (``"exact"``) or ``margin:N``
    (``("margin", N)``, ``N`` in the range :mod:`spikefab.model.early_exit` allows)."""
    from spikefab.model.early_exit import MAX_MARGIN
    if text in ("none", "exact"):
        return text
    kind, colon, value = text.partition(":")
    if kind == "margin" and colon:
        try:
            margin = int(value)
        except ValueError:
            margin = None
        if margin is not None and 1 <= margin <= MAX_MARGIN:
            return ("margin", margin)
        raise argparse.ArgumentTypeError(f"{text!r}: the margin {value!r} is not an integer "
                                         f"in [1, {MAX_MARGIN}]; allowed forms are "
                                         f"{_exit_forms()}")
    raise argparse.ArgumentTypeError(f"{text!r} is not allowed; allowed forms are "
                                     f"{_exit_forms()}")


flag_exit.__name__ = "exit rule"           # argparse names the type in its own messages


def exit_flag(rule):
    """The ``--exit`` value of an early-exit ``rule`` (``None``, ``"exact"``,
    ``("margin", m)`` or an :class:`~spikefab.model.early_exit.ExitRule`): ``"none"``,
    ``"exact"`` or ``"margin:m"``."""
    from spikefab.model.early_exit import exit_rule
    rule = exit_rule(None if rule == "none" else rule)
    if rule is None:
        return "none"
    return "exact" if rule.kind == "exact" else f"margin:{rule.margin}"


def exit_value(value):
    """The rule :func:`spikefab.model.simulate` takes for a parsed ``--exit`` value: ``None``
    for ``"none"`` (or not given), else the value."""
    return None if value in (None, "none") else value


def add_exit_argument(parser, *, default="none", help=None):
    """Add ``--exit none|exact|margin:N`` (:func:`flag_exit`) to ``parser``."""
    parser.add_argument(
        "--exit", type=flag_exit, default=default, metavar="{none,exact,margin:N}",
        help=help or "early exit (docs/design.md §2): none, exact (a sample ends once its "
                     "class can no longer change) or margin:N (once the leading class is N "
                     "spikes ahead of the runner-up; may change the class) (default none)")
    return parser


class SizesAction(argparse.Action):
    """``--sizes N0 N1 ...`` of a reference network: the inputs, then one size per layer, so
    at least two; one size is refused by argparse naming the flag (exit status 2)."""

    def __call__(self, parser, namespace, values, option_string=None):
        if len(values) < 2:
            parser.error(f"argument {option_string}: needs at least two sizes (inputs, then "
                         f"one per layer), not {len(values)}; allowed: 2 or more sizes")
        setattr(namespace, self.dest, list(values))


def make_output_dir(path, flag="--out"):
    """Create the output folder ``path`` (of ``flag``) before a command's work starts; returns
    it as an absolute path, or ends with ``error: cannot create --out …`` naming why."""
    out = Path(path).expanduser().resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SystemExit(f"error: cannot create {flag} {out}: {error.strerror or error}") \
            from None
    return out


def fail(message):
    """The ``SystemExit`` that ends a command with one ``error: <message>`` line (exit status
    1); ``raise fail(...)``."""
    return SystemExit(f"error: {message}")


def input_code(args, network, path, *, encoder=None, steps=None, uses=("encoder", "steps")):
    """Settle ``args.encoder`` and ``args.steps`` that the user left unset (``None``): the
    input code and T the network file ``path`` records (:attr:`spikefab.model.Network.encoder`,
    ``.steps``), else the command's defaults ``encoder`` / ``steps``. An option the user gave
    wins. Prints one line naming the code and T used (those of ``uses``, what the command
    reads) and where each came from; nothing when ``uses`` is empty or nothing comes from the
    file and no option overrides it. A file recording ``spikes`` (given spike trains, e.g.
    mnist-saccades events) cannot code images: one ``error: …`` line unless ``--encoder``
    is given. Returns ``(encoder, steps)``."""
    from spikefab.boards.rebuild import user_path
    name = user_path(path) if path is not None else None
    recorded = {"encoder": getattr(network, "encoder", None),
                "steps": getattr(network, "steps", None)}
    defaults = {"encoder": encoder, "steps": steps}
    sources, notes = {}, {}
    for field in ("encoder", "steps"):
        given = getattr(args, field, None)
        if given is not None:
            sources[field] = f"--{field}"
            if field in uses and recorded[field] is not None and recorded[field] != given:
                notes[field] = f"{name} records {recorded[field]}"
        elif recorded[field] is not None and field in uses:
            setattr(args, field, recorded[field])
            sources[field] = f"recorded in {name}"
        else:
            setattr(args, field, defaults[field])
            sources[field] = "the default" if defaults[field] is not None else None
    if "encoder" in uses and args.encoder == "spikes":
        raise fail(f"{name} records the input code 'spikes' (given spike trains, e.g. "
                   f"mnist-saccades events), which does not code images; give the trains "
                   f"(--spikes or --dataset mnist-saccades where the command takes them) or "
                   f"--encoder rate|latency")
    direct = bool(getattr(network[0], "direct", False)) if network is not None else False
    if "encoder" in uses and args.encoder is not None and (args.encoder == "direct") != direct:
        raise fail(f"{name} has a direct first layer (x_bits = {network[0].x_bits}): its "
                   f"images go in as values, --encoder direct, not {args.encoder}" if direct
                   else f"--encoder direct needs a network whose first layer takes values "
                   f"(trained with spikefab train --encoder direct); {name}'s takes spikes")
    from_file = any(sources[f] == f"recorded in {name}" for f in uses)
    if not uses or not (from_file or notes):
        return args.encoder, args.steps
    parts = []
    for field in uses:
        value = getattr(args, field)
        if value is None:
            continue
        where = "; ".join(w for w in (sources[field], notes.get(field)) if w)
        parts.append((f"T = {value}" if field == "steps" else str(value), where))
    if len({where for _, where in parts}) == 1:      # one source: named once
        text = f"{', '.join(value for value, _ in parts)} ({parts[0][1]})"
    else:
        text = ", ".join(f"{value} ({where})" for value, where in parts)
    print(f"input code: {text}", flush=True)
    return args.encoder, args.steps
