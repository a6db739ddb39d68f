"""``spikefab fuzz``'s command line: a short run, and a failure ending in one ``error: …``
line after the details (the fuzzer itself is tests/sim/test_link_fuzz.py, its mutants
tests/sim/test_link_mutants.py)."""

from types import SimpleNamespace

import pytest

from spikefab.cli import main


def test_a_short_fuzz_passes(capsys):
    assert main(["fuzz", "--frames", "60", "--seed", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("link fuzz: seed 3, 60 frames, 600 inputs, format csc, mode sparse, "
                      "divisor 4")
    assert any("result: PASS" in line for line in out)


def test_a_short_fuzz_of_the_6_input_network_sends_no_skip_codes(capsys):
    """``--inputs 6``: the network before issue 23 (the gate-level board test's, its build
    shared with tests/sim/test_link_verilator.py), where no spike frame needs a SKIP."""
    assert main(["fuzz", "--frames", "60", "--seed", "3", "--inputs", "6"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("link fuzz: seed 3, 60 frames, 6 inputs, format csc, mode sparse, "
                      "divisor 4")
    [line] = [line for line in out if line.startswith("valid SPIKES and INFER frames on the")]
    assert line.startswith("valid SPIKES and INFER frames on the 6-input network: ")
    assert ", 0 of them with SKIP codes (0 SKIP codes; 0 frames with two in a row)" in line
    assert any("result: PASS" in line for line in out)


def test_a_failure_ends_in_an_error_line_after_the_replay(monkeypatch, capsys):
    from spikefab.sim import link_fuzz
    failure = "FAILURE at seed 5, burst 0, frame 1: ...\nreplay: spikefab fuzz --seed 5 --frames 2"
    report = SimpleNamespace(failure=failure, summary=lambda: "result: FAIL")
    monkeypatch.setattr(link_fuzz, "run_fuzz", lambda *args, **options: report)
    with pytest.raises(SystemExit) as exit_:
        main(["fuzz", "--frames", "2", "--seed", "5"])
    assert exit_.value.code == ("error: the host link failed the fuzz (seed 5); the replay "
                                "command is above")
    assert capsys.readouterr().out.splitlines()[-1] == "replay: spikefab fuzz --seed 5 --frames 2"


def test_mutants_are_not_a_command_line_option(capsys):
    """The broken links the fuzzer must catch live with the tests (test_link_mutants.py)."""
    with pytest.raises(SystemExit) as exit_:
        main(["fuzz", "--mutants"])
    assert exit_.value.code == 2
    assert "unrecognized arguments: --mutants" in capsys.readouterr().err


def test_a_short_fuzz_with_early_exit(capsys):
    """``--exit``: the link is built and checked with the rule (tests/sim/test_link_fuzz.py
    has the longer run); with the dense baseline it is refused in one line."""
    assert main(["fuzz", "--frames", "60", "--seed", "3", "--exit", "exact"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("link fuzz: seed 3, 60 frames, 600 inputs, format csc, mode sparse, "
                      "divisor 4, early exit exact")
    assert any(line.startswith("early exit exact: ") for line in out)
    assert any("result: PASS" in line for line in out)
    with pytest.raises(SystemExit) as exit_:
        main(["fuzz", "--frames", "60", "--mode", "dense", "--exit", "margin:2"])
    assert exit_.value.code == ("error: --exit margin:2 needs --mode sparse (early exit runs "
                                "on the event-driven cores; the dense baseline has none)")


def test_a_short_fuzz_of_a_direct_network(capsys):
    """``--encoder direct``: a direct first layer, its samples only as PIXELS
    (tests/sim/test_link_fuzz.py has the longer run); the dense baseline, which takes spikes
    only, is refused in one line."""
    assert main(["fuzz", "--frames", "60", "--seed", "3", "--encoder", "direct"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("link fuzz: seed 3, 60 frames, 600 inputs, format csc, mode sparse, "
                      "divisor 4, on-chip direct encoder")
    assert any(line.startswith("on-chip direct encoder: ") and "BAD_COMMAND" in line
               for line in out)
    assert any("result: PASS" in line for line in out)
    with pytest.raises(SystemExit) as exit_:
        main(["fuzz", "--frames", "60", "--mode", "dense", "--encoder", "direct"])
    assert exit_.value.code == ("error: --encoder direct needs --mode sparse (the dense "
                                "baseline takes spikes only), not --mode dense")
