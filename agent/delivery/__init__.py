"""Delivery: the event model (`events`, pure), the SQLite outbox (`outbox`, `schema`), the sync
engine (`sync`, `status`), the Hellotext client (`hellotext`), profile look-ups (`profiles`) and
retry timing (`backoff`). May import agent top-level modules (config, errors, logs, phones,
redact) and nothing from cli, daemon, receipts or sales; pure packages may import
`agent.delivery.events` and nothing else from here."""
