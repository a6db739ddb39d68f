"""Every flag of every ``spikefab`` command, given a value of the wrong kind or out of
range, is refused by argparse in one line naming the flag (exit status 2), before any work
starts. The flags are found by walking the real parser, so a new flag is covered too."""

import argparse
from pathlib import Path

import pytest

from spikefab.cli import parser
from spikefab.cli.args import flag_output_dir

ROOT = Path(__file__).resolve().parent.parent

BAD_VALUES = ("not-a-number", "-99999999999", "1e999")


def _commands():
    """``(argv prefix, subparser)`` for every command and sub-command."""
    found = []

    def walk(prefix, p):
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            found.append((prefix, p))
        for action in subs:
            for name, sub in action.choices.items():
                walk(prefix + [name], sub)

    walk([], parser())
    return found


def _flags():
    cases = []
    for prefix, p in _commands():
        required = [a for a in p._actions if not a.option_strings and
                    not isinstance(a, argparse._SubParsersAction)]
        if required:          # positional inputs (a file): give the parser an existing one
            prefix = prefix + ["pyproject.toml"] * len(required)
        for action in p._actions:
            if not action.option_strings or action.nargs == 0:
                continue
            flag = max(action.option_strings, key=len)
            if action.choices is not None:
                cases.append((prefix, flag, "no-such-choice"))
            elif action.type is flag_output_dir:   # an existing file is not a folder
                cases.append((prefix, flag, "pyproject.toml"))
            elif action.type not in (None, str, Path):  # a Path to write may be any name
                cases.append((prefix, flag, None))
    return cases


CASES = _flags()


def test_the_walk_finds_the_commands():
    names = {" ".join(prefix) for prefix, _ in _commands()}
    assert {"synth", "demo", "compare", "train", "codesign", "nir import",
            "nir export"} <= names
    assert len(CASES) > 60


@pytest.mark.parametrize("prefix,flag,value", CASES,
                         ids=[" ".join(c[0][:2]) + " " + c[1] for c in CASES])
def test_bad_flag_values_are_refused_naming_the_flag(prefix, flag, value, capsys,
                                                     monkeypatch):
    monkeypatch.chdir(ROOT)
    values = [value] if value is not None else list(BAD_VALUES)
    refused = 0
    for bad in values:
        try:
            parser().parse_args(prefix + [flag, bad])
        except SystemExit as exit_:
            err = capsys.readouterr().err.strip().splitlines()
            assert exit_.code == 2 and err, err
            assert err[-1].split(": error: ", 1)[-1].startswith(f"argument {flag}"), err[-1]
            refused += 1
    assert refused == len(values)      # text, a huge negative number and infinity alike


def _value_options():
    """``(command, action)`` for every option that takes a value."""
    return [(" ".join(prefix), action) for prefix, p in _commands() for action in p._actions
            if action.option_strings and action.nargs != 0
            and action.dest not in ("help", "version")]


OPTIONS = _value_options()


@pytest.mark.parametrize("command,action", OPTIONS,
                         ids=[f"{c} {max(a.option_strings, key=len)}" for c, a in OPTIONS])
def test_every_option_says_what_it_does_and_its_default(command, action):
    """The README's promise: ``spikefab <command> --help`` shows every option's meaning and
    its default (or that it is required, or that it has none)."""
    text = " ".join((action.help or "").split())
    flag = max(action.option_strings, key=len)
    assert len(text) > 10, f"spikefab {command} {flag} has no help"
    assert action.required or "default" in text or "required" in text, \
        f"spikefab {command} {flag} does not show its default: {text!r}"


def test_the_help_walk_finds_the_options():
    flags = {(c, max(a.option_strings, key=len)) for c, a in OPTIONS}
    assert {("synth", "--board"), ("verilog", "--seed"), ("nir import", "--leak-mode"),
            ("nir export", "--dt"), ("bench", "--cosim")} <= flags
