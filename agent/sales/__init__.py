"""Sales (pure): `checkout` joins a Receipt with the scans of its checkout into a Sale;
`events` turns a Sale into Hellotext events with stable ids. No IO, no clock (time is passed
in). May import agent.receipts, agent.delivery.events (the event model), agent top-level pure
modules (errors, phones, redact) and drivers value types; never daemon, cli, standin or the
IO parts of delivery."""
