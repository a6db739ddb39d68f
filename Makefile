# spikefab — every target sets up its own virtual environment from PyPI on first use and
# then calls the `spikefab` command (the console script of the package; `spikefab --help`).
#
#   make demo      train, compress, co-simulate and synthesize the digits classifier
#   make test      run the whole test suite (toolchain smoke tests included)
#   make docs      the documentation site (docs/, Sphinx) into build/docs/html, warnings as
#                  errors, then its examples run by Sphinx's doctest builder
#   make bench     print benchmark figures (golden-model throughput, ...)
#   make compare   spikefab beside Spiker+ on MNIST 784-128-10 (build/compare/, 20-40 min)
#   make codesign  the co-design study: beta x threshold on MNIST (build/codesign/, ~7 min)
#   make formal    SymbiYosys proofs of the five blocks (build/formal/; also part of make test)
#   make gatesim   gate-level simulation of BOARD's synthesized netlists against the golden and
#                  cycle models: the accelerator as BOARD's yosys maps it (random networks and
#                  the digits network, every spike) and the bitstream's own netlist driven
#                  through its UART by the host driver (build/gatesim/BOARD/, 10-20 min)
#   make fuzz      host-link fuzzing in Verilator: 10,000 seeded frames, 5,000 more with the
#                  on-chip encoder (PIXELS), 2,000 with a direct network (PIXELS only), then
#                  sixteen broken copies of the link that the fuzzer must catch
#                  (build/link-verilator/, ~7 min)
#   make soak      10,000 random network x input co-simulations in Verilator (build/soak/, <1 h)
#   make dse       design-space exploration on Dask: the digits sweep (per-layer P x format x
#                  w_bits x density) through golden model, cycle model, energy estimate and
#                  synthesis of the Pareto points; fronts, table, LHR study (build/dse/, ~16 min;
#                  run again: seconds, from its cache)
#   make verilog   write the hardware blocks' Verilog to build/verilog/
#   make synth     bitstream + resource/Fmax report for BOARD (icebreaker, ulx3s, orangecrab)
#   make prog      program BOARD with openFPGALoader
#   make run       load the network into BOARD on PORT and run samples
#
# Variables: PYTHON (interpreter used to create the venv, >= 3.11), VENV (its folder),
# TORCH and SINABS (what the venv installs besides the test extra; SINABS= leaves Sinabs out),
# PYTEST_ARGS (extra pytest arguments, e.g. PYTEST_ARGS="-k memory -x"), TEST_JOBS (pytest
# workers for make test: auto = one per core, 1 = serial),
# BENCH_ARGS (e.g. BENCH_ARGS="--cosim none"),
# COMPARE_ARGS (e.g. COMPARE_ARGS="--quick" or "--lanes 64 --sweep-lanes 8"),
# CODESIGN_ARGS (e.g. CODESIGN_ARGS="--quick" or "--betas 0.5 1 --thresholds 1 2"),
# VERILOG_ARGS (configuration for make verilog, e.g. VERILOG_ARGS="--lanes 8 --format bitmap"),
# BOARD, PORT, BOARD_ARGS (e.g. BOARD_ARGS="--network my.npz --lanes 8") for synth/prog/run,
# DEMO_ARGS (e.g. DEMO_ARGS="--quick", "--w-bits 8 --density 0.3" or "--dataset mnist"),
# GATESIM_ARGS (e.g. GATESIM_ARGS="--samples 5 --random 2"), FUZZ_ARGS (e.g. "--seed 7"),
# SOAK_ARGS (e.g. SOAK_ARGS="--cases 1000 --seed 7" or "--seed S --only K" to replay one),
# DSE_ARGS (e.g. DSE_ARGS="my-sweep.yaml", "--preset quick" or "--scheduler tcp://host:8786").

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SPIKEFAB := $(VENV)/bin/spikefab
BOARD  ?= icebreaker
PORT   ?=
STAMP  := $(VENV)/.installed-stamp
# The test extra includes training (torch + snnTorch). Pinning the release picks the CPU build
# that lies on this kind of machine's disk instead of a CUDA build of several GB from PyPI;
# TORCH= lets pip choose.
TORCH  ?= torch==2.13.0
# Sinabs runs the NIR paper's Sinabs CNN in the tests (tests/model/test_sinabs_cnn.py). It is
# installed without its declared dependencies, which would pull in its chip SDK (samna) and an
# older nir: the test extra already brings torch, numpy, nir and nirtorch, and `import sinabs`
# needs only pbr besides them. SINABS= leaves it out (that test is then skipped).
SINABS ?= sinabs==3.1.3 pbr
TEST_JOBS ?= auto

.PHONY: all venv test docs bench compare codesign formal gatesim fuzz soak dse demo verilog synth prog run \
        clean distclean

all: test

# The install is redone only when pyproject.toml or this Makefile changes (or the venv is
# missing).
$(STAMP): pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "spikefab needs Python >= 3.11; set PYTHON=python3.11 (found " + sys.version.split()[0] + ")")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH) -e '.[test]'
	$(if $(strip $(SINABS)),$(PY) -m pip install --quiet --no-deps $(SINABS))
	@touch $@

venv: $(STAMP)

# Test files run in parallel, one file per worker at a time (--dist loadfile keeps a file's
# shared builds in one process); TEST_JOBS=1 runs them one after another.
test: $(STAMP)
	$(PY) -m pytest -n $(TEST_JOBS) --dist loadfile $(PYTEST_ARGS)

# The site (HTML, every warning an error) and its executed examples (doctest builder), from one
# set of parsed pages (build/docs/doctrees).
docs: $(STAMP)
	$(PY) -m sphinx -W --keep-going -b html -d build/docs/doctrees docs build/docs/html
	$(PY) -m sphinx -W --keep-going -b doctest -d build/docs/doctrees docs build/docs/doctest

bench: $(STAMP)
	$(SPIKEFAB) bench $(BENCH_ARGS)

compare: $(STAMP)
	$(SPIKEFAB) compare $(COMPARE_ARGS)

codesign: $(STAMP)
	$(SPIKEFAB) codesign $(CODESIGN_ARGS)

formal: $(STAMP)
	$(SPIKEFAB) formal
	$(PY) -m pytest tests/sim/formal $(PYTEST_ARGS)

gatesim: $(STAMP)
	$(SPIKEFAB) gatesim --board $(BOARD) --out build/gatesim/$(BOARD) $(GATESIM_ARGS)

fuzz: $(STAMP)
	$(SPIKEFAB) fuzz --frames 10000 --seed 1 --cache build/link-verilator $(FUZZ_ARGS)
	$(SPIKEFAB) fuzz --frames 5000 --seed 1 --encoder rate --cache build/link-verilator $(FUZZ_ARGS)
	$(SPIKEFAB) fuzz --frames 2000 --seed 1 --encoder direct --cache build/link-verilator $(FUZZ_ARGS)
	$(PY) -m pytest -q tests/sim/test_link_mutants.py tests/sim/test_link_mutants_session.py $(PYTEST_ARGS)

soak: $(STAMP)
	$(SPIKEFAB) soak $(SOAK_ARGS)

dse: $(STAMP)
	$(SPIKEFAB) dse $(DSE_ARGS)

verilog: $(STAMP)
	$(SPIKEFAB) verilog $(VERILOG_ARGS)

synth: $(STAMP)
	$(SPIKEFAB) synth --board $(BOARD) $(BOARD_ARGS)

prog: $(STAMP)
	$(SPIKEFAB) prog --board $(BOARD) $(BOARD_ARGS)

run: $(STAMP)
	$(SPIKEFAB) run --board $(BOARD) --port "$(PORT)" $(BOARD_ARGS)

demo: $(STAMP)
	$(SPIKEFAB) demo $(DEMO_ARGS)

clean:
	rm -rf build .pytest_cache .hypothesis

distclean: clean
	rm -rf $(VENV) *.egg-info
