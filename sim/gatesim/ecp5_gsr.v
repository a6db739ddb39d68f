// spikefab gate-level harness: global set/reset is not modelled (TRELLIS_FF ignores GSR).
module SGSR(input GSR, input CLK);
endmodule
module GSR(input GSR);
endmodule
