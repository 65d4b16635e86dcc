"""The local Hellotext stand-in for the demo, tests and benchmarks: `server` (state, faults,
what it accepted), `http` (the threaded HTTP plumbing), `rules` (request validation as Hellotext
documents it). May import agent top-level modules and agent.delivery.events; nothing from cli,
daemon, receipts or sales."""
