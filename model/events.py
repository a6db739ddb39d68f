"""Address events: how spike trains travel through the accelerator (docs/design.md §3).

An event is ``(kind, addr)``: ``SPIKE`` (input ``addr`` fired), ``STEP`` (end of a timestep)
or ``SAMPLE`` (end of a sample). A batch ``[B, T, N]`` becomes, per sample and step, the
step's spikes in ascending address order followed by ``STEP``, and ``SAMPLE`` after the
sample's last step. The hardware's ``EventKind`` uses the same codes.
"""

import numpy as np

__all__ = ["SPIKE", "STEP", "SAMPLE", "event_stream", "sample_starts"]

SPIKE, STEP, SAMPLE = 0, 1, 2


def event_stream(trains):
    """The events of spike trains ``[B, T, N]`` (or ``[T, N]`` for one sample). Values of a
    direct layer (docs/design.md §13) give a ``SPIKE`` per non-zero value, its address only:
    whoever sends the events adds the values (the cycle model charges an event whatever it
    carries)."""
    trains = np.asarray(trains)
    if trains.ndim == 2:
        trains = trains[None]
    events = []
    for sample in trains:
        for step in sample:
            events.extend((SPIKE, int(a)) for a in np.flatnonzero(step))
            events.append((STEP, 0))
        events.append((SAMPLE, 0))
    return events


def sample_starts(trains):
    """Index, in :func:`event_stream` of ``trains`` ``[B, T, N]``, of each sample's first
    event (a sample is its spikes, one ``STEP`` per step and a ``SAMPLE``)."""
    starts, position = [], 0
    for sample in np.asarray(trains):
        starts.append(position)
        position += int(np.count_nonzero(sample)) + sample.shape[0] + 1
    return starts
