"""Board-level gate simulation (:mod:`spikefab.sim.gatesim.board`): the iCEBreaker
bitstream's own netlist behind its UART, driven by the host driver, against the golden model
and the cycle model fed with the host's EVENTS frames; a network the bitstream was not built
for is caught; the frame-fed cycle model and the cell count by hand.
"""

import numpy as np
import pytest

from .helpers import needs_tools

board = pytest.importorskip("spikefab.sim.gatesim.board")


def _small_board_case():
    """The link fuzzer's 6-7-3 network (csc, 2 lanes, queue depth 4) and three samples of 80
    steps at 20, 40 and 95 % input activity: the last one has more events than one SPIKES
    frame carries (512 codes), so it goes in two frames."""
    from spikefab.boards.protocol import encode_spikes
    from spikefab.model.events import event_stream
    from spikefab.sim.link_fuzz import fuzz_network
    network, _, _, config = fuzz_network(0)
    activity = np.array([0.2, 0.4, 0.95])[:, None, None]
    trains = np.random.default_rng(3).random((3, 80, network.n_inputs)) < activity
    assert len(encode_spikes(event_stream(trains[2]))) == 2       # two SPIKES frames
    return network, config, trains


@pytest.fixture(scope="module")
def board_run(tmp_path_factory):
    """One iCEBreaker board flow build of the small network and a board-level run of it
    (about 30 s synthesis, 60 s Verilator build, 5 s of simulation)."""
    network, config, trains = _small_board_case()
    folder = tmp_path_factory.mktemp("board-level")
    run = board.run_board_netlist("icebreaker", network, config, trains, build_dir=folder)
    return network, config, trains, folder, run


@pytest.mark.slow
@needs_tools
def test_icebreaker_bitstream_netlist_computes_the_golden_and_cycle_models(board_run):
    """IDENTIFY, then three samples in one session through the real host driver: classes and
    counts as the golden model, every result cycle as the cycle model fed with the SPIKES
    frames at the cycles the host sent them (the third sample in two frames), and the five
    performance counters of every layer as the cycle model's sums."""
    *_, folder, run = board_run
    assert run.problems == []
    assert run.ok and run.identity
    assert (run.samples, run.classes, run.counts, run.cycles) == (3, 3, 3, 3)
    assert run.counters
    assert run.netlist == folder / "synth" / "top.netlist.v"      # the bitstream's own run
    assert (folder / "synth" / "top.bin").exists()
    assert run.cells["SB_RAM40_4K"] >= 1 and run.cells["SB_GB_IO"] == 1
    assert run.loaded_layers == []                  # weights come from the block RAM INITs
    assert [r.cls for r in run.results] == run.golden_classes
    assert [r.cycles for r in run.results] == run.model_cycles
    assert run.model_cycles == sorted(run.model_cycles)        # one session: cycles add up
    assert len(run.reply_gaps) == 1                 # the two-frame sample: one constant gap


@pytest.mark.slow
@needs_tools
def test_board_level_check_fails_on_a_network_the_bitstream_was_not_built_for(board_run):
    """The same shape, neuron parameters and weight layout, one weight of layer 2 changed
    (chosen so that the golden counts change): IDENTIFY still matches (weights are not part of
    it), the inference does not, and the run reports it — from the cached build, with a RESET
    before every sample."""
    from spikefab.model import Network, simulate
    network, config, trains, folder, run = board_run
    golden = simulate(network, trains)
    other = None
    for row, col in zip(*np.nonzero(network[1].weights)):
        weights = network[1].weights.copy()
        weights[row, col] = -weights[row, col] if weights[row, col] != -8 else 7
        candidate = Network([network[0], network[1].replace(weights=weights)])
        if not np.array_equal(simulate(candidate, trains).counts, golden.counts):
            other = candidate
            break
    assert other is not None
    wrong = board.run_board_netlist("icebreaker", other, config, trains, build_dir=folder,
                                    netlist=run.netlist, reset_each=True)
    assert wrong.build_seconds == 0                 # the same Verilator model, from the cache
    assert wrong.identity
    assert not wrong.ok
    assert wrong.counts < 3
    assert any(p.startswith("sample ") for p in wrong.problems), wrong.problems


def test_board_cycle_model_with_one_frame_is_the_link_cycle_model():
    from spikefab.model.events import event_stream
    from spikefab.sim.link_fuzz import link_cycle_model
    network, config, trains = _small_board_case()
    sample = trains[:1]
    finish, stats, last_push = board.board_cycle_model(
        network, sample, config, [(0, len(event_stream(sample)))])
    want_finish, want_stats = link_cycle_model(network, sample, config)
    assert finish == want_finish and stats == want_stats
    assert len(last_push) == 1
    # A later frame shifts the result by the gap when the pipeline has drained meanwhile.
    events = len(event_stream(sample))
    split, _, _ = board.board_cycle_model(network, sample, config,
                                          [(0, events - 1), (100_000, 1)])
    assert split[0] > 100_000
    with pytest.raises(ValueError, match="the frames carry"):
        board.board_cycle_model(network, sample, config, [(0, events - 1)])


def test_netlist_cells_counts_instances():
    text = ("module top(a);\n  wire x;\n  SB_LUT4 #(\n    .LUT_INIT(16'h0001)\n  ) \\a.b  (\n"
            "    .O(x)\n  );\n  SB_DFF \\q_SB_DFF_Q  (\n  );\n  SB_DFF _1_ (\n  );\nendmodule\n")
    assert board.netlist_cells(text) == {"SB_LUT4": 1, "SB_DFF": 2}
