"""The tcp tap against a real fake printer on 127.0.0.1: outages, reconnects, concurrency."""

from __future__ import annotations

import logging
import socket

import pytest
from fake_printer import FakeTcpPrinter, wait_until
from tap_rigs import RecordingSink

from drivers.taps import TapOptions
from drivers.taps.tcp import TcpTap, split_host_port


@pytest.fixture
def offline_port() -> int:
    """A port where a printer will be switched on later (nothing listens there now)."""
    probe = FakeTcpPrinter().start()
    port = probe.port
    probe.stop()
    return port


def make_tap(port: int, sink: RecordingSink) -> TcpTap:
    tap = TcpTap(TapOptions("caja", "tcp", listen="127.0.0.1:0", target=f"127.0.0.1:{port}"),
                 sink, connect_timeout=1.0)
    tap.start()
    return tap


def pos_job(tap: TcpTap, data: bytes) -> bytes:
    """Print like a POS that waits for the printer's answers: send, half-close, read all."""
    with socket.create_connection(tap.address, timeout=3) as pos:
        pos.sendall(data)
        pos.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := pos.recv(4096):
            answer += chunk
        return answer


def test_unreachable_printer_is_not_hidden_and_its_return_is_reported(
    offline_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    sink = RecordingSink()
    tap = make_tap(offline_port, sink)
    try:
        for _ in range(3):  # the POS retries; each attempt is refused, one log line in all
            with pytest.raises(ConnectionResetError):
                pos_job(tap, b"receipt while the printer is off\n")
        status = tap.status()
        assert not status.printer_connected and status.listening
        assert status.last_error and "cannot connect" in status.last_error
        assert status.jobs == 0 and sink.events == []
        outage_logs = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(outage_logs) == 1

        printer = FakeTcpPrinter(offline_port).start()  # switched back on
        try:
            assert pos_job(tap, b"back\n\x10\x04\x01") == b"\x16"
            assert printer.received() == b"back\n\x10\x04\x01"
            status = tap.status()
            assert status.printer_connected and status.reopens == 1
            assert status.last_error is not None  # what happened last stays visible
        finally:
            printer.stop()
    finally:
        tap.stop(2)


def test_printer_dropping_mid_job_resets_the_pos(offline_port: int) -> None:
    printer = FakeTcpPrinter(offline_port).start()
    tap = make_tap(offline_port, RecordingSink())
    try:
        with socket.create_connection(tap.address, timeout=3) as pos:
            pos.sendall(b"first half\n")
            assert wait_until(lambda: printer.received() == b"first half\n")
            printer.stop()  # power cut
            with pytest.raises((ConnectionResetError, BrokenPipeError)):
                for _ in range(50):  # the error surfaces on a later write or read
                    pos.sendall(b"second half\n" * 100)
                    wait_until(lambda: False, 0.02)
                pos.recv(1)
        assert wait_until(lambda: not tap.status().printer_connected)
        assert tap.alive()
    finally:
        tap.stop(2)


def test_concurrent_jobs_keep_their_own_connection_and_stream(offline_port: int) -> None:
    printer = FakeTcpPrinter(offline_port).start()
    sink = RecordingSink()
    tap = make_tap(offline_port, sink)
    try:
        jobs = [f"job {n}\n".encode() * 500 for n in range(3)]
        socks = [socket.create_connection(tap.address, timeout=3) for _ in jobs]
        for piece in range(0, len(jobs[0]), 600):  # interleaved writes from three POS
            for sock, job in zip(socks, jobs, strict=True):
                sock.sendall(job[piece:piece + 600])
        for sock in socks:
            sock.close()
        assert wait_until(lambda: sink.ends() == 3)
        assert sorted(bytes(c) for c in printer.connections) == sorted(jobs)
        by_stream = dict(sink.jobs())
        assert len(by_stream) == 3 and sorted(by_stream.values()) == sorted(jobs)
        assert tap.status().jobs == 3
    finally:
        tap.stop(2)
        printer.stop()


@pytest.mark.parametrize(("text", "expected"), [
    ("0.0.0.0:9100", ("0.0.0.0", 9100)),
    ("[::1]:9100", ("::1", 9100)),
    (":9100", ("0.0.0.0", 9100)),
])
def test_listen_and_target_addresses(text: str, expected: tuple[str, int]) -> None:
    assert split_host_port(text) == expected


@pytest.mark.parametrize("text", ["printer", "host:99999", "host:abc"])
def test_bad_addresses_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        split_host_port(text)


def test_a_port_in_use_fails_start_cleanly(offline_port: int) -> None:
    from drivers.errors import DeviceError

    first = make_tap(offline_port, RecordingSink())
    try:
        host, port = first.address
        second = TcpTap(TapOptions("caja", "tcp", listen=f"{host}:{port}",
                                   target=f"127.0.0.1:{offline_port}"), RecordingSink())
        with pytest.raises(DeviceError, match="cannot listen"):
            second.start()
        assert not second.alive() and not second.status().listening
        assert not second.feeder.alive(), "a failed start leaves no thread behind"
    finally:
        first.stop(2)
