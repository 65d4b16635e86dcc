"""Printer byte streams to documents (pure): `decoder` (incremental ESC/POS decoder with
feed/flush), `commands` and `tables` (command lengths), `codepages`, `document` (the value it
produces), `raster` (raster graphics and Star Graphic Mode assembled into exact 1-bit
pictures), `builder` (bytes for tests and the demo). No IO; imports nothing from agent/ and
nothing from drivers.taps or drivers.scanners."""
