// Waveforms for any Verilated shim (the dense machine's, the board's, a sparse machine's):
// compiled in only when the build defines PBIT_TRACE_VCD or PBIT_TRACE_FST (and Verilates with
// --trace or --trace-fst); otherwise PbitTrace is empty and every call below is a no-op the
// compiler removes. A shim holds one PbitTrace, opens it after constructing its model (with
// traceEverOn set on the context first), calls pbit_trace_edge after each eval of a clock edge
// and pbit_trace_close before deleting the model. The trace stops after `clocks` clocks.
#pragma once
#include <cstdint>
#if defined(PBIT_TRACE_FST)
#include "verilated_fst_c.h"
typedef VerilatedFstC PbitTraceFile;
#define PBIT_TRACE 1
#elif defined(PBIT_TRACE_VCD)
#include "verilated_vcd_c.h"
typedef VerilatedVcdC PbitTraceFile;
#define PBIT_TRACE 1
#endif

struct PbitTrace {
#ifdef PBIT_TRACE
    PbitTraceFile* file = nullptr;
    uint64_t edges_left = 0;
    uint64_t time = 0;
#endif
};

// Whether this build can trace.
static inline int pbit_trace_compiled() {
#ifdef PBIT_TRACE
    return 1;
#else
    return 0;
#endif
}

// Opens `path` for `top` (levels: every level of the hierarchy); at most `clocks` clocks.
template <class Top>
static inline int pbit_trace_open(PbitTrace& t, Top* top, const char* path, uint64_t clocks) {
#ifdef PBIT_TRACE
    t.file = new PbitTraceFile;
    top->trace(t.file, 99);
    t.file->open(path);
    if (!t.file->isOpen()) {
        delete t.file;
        t.file = nullptr;
        return 1;
    }
    t.edges_left = 2 * clocks;
    t.time = 0;
    return 0;
#else
    (void)t; (void)top; (void)path; (void)clocks;
    return 2;
#endif
}

// After the eval of a clock edge: one time step of the waveform (two per clock).
static inline void pbit_trace_edge(PbitTrace& t) {
#ifdef PBIT_TRACE
    if (t.file && t.edges_left) {
        t.file->dump(t.time);
        t.edges_left--;
        if (!t.edges_left) t.file->flush();
    }
    t.time++;
#else
    (void)t;
#endif
}

static inline void pbit_trace_close(PbitTrace& t) {
#ifdef PBIT_TRACE
    if (t.file) {
        t.file->close();
        delete t.file;
        t.file = nullptr;
    }
#else
    (void)t;
#endif
}
