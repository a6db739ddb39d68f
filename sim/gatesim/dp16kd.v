	// --- spikefab gate-level harness: behaviour of the blackbox (see spikefab.sim.gatesim)
	wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
	wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};
	wire [17:0] dia = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};
	wire [17:0] dib = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0};
	reg [17:0] doa_a, doa_b, dob;    // port A's output; port B's low half when 36 bits wide
	wire [17:0] doa = DATA_WIDTH_B == 36 ? doa_b : doa_a;
	assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = doa;
	assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = dob;
	reg [17:0] mem [0:1023];
	integer k;
	initial begin
		for (k = 0; k < 16; k = k + 1) begin
			// INITVAL_00 ... INITVAL_3F: spikefab.sim.gatesim.cells writes one line each here
		end
	end
	wire clka = CLKAMUX == "INV" ? ~CLKA : CLKA;
	wire clkb = CLKBMUX == "INV" ? ~CLKB : CLKB;
	wire wide = DATA_WIDTH_A == 36 || DATA_WIDTH_B == 36;
	// Rows (and 9-bit byte lanes, bit 2 * row offset + byte) a port writes in this cycle.
	wire [9:0] rowa = DATA_WIDTH_A == 36 ? {ada[13:5], 1'b0} : ada[13:4];
	wire [9:0] rowb = DATA_WIDTH_B == 36 ? {adb[13:5], 1'b0} : adb[13:4];
	wire [3:0] bytes_a = DATA_WIDTH_A == 36 ? ada[3:0] : DATA_WIDTH_A == 18 ? {2'b00, ada[1:0]}
	                   : {2'b00, ada[3], ~ada[3]};
	wire [3:0] bytes_b = DATA_WIDTH_B == 18 ? {2'b00, adb[1:0]} : {2'b00, adb[3], ~adb[3]};
	wire [35:0] wdata_a = DATA_WIDTH_A == 36 ? {dib, dia} : DATA_WIDTH_A == 18 ? {18'b0, dia}
	                    : {18'b0, dia[8:0], dia[8:0]};
	wire [35:0] wdata_b = DATA_WIDTH_B == 18 ? {18'b0, dib} : {18'b0, dib[8:0], dib[8:0]};
	// A write with no byte enabled writes nothing (yosys ties WEA to 1 on a 36-bit port and
	// enables the bytes through ADA[3:0]).
	wire write_a = CEA && WEA && !(RESETMODE == "SYNC" && RSTA) && |bytes_a;
	wire write_b = !wide && CEB && WEB && !(RESETMODE == "SYNC" && RSTB) && |bytes_b;
	function [35:0] merged;   // the words of rows row, row + 1 after a write of bytes
		input [35:0] old, data;
		input [3:0] bytes;
		integer b;
		begin
			merged = old;
			for (b = 0; b < 4; b = b + 1)
				if (bytes[b]) merged[9 * b +: 9] = data[9 * b +: 9];
		end
	endfunction
	// Across the ports, a read of cells the other port writes at the same edge is undefined:
	// only the 9-bit lanes being written, not the rest of their row (a dual-port cell has a
	// word line and bit lines per port; the cells of other lanes of the row are not driven).
	function [8:0] undefined;   // neither the old nor the new lane
		input [8:0] old, data;
		undefined = ~old == data ? old ^ 9'h1 : ~old;
	endfunction
	function [1:0] lanes_of;    // the lanes of row r that a write of rows (row, row|1) enables
		input [9:0] r, row;
		input wide;
		input [3:0] bytes;
		lanes_of = (r == row ? bytes[1:0] : 2'b00)
		         | (wide && r == (row | 10'd1) ? bytes[3:2] : 2'b00);
	endfunction
	function [17:0] row_of;     // what a write of rows (row, row|1) puts in row r
		input [9:0] r, row;
		input [35:0] words;
		row_of = r == row ? words[17:0] : words[35:18];
	endfunction
	function [17:0] collided;   // row r as read while the other port writes lanes of it
		input [17:0] old, data;
		input [1:0] lanes;
		collided = {lanes[1] ? undefined(old[17:9], data[17:9]) : old[17:9],
		            lanes[0] ? undefined(old[8:0], data[8:0]) : old[8:0]};
	endfunction
	function [17:0] narrow;     // what a port of width w outputs from rows row, row + 1
		input integer w;
		input [35:0] words;
		input [13:0] ad;
		narrow = w == 9 ? {9'b0, ad[3] ? words[17:9] : words[8:0]} : words[17:0];
	endfunction
	wire [35:0] olda = {mem[rowa | (DATA_WIDTH_A == 36)], mem[rowa]};
	wire [35:0] oldb = {mem[rowb | (DATA_WIDTH_B == 36)], mem[rowb]};
	wire [35:0] newa = merged(olda, wdata_a, bytes_a);
	wire [35:0] newb = merged(oldb, wdata_b, bytes_b);
	// The lanes of the rows a port reads that the other port writes at the same edge.
	wire wide_b = DATA_WIDTH_B == 36;
	wire [9:0] rowb_hi = rowb | 10'd1;
	wire [1:0] hit_b_lo = clka && write_a ? lanes_of(rowb, rowa, DATA_WIDTH_A == 36, bytes_a) : 2'b00;
	wire [1:0] hit_b_hi = clka && write_a && wide_b ? lanes_of(rowb_hi, rowa, DATA_WIDTH_A == 36, bytes_a) : 2'b00;
	wire [1:0] hit_a = clkb && write_b ? lanes_of(rowa, rowb, 1'b0, bytes_b) : 2'b00;
	wire collide_b = |{hit_b_hi, hit_b_lo};
	wire collide_a = |hit_a;

	always @(posedge clka) begin
		if (write_a) begin
			mem[rowa] <= newa[17:0];
			if (DATA_WIDTH_A == 36) mem[rowa | 10'd1] <= newa[35:18];
		end
	end
	always @(posedge clkb) begin
		if (write_b) mem[rowb] <= newb[17:0];
	end
	generate
		if (RESETMODE == "ASYNC") begin
			always @(posedge clka, posedge RSTA)
				if (RSTA) doa_a <= 18'b0;
				else if (CEA && DATA_WIDTH_A != 36) doa_a <= port_a_read(1'b0);
			always @(posedge clkb, posedge RSTB)
				if (RSTB) begin dob <= 18'b0; doa_b <= 18'b0; end
				else if (CEB) port_b_read;
		end else begin
			always @(posedge clka)
				if (RSTA) doa_a <= 18'b0;
				else if (CEA && DATA_WIDTH_A != 36) doa_a <= port_a_read(1'b0);
			always @(posedge clkb)
				if (RSTB) begin dob <= 18'b0; doa_b <= 18'b0; end
				else if (CEB) port_b_read;
		end
	endgenerate
	function [17:0] port_a_read;
		input dummy;
		if (collide_a)
			port_a_read = narrow(DATA_WIDTH_A,
			                     {olda[35:18], collided(olda[17:0], newb[17:0], hit_a)}, ada);
		else if (!write_a || WRITEMODE_A == "READBEFOREWRITE")
			port_a_read = narrow(DATA_WIDTH_A, olda, ada);
		else if (WRITEMODE_A == "WRITETHROUGH")
			port_a_read = narrow(DATA_WIDTH_A, newa, ada);
		else
			port_a_read = doa_a;                     // NORMAL: unchanged while writing
	endfunction
	task port_b_read;
		reg [35:0] words;
		begin
			if (collide_b)
				words = {collided(oldb[35:18], row_of(rowb_hi, rowa, newa), hit_b_hi),
				         collided(oldb[17:0], row_of(rowb, rowa, newa), hit_b_lo)};
			else if (!write_b || WRITEMODE_B == "READBEFOREWRITE")
				words = oldb;
			else if (WRITEMODE_B == "WRITETHROUGH")
				words = newb;
			else
				words = {18'b0, dob};
			if (DATA_WIDTH_B == 36) begin
				doa_b <= words[17:0];
				dob <= words[35:18];
			end else
				dob <= narrow(DATA_WIDTH_B, words, adb);
		end
	endtask
