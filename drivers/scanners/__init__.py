"""Barcode scanners: `base` (Scan, the pure framer, the reader thread lifecycle), `serial`
(pyserial URLs), `hid` (keyboard-wedge scanners via evdev, with `keymaps`), `barcodes` (what a
code means: GTIN, variable-measure, QR payloads; pure). Imports nothing from agent/."""
