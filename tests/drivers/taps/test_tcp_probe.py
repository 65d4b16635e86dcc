"""The tcp tap's probe: a connect to the printer, closed at once, never during a job.

Real sockets on 127.0.0.1: the fake printer records each connection it accepts.
"""

from __future__ import annotations

import socket

from fake_printer import FakeTcpPrinter, free_port, wait_until

from drivers.taps import TapOptions, open_tap


class Sink:
    def feed(self, stream: str, data: bytes) -> None:
        pass

    def end(self, stream: str) -> None:
        pass


def test_the_probe_tells_up_and_down_and_skips_while_a_job_is_in_flight() -> None:
    printer = FakeTcpPrinter().start()
    tap = open_tap(
        TapOptions(name="caja", mode="tcp", listen=f"127.0.0.1:{free_port()}",
                   target=printer.target),
        Sink(),
    )  # fmt: skip
    tap.start()
    try:
        assert tap.status().printer_connected is False  # nothing printed yet
        assert tap.probe() is True
        assert tap.status().printer_connected is True
        assert wait_until(lambda: printer.accepted == 1)
        assert printer.connections == [], "a probe sends nothing to the printer"

        host, port = tap.options.listen.rsplit(":", 1)
        with socket.create_connection((host, int(port))) as pos:  # a job in flight
            pos.sendall(b"\x1b@hola\n")
            assert wait_until(lambda: printer.accepted == 2 and len(printer.connections) == 1)
            assert tap.probe() is None, "skipped: the printer may take one connection at a time"
            assert printer.accepted == 2
        assert wait_until(lambda: tap.probe() is not None)

        printer.stop()  # switched off: the probe says so before the next job
        assert tap.probe() is False
        assert tap.status().printer_connected is False
    finally:
        tap.stop()
        printer.stop()
