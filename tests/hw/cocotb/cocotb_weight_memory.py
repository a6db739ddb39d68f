"""WeightMemory instances on generated Verilog: every requested column's words, lane by lane,
and the cycle each word appears, against vectors derived from the weight matrices."""

import cocotb
from cocotb.triggers import FallingEdge

from common import field, start, vectors


def port(dut, name, suffix):
    return getattr(dut, f"{name}__{suffix}")


@cocotb.test()
async def columns_stream_as_expected(dut):
    v = vectors()
    await start(dut, [f"{name}__{port}" for name in v
                      for port in ("columns__valid", "columns__payload", "load__valid",
                                   "load__payload")])
    for name, case in v.items():
        lanes, index_w, w_bits, addr_w = (case["lanes"], case["index_width"], case["w_bits"],
                                          case["addr_width"])
        slot = 1 + index_w + w_bits
        requests, expected = case["requests"], case["expected"]
        columns_valid = port(dut, name, "columns__valid")
        columns_payload = port(dut, name, "columns__payload")
        columns_ready = port(dut, name, "columns__ready")
        words_valid = port(dut, name, "words__valid")
        words_payload = port(dut, name, "words__payload")
        accepts, words = [], []
        index, cycle = 0, 0
        while cycle < 2000 and (index < len(requests) or cycle <= accepts[-1] + 20):
            if int(words_valid.value):
                word = words_payload.value
                lanes_got = []
                for p in range(lanes):
                    lane = field(word, p * slot, slot)
                    if field(lane, 0, 1):
                        lanes_got.append([field(lane, 1, index_w),
                                          field(lane, 1 + index_w, w_bits, signed=True)])
                    else:
                        lanes_got.append(None)
                words.append((cycle, field(word, lanes * slot, 1), lanes_got))
            offering = index < len(requests)
            if offering:
                column, gate = requests[index]
                columns_payload.value = column | gate << addr_w
                if int(columns_ready.value):
                    accepts.append(cycle)
                    index += 1
            columns_valid.value = int(offering)
            await FallingEdge(dut.clk)
            cycle += 1
        columns_valid.value = 0
        assert len(accepts) == len(requests), name
        position = 0
        for request, start_cycle, column_words in zip(requests, accepts, expected):
            for k, lanes_expected in enumerate(column_words):
                got_cycle, last, got = words[position]
                assert got_cycle == start_cycle + 2 + k, (name, request, k)
                assert last == (k == len(column_words) - 1), (name, request, k)
                assert got == lanes_expected, (name, request, k, got, lanes_expected)
                position += 1
        assert position == len(words), name
        # Offered back to back, each column costs its word count (1 for an empty column).
        costs = [len(column_words) for column_words in expected]
        assert [b - a for a, b in zip(accepts, accepts[1:])] == costs[:-1], name
        for _ in range(3):
            await FallingEdge(dut.clk)
