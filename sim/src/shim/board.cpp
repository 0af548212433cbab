// C ABI over the Verilated core top (machine + UART + command decoder, top module `top`) with
// a UART line model on its pins: host bytes are serialised onto uart_rx (8N1, `divisor` clocks
// per bit, back to back), and uart_tx is deserialised by sampling the middle of each bit.
// One clock = clock low, eval, clock high, eval.
#include "Vboard.h"
#include "verilated.h"
#include <cstdint>
#include <deque>

struct PbitBoard {
    VerilatedContext* ctx;
    Vboard* top;
    uint64_t clocks;
    uint32_t divisor;
    // host -> device serialiser
    std::deque<uint8_t> rx_queue;
    bool rx_active;
    uint32_t rx_frame;  // 10 bits: start, data LSB first, stop
    int rx_bit;
    uint32_t rx_count;
    // device -> host deserialiser
    bool tx_active;
    int tx_bit;
    uint32_t tx_count;
    uint32_t tx_shift;
    uint64_t tx_framing_errors;
};

static inline void tick(PbitBoard* s) {
    // the line level for this clock
    if (!s->rx_active && !s->rx_queue.empty()) {
        uint8_t b = s->rx_queue.front();
        s->rx_queue.pop_front();
        s->rx_frame = (1u << 9) | ((uint32_t)b << 1);
        s->rx_active = true;
        s->rx_bit = 0;
        s->rx_count = 0;
    }
    s->top->uart_rx = s->rx_active ? ((s->rx_frame >> s->rx_bit) & 1) : 1;
    s->top->clock = 0;
    s->top->eval();
    s->top->clock = 1;
    s->top->eval();
    s->clocks++;
    if (s->rx_active) {
        if (++s->rx_count == s->divisor) {
            s->rx_count = 0;
            if (++s->rx_bit == 10) s->rx_active = false;
        }
    }
}

// Samples uart_tx after a clock; returns a byte (0..255) when one completes, else -1.
static inline int sample_tx(PbitBoard* s) {
    int line = s->top->uart_tx;
    if (!s->tx_active) {
        if (!line) {
            s->tx_active = true;
            s->tx_bit = 0;
            s->tx_count = 0;
            s->tx_shift = 0;
        }
        return -1;
    }
    s->tx_count++;
    // the middle of bit k is at k * divisor + divisor / 2 clocks after the falling edge
    if (s->tx_count == (uint32_t)s->tx_bit * s->divisor + s->divisor / 2) {
        if (s->tx_bit == 0) {
            if (line) { s->tx_active = false; }  // glitch
        } else if (s->tx_bit <= 8) {
            s->tx_shift |= (uint32_t)line << (s->tx_bit - 1);
        } else {
            s->tx_active = false;
            if (!line) s->tx_framing_errors++;
            return (int)(s->tx_shift & 0xFF);
        }
        s->tx_bit++;
    }
    return -1;
}

extern "C" {

void* pbit_board_new(uint32_t divisor) {
    PbitBoard* s = new PbitBoard;
    s->ctx = new VerilatedContext;
    s->top = new Vboard{s->ctx, "top"};
    s->clocks = 0;
    s->divisor = divisor;
    s->rx_active = false;
    s->rx_frame = 0;
    s->rx_bit = 0;
    s->rx_count = 0;
    s->tx_active = false;
    s->tx_bit = 0;
    s->tx_count = 0;
    s->tx_shift = 0;
    s->tx_framing_errors = 0;
    s->top->clock = 0;
    s->top->uart_rx = 1;
    s->top->eval();
    return s;
}

void pbit_board_free(void* h) {
    PbitBoard* s = static_cast<PbitBoard*>(h);
    s->top->final();
    delete s->top;
    delete s->ctx;
    delete s;
}

// Queues host bytes for uart_rx.
void pbit_board_write(void* h, const uint8_t* data, uint64_t len) {
    PbitBoard* s = static_cast<PbitBoard*>(h);
    for (uint64_t i = 0; i < len; i++) s->rx_queue.push_back(data[i]);
}

// Host bytes not yet fully on the line.
uint64_t pbit_board_pending(void* h) {
    PbitBoard* s = static_cast<PbitBoard*>(h);
    return s->rx_queue.size() + (s->rx_active ? 1 : 0);
}

// Runs up to max_clocks clocks, storing bytes from uart_tx in out (at most cap); stops early
// once `stop_after` bytes (>0) have been received. Returns the number of bytes stored.
uint64_t pbit_board_run(void* h, uint64_t max_clocks, uint8_t* out, uint64_t cap,
                        uint64_t stop_after) {
    PbitBoard* s = static_cast<PbitBoard*>(h);
    uint64_t n = 0;
    for (uint64_t i = 0; i < max_clocks && n < cap; i++) {
        tick(s);
        int b = sample_tx(s);
        if (b >= 0) {
            out[n++] = (uint8_t)b;
            if (stop_after && n >= stop_after) break;
        }
    }
    return n;
}

uint64_t pbit_board_clocks(void* h) { return static_cast<PbitBoard*>(h)->clocks; }

uint64_t pbit_board_tx_framing_errors(void* h) {
    return static_cast<PbitBoard*>(h)->tx_framing_errors;
}

// led_busy | led_bad_frame << 1 | led_overflow << 2 | led_tx << 3, and bit 4: a byte is
// being received from uart_tx.
uint32_t pbit_board_status(void* h) {
    PbitBoard* s = static_cast<PbitBoard*>(h);
    return (uint32_t)s->top->led_busy | ((uint32_t)s->top->led_bad_frame << 1) |
           ((uint32_t)s->top->led_overflow << 2) | ((uint32_t)s->top->led_tx << 3) |
           ((uint32_t)s->tx_active << 4);
}

}
