	// spikefab gate-level harness: a read of the word the write port writes at the same
	// clock edge is undefined on the device; return a word that is neither old nor new data.
	wire [10:0] COLLIDE_MASK_I = READ_MODE == WRITE_MODE ? (11'h0ff << READ_MODE) | 11'h0ff
	                                                   : 11'h0ff;
	wire [15:0] OLD_I = memory[RADDR[7:0]];
	wire COLLIDE_I = WCLK && WE && WCLKE && ((WADDR ^ RADDR) & COLLIDE_MASK_I) == 11'h0;
	always @(posedge RCLK) begin
		if (RE && RCLKE) begin
			if (COLLIDE_I)
				RDATA_I <= (~OLD_I == WDATA_I ? OLD_I ^ 16'h1 : ~OLD_I) & ~RMASK_I;
			else
				RDATA_I <= memory[RADDR[7:0]] & ~RMASK_I;
		end
	end
