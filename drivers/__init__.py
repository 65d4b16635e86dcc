"""Device drivers: printer taps, scanners and pure decoders. Imports nothing from agent/."""
