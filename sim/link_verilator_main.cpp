// The Verilator driver of spikefab.sim.link_verilator: a UART host on the design's rx/tx lines,
// commanded over stdin/stdout (one line per command, one line per answer).
#include <verilated.h>
#include "Vsf_link_harness.h"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#ifdef SF_TRACE
#include <verilated_fst_c.h>
#endif

struct Segment { int level; uint64_t cycles; };

static VerilatedContext* context;
static Vsf_link_harness* top;
#ifdef SF_TRACE
static VerilatedFstC* trace = nullptr;
#endif
static uint64_t cycle = 0, bit_cycles = 4, framing_errors = 0, line_pending = 0;
static std::deque<Segment> line;            // what the host still has to drive on rx
static std::string received;                // bytes decoded from tx, not yet handed over
static int tx_state = 0, tx_bits = 0;
static uint64_t tx_timer = 0;
static unsigned tx_value = 0;

static inline void half(int clk) {
    top->clk = clk;
    top->eval();
#ifdef SF_TRACE
    if (trace) trace->dump(context->time());
#endif
    context->timeInc(1);
}

static inline void tick() {
    int level = 1;
    if (!line.empty()) {
        Segment& s = line.front();
        level = s.level;
        if (--s.cycles == 0) line.pop_front();
        --line_pending;
    }
    top->rx = level;
    half(0);
    half(1);
    ++cycle;
    unsigned tx = top->tx & 1;
    switch (tx_state) {
    case 0:                                   // idle: a start bit begins
        if (!tx) { tx_state = 1; tx_timer = bit_cycles / 2; }
        break;
    case 1:                                   // to the middle of the start bit
        if (--tx_timer == 0) {
            if (tx) tx_state = 0;             // a glitch
            else { tx_state = 2; tx_timer = bit_cycles; tx_bits = 0; tx_value = 0; }
        }
        break;
    case 2:                                   // data bits, LSB first, at their middles
        if (--tx_timer == 0) {
            tx_value |= tx << tx_bits;
            tx_timer = bit_cycles;
            if (++tx_bits == 8) tx_state = 3;
        }
        break;
    case 3:                                   // the middle of the stop bit
        if (--tx_timer == 0) {
            if (tx) received.push_back((char)tx_value); else ++framing_errors;
            tx_state = 4;
        }
        break;
    default:                                  // wait for the line to be high again
        if (tx) tx_state = 0;
        break;
    }
}

static void push(int level, uint64_t cycles) {
    if (!cycles) return;
    line.push_back({level, cycles});
    line_pending += cycles;
}

static const char HEX[] = "0123456789abcdef";

static void answer(bool with_bytes) {
    std::string out = std::to_string(cycle);
    if (with_bytes) {
        out += ' ';
        for (unsigned char c : received) { out += HEX[c >> 4]; out += HEX[c & 15]; }
        received.clear();
    }
    out += '\n';
    fwrite(out.data(), 1, out.size(), stdout);
    fflush(stdout);
}

static int nibble(char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }

int main(int argc, char** argv) {
    context = new VerilatedContext;
    context->commandArgs(argc, argv);
    if (argc < 5) { fprintf(stderr, "usage: %s bit_cycles reset_cycles startup_cycles trace\n", argv[0]); return 2; }
    bit_cycles = strtoull(argv[1], nullptr, 10);
    uint64_t reset_cycles = strtoull(argv[2], nullptr, 10);
    uint64_t startup_cycles = strtoull(argv[3], nullptr, 10);
    top = new Vsf_link_harness{context};
#ifdef SF_TRACE
    if (strcmp(argv[4], "-") != 0) {
        context->traceEverOn(true);
        trace = new VerilatedFstC;
        top->trace(trace, 99);
        trace->open(argv[4]);
    }
#endif
    top->rx = 1;
    top->rst = reset_cycles ? 1 : 0;
    for (uint64_t i = 0; i < reset_cycles; ++i) tick();
    top->rst = 0;
    for (uint64_t i = 0; i < startup_cycles; ++i) tick();
    cycle = 0;
    std::string text;
    char buffer[1 << 16];
    for (;;) {
        text.clear();
        for (;;) {                            // one whole line, however long
            if (!fgets(buffer, sizeof buffer, stdin)) goto done;
            text += buffer;
            if (!text.empty() && text.back() == '\n') break;
        }
        char op = text[0];
        const char* args = text.c_str() + 1;
        if (op == 'w') {                      // w HEX: bytes onto rx, 8N1
            const char* p = args;
            while (*p == ' ') ++p;
            for (; p[0] && p[1] && p[0] != '\n'; p += 2) {
                unsigned byte = nibble(p[0]) << 4 | nibble(p[1]);
                push(0, bit_cycles);
                for (int b = 0; b < 8; ++b) push(byte >> b & 1, bit_cycles);
                push(1, bit_cycles);
            }
        } else if (op == 'l') {               // l LEVEL CYCLES: a raw line level
            int level; unsigned long long cycles;
            if (sscanf(args, "%d %llu", &level, &cycles) != 2) return 3;
            push(level ? 1 : 0, cycles);
        } else if (op == 'r') {               // r N TIMEOUT: run until N bytes or the deadline
            unsigned long long want, timeout;
            if (sscanf(args, "%llu %llu", &want, &timeout) != 2) return 3;
            uint64_t deadline = cycle + line_pending + timeout;
            while (received.size() < want && cycle < deadline) tick();
            answer(true);
        } else if (op == 'i') {               // i CYCLES: run
            unsigned long long cycles;
            if (sscanf(args, "%llu", &cycles) != 1) return 3;
            for (uint64_t i = 0; i < cycles; ++i) tick();
            answer(false);
        } else if (op == 's') {               // s: cycle, line cycles pending, framing errors
            printf("%llu %llu %llu\n", (unsigned long long)cycle,
                   (unsigned long long)line_pending, (unsigned long long)framing_errors);
            fflush(stdout);
        } else if (op == 'q') {
            break;
        } else {
            return 3;
        }
    }
done:
#ifdef SF_TRACE
    if (trace) trace->close();
#endif
    top->final();
    delete top;
    delete context;
    return 0;
}
