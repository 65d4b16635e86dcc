"""The printer taps and scanners of the config, opened and started (before the outbox)."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from typing import Any

from agent.config import AgentConfig
from agent.daemon.pipeline import Pipeline
from agent.delivery.outbox import Outbox
from agent.delivery.status import META_DEVICES
from agent.errors import AgentError
from drivers.scanners.hid import HidScanner
from drivers.scanners.serial import SerialScanner
from drivers.taps import Tap, TapOptions, open_tap

log = logging.getLogger("agent.service")

NO_DEVICES = (
    "0 printers, 0 scanners: nothing to read sales from; add a [[printer]] table for the"
    " POS's receipt printer (or a [[scanner]]) to the config, as in the commented examples"
    " of systemd/agent.toml.example (the packaged /etc/hellotext-agent/agent.toml)"
)


def no_devices(config: AgentConfig) -> str | None:
    """Why a config with no printer and no scanner reads nothing; None when it has a device
    or serves in-store apps (the ingest endpoint with its token): a kiosk-only till is fine."""
    if config.printer or config.scanner:
        return None
    if config.ingest.listen and config.ingest.token is not None:
        return None
    return NO_DEVICES


def warn_if_no_devices(config: AgentConfig) -> None:
    if (why := no_devices(config)) is not None:
        log.warning("%s", why)


def open_devices(
    config: AgentConfig, pipeline: Pipeline
) -> tuple[list[Tap], list[SerialScanner | HidScanner]]:
    taps: list[Tap] = []
    scanners: list[SerialScanner | HidScanner] = []
    fields = {f.name for f in dataclasses.fields(TapOptions)}
    for printer in config.printer:
        options = TapOptions(**{k: v for k, v in printer.model_dump().items() if k in fields})
        appender = pipeline.appenders.get(printer.name)
        tap = open_tap(options, pipeline.sink(printer), appender=appender)
        tap.start()
        taps.append(tap)
    for scanner in config.scanner:
        on_scan = pipeline.scan_callback(scanner.name)
        device: SerialScanner | HidScanner
        if scanner.mode == "serial":
            device = SerialScanner(
                name=scanner.name,
                port=scanner.port,
                baudrate=scanner.baudrate,
                terminator=scanner.terminator,
                prefix=scanner.prefix,
                max_length=scanner.max_length,
                on_scan=on_scan,
            )
        else:
            device = HidScanner(
                name=scanner.name,
                device=scanner.device,
                layout=scanner.layout,
                grab=scanner.grab,
                max_length=scanner.max_length,
                on_scan=on_scan,
            )
        device.start()
        scanners.append(device)
    return taps, scanners


def device_status(
    taps: Sequence[Tap], scanners: Sequence[SerialScanner | HidScanner], pipeline: Pipeline | None
) -> dict[str, Any]:
    """Each tap's and scanner's status, the pipeline's counts and the QR blocks', as plain
    data for `status` (the outbox note) and the status file."""
    stats = pipeline.stats if pipeline else None
    skip = ("latencies", "by_printer")  # samples and the metrics' breakdown: not for status
    return {
        "printers": [dataclasses.asdict(t.status()) for t in taps],
        "scanners": [dataclasses.asdict(s.status()) for s in scanners],
        "pipeline": {k: v for k, v in dataclasses.asdict(stats).items() if k not in skip}
        if stats
        else {},
        "append": {name: a.status() for name, a in pipeline.appenders.items()}
        if pipeline
        else {},
    }


def note_devices(outbox: Outbox | None, last: str, status: dict[str, Any]) -> str:
    """The devices' note in the outbox (for `status`), written only when it changed; the
    text now noted."""
    if outbox is None:
        return last
    text = json.dumps(status, sort_keys=True)
    if text != last:
        try:
            outbox.set_meta(META_DEVICES, text)
        except AgentError as exc:
            log.debug("device note not saved: %s", exc)
            return last
    return text
