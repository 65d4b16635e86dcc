"""Ingest: the local endpoint for in-store apps (a check-in tablet, a kiosk, a web app). It
speaks Hellotext's `POST /v1/attribution/events`, so an app gains offline safety by changing
its base URL; each event is answered 200 only once it is committed to the outbox.

Holds `app` (the ASGI application: auth, size cap, the event model's validation, answers in
Hellotext's error shape), `commit` (group commit: one transaction for every request that
arrived during the previous one), `bounded` (uvicorn's protocol with a connection budget,
header and body deadlines and header caps; /metrics uses it too) and `server` (that server in
a thread of its own, started and drained by the daemon). May import agent.delivery (events,
outbox), agent.config, errors, logs and phones; nothing from cli or daemon (the daemon starts
it), receipts or sales.
"""
