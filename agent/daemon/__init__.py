"""The running agent: `service` wires taps, scanners, the pipeline, the outbox and sync under a
scheduler and sd_notify; `pipeline` turns tap streams and scans into sales; `captures` keeps
unread print jobs. IO lives here. May import agent.receipts, agent.sales, agent.delivery
and drivers/ (devices, decoders). Imported only by agent.cli."""
