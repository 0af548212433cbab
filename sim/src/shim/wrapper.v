// Simulation harness around the machine's core `top` (not part of the gateware): it registers
// the bus inputs, so no logic of the core reads a port of the Verilated model and Verilator's
// input region stays small. Every input reaches the core one clock later.
module pbit_sim_top(
    input wire clock,
    input wire write_en,
    input wire [31:0] write_addr,
    input wire [31:0] write_data,
    input wire [31:0] read_addr,
    input wire sample_ready,
    output wire [31:0] read_data,
    output wire sample_valid,
    output wire busy
);
    reg we_q = 1'b0;
    reg [31:0] wa_q = 32'h0;
    reg [31:0] wd_q = 32'h0;
    reg [31:0] ra_q = 32'h0;
    reg ready_q = 1'b0;
    always @(posedge clock) begin
        we_q <= write_en;
        wa_q <= write_addr;
        wd_q <= write_data;
        ra_q <= read_addr;
        ready_q <= sample_ready;
    end
    top core(
        .clock(clock),
        .write_en(we_q),
        .write_addr(wa_q),
        .write_data(wd_q),
        .read_addr(ra_q),
        .read_data(read_data),
        .sample_valid(sample_valid),
        .sample_ready(ready_q),
        .busy(busy),
        .busy_other(1'b0)
    );
endmodule
