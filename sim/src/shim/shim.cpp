// C ABI over the Verilated machine (top module `top`): the Rust driver loads this with
// libloading. One clock = clock low, eval, clock high, eval; inputs change while the clock is
// low, so the machine samples them at the next rising edge.
#include "Vtop.h"
#include "verilated.h"
#include "trace.h"
#include <cstdint>

struct PbitSim {
    VerilatedContext* ctx;
    Vtop* top;
    uint64_t clocks;
    PbitTrace trace;
};

static inline void tick(PbitSim* s) {
    s->top->clock = 0;
    s->top->eval();
    pbit_trace_edge(s->trace);
    s->top->clock = 1;
    s->top->eval();
    pbit_trace_edge(s->trace);
    s->clocks++;
}

extern "C" {

void* pbit_sim_new() {
    PbitSim* s = new PbitSim;
    s->ctx = new VerilatedContext;
    if (pbit_trace_compiled()) s->ctx->traceEverOn(true);
    s->top = new Vtop{s->ctx, "top"};
    s->clocks = 0;
    s->top->clock = 0;
    s->top->write_en = 0;
    s->top->write_addr = 0;
    s->top->write_data = 0;
    s->top->read_addr = 0;
    s->top->sample_ready = 0;
    s->top->eval();
    tick(s);
    return s;
}

void pbit_sim_free(void* h) {
    PbitSim* s = static_cast<PbitSim*>(h);
    s->top->final();
    pbit_trace_close(s->trace);
    delete s->top;
    delete s->ctx;
    delete s;
}

// A write reaches the core one clock later (wrapper.v); writes pipeline one per clock.
void pbit_sim_write(void* h, uint32_t addr, uint32_t data) {
    PbitSim* s = static_cast<PbitSim*>(h);
    s->top->write_en = 1;
    s->top->write_addr = addr;
    s->top->write_data = data;
    tick(s);
    s->top->write_en = 0;
}

// The harness registers the inputs (wrapper.v), as a board's core top does: read data is valid
// `clocks` (pbit_spec::regmap::BUS_READ_CLOCKS, passed by the driver) after the address.
uint32_t pbit_sim_read(void* h, uint32_t addr, uint32_t clocks) {
    PbitSim* s = static_cast<PbitSim*>(h);
    s->top->read_addr = addr;
    for (uint32_t i = 0; i < clocks; i++) tick(s);
    return s->top->read_data;
}

// sample_ready high for one clock: the host has read the pending sample. After the second
// clock the machine has taken it (sample_valid is low unless the next sample is due).
void pbit_sim_ack_sample(void* h) {
    PbitSim* s = static_cast<PbitSim*>(h);
    s->top->sample_ready = 1;
    tick(s);
    s->top->sample_ready = 0;
    tick(s);
}

// Runs clocks until the machine is idle or a sample is pending, at most max_clocks.
// Returns 0: idle, 1: sample pending, 2: max_clocks reached.
int pbit_sim_run(void* h, uint64_t max_clocks) {
    PbitSim* s = static_cast<PbitSim*>(h);
    for (uint64_t i = 0; i < max_clocks; i++) {
        if (s->top->sample_valid) return 1;
        if (!s->top->busy) return 0;
        tick(s);
    }
    return 2;
}

void pbit_sim_tick(void* h, uint64_t n) {
    PbitSim* s = static_cast<PbitSim*>(h);
    for (uint64_t i = 0; i < n; i++) tick(s);
}

// Starts a waveform of the next `clocks` clocks into `path`. 0: tracing; 1: the file could not
// be opened; 2: this build has no tracing compiled in.
int pbit_sim_trace_open(void* h, const char* path, uint64_t clocks) {
    PbitSim* s = static_cast<PbitSim*>(h);
    return pbit_trace_open(s->trace, s->top, path, clocks);
}

uint64_t pbit_sim_clocks(void* h) {
    return static_cast<PbitSim*>(h)->clocks;
}

}
