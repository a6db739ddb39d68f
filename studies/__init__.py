"""spikefab.studies — the report-writing runs: the digits and MNIST demos, the Spiker+
comparison, the co-design study, the benchmark and the synthesis sweep. Each is a library
function taking its settings and raising exceptions; the command line (:mod:`spikefab.cli`)
reads the flags and ends the process. No study imports another: what they share (the peer's
figures, plots, the exceptions) is :mod:`spikefab.studies.report`."""
