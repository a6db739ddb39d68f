"""PEArray instances on generated Verilog: random words (with repeated neurons in consecutive
words), then a read-and-clear sweep of every row, against sums computed by the test."""

import cocotb
from cocotb.triggers import FallingEdge

from common import field, pack, start, vectors


@cocotb.test()
async def words_accumulate_and_sweep_clears(dut):
    v = vectors()
    await start(dut, [f"{name}__{port}" for name in v
                      for port in ("words__valid", "words__payload", "sweep__valid",
                                   "sweep__payload")])
    for name, case in v.items():
        lanes, rows, index_w, w_bits, acc = (case["lanes"], case["rows"], case["index_width"],
                                             case["w_bits"], case["acc_bits"])
        words_valid = getattr(dut, f"{name}__words__valid")
        words_payload = getattr(dut, f"{name}__words__payload")
        sweep_valid = getattr(dut, f"{name}__sweep__valid")
        sweep_payload = getattr(dut, f"{name}__sweep__payload")
        currents_valid = getattr(dut, f"{name}__currents__valid")
        currents_payload = getattr(dut, f"{name}__currents__payload")
        for step in case["steps"]:
            for word in step["words"]:
                fields = []
                for valid, index, weight in word:
                    fields += [(valid, 1), (index, index_w), (weight, w_bits)]
                words_payload.value = pack(fields + [(0, 1)])
                words_valid.value = 1
                await FallingEdge(dut.clk)
            words_valid.value = 0
            swept = []
            for row in range(rows + 1):
                if row:
                    assert int(currents_valid.value) == 1, name
                    value = int(currents_payload.value)
                    swept.append([field(value, p * acc, acc, signed=True) for p in range(lanes)])
                else:
                    assert int(currents_valid.value) == 0, name
                sweep_valid.value = int(row < rows)
                sweep_payload.value = row % rows
                await FallingEdge(dut.clk)
            sweep_valid.value = 0
            assert swept == step["expected"], (name, swept, step["expected"])
        assert int(getattr(dut, f"{name}__error").value) == 0, name
