"""The `tcp` tap: the POS prints to us as to a network printer (raw port 9100); we forward.

Each POS connection gets its own connection to the real printer and two threads, one per
direction, so status requests (`DLE EOT n`) and the printer's answers pass both ways with
no polling. Bytes go to the printer first, then to the sink feeder.

Printer unreachable: the POS connection is accepted (a listening socket cannot know the
printer is down in advance) and then reset at once (SO_LINGER 0 -> RST), so the POS gets a
connection error on its next write or read and shows its usual "printer offline" message
instead of believing the receipt was printed. The same happens when the printer drops the
connection mid-job. `printer_connected` reflects the last connection attempt, a job's or a
`probe()`'s (the daemon probes at start and every minute, so it is right before the first job).
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time

from drivers.errors import DeviceError
from drivers.taps.append import Appender
from drivers.taps.base import TapBase, TapOptions, TapSink, log

_CHUNK = 65536
_CONNECT_TIMEOUT = 3.0
# After the POS is done: how long the printer may still answer before we close. Printers
# close on our FIN at once; the bound matters only for one that does not (single-connection
# printers would make the next job wait meanwhile).
_DRAIN_GRACE = 1.0


def split_host_port(value: str) -> tuple[str, int]:
    """'0.0.0.0:9100' -> ('0.0.0.0', 9100); '[::1]:9100' -> ('::1', 9100)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:  # 0: any free port
        raise ValueError(f"{value!r} is not host:port")
    return host.strip("[]") or "0.0.0.0", int(port)


def _reset(sock: socket.socket) -> None:
    """Close with RST, so the peer sees an error rather than a clean end of job."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class TcpTap(TapBase):
    mode = "tcp"

    def __init__(
        self,
        options: TapOptions,
        sink: TapSink,
        *,
        connect_timeout: float = _CONNECT_TIMEOUT,
        appender: Appender | None = None,
    ) -> None:
        super().__init__(options, sink, appender=appender)
        self.listen_addr = split_host_port(options.listen)
        self.target = split_host_port(options.target)
        self.connect_timeout = connect_timeout
        self._server: socket.socket | None = None
        self._conns: set[socket.socket] = set()  # open sockets, shut down by stop()
        self._workers: set[threading.Thread] = set()
        self._seq = 0
        self._up = False
        self._down_logged = False

    @property
    def address(self) -> tuple[str, int]:
        """Where the POS connects (the real port when `listen` asked for port 0)."""
        assert self._server is not None
        host, port = self._server.getsockname()[:2]
        return host, port

    def printer_connected(self) -> bool:
        return self._up

    def probe(self, timeout: float = 2.0) -> bool | None:
        """Connect to the printer and close at once; skipped (None) while a POS connection
        is open: a printer that takes one connection at a time must never see us then."""
        with self.lock:
            if self._workers or self.stopping.is_set():
                return None
        try:
            sock = socket.create_connection(self.target, timeout=timeout)
        except OSError as exc:
            with self.lock:
                busy = bool(self._workers)
            if not busy:  # a job started meanwhile: its own connection tells the truth
                self._printer_down(f"cannot connect: {exc.strerror or exc}")
            return False
        sock.close()
        self._printer_up()
        return True

    def open(self) -> None:
        host, port = self.listen_addr
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server = socket.socket(family, socket.SOCK_STREAM)
        try:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind((host, port))
            server.listen(16)
        except OSError as exc:
            server.close()
            raise DeviceError(self.options.listen, f"cannot listen: {exc}") from exc
        self._server = server
        self.listening = True
        self.spawn(self._accept_loop, "accept")

    def close(self, deadline: float) -> None:
        with self.lock:
            conns = list(self._conns)
            workers = list(self._workers)
        for sock in conns:  # wakes the blocked recv() of every pump thread
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in workers:
            thread.join(max(0.0, deadline - time.monotonic()))

    # -- printer state, logged once per outage --
    def _printer_up(self) -> None:
        with self.lock:
            if self._down_logged:  # back after an outage that was reported
                self.reopens += 1
                log.info("%s: printer %s:%d reachable again", self.name, *self.target)
            self._up = True
            self._down_logged = False

    def _printer_down(self, reason: str) -> None:
        with self.lock:
            self._up = False
            self.last_error = reason
            if self._down_logged:
                return
            self._down_logged = True
        log.error("%s: printer %s:%d: %s; POS connections are reset until it is back",
                  self.name, *self.target, reason)

    # -- threads --
    def _accept_loop(self) -> None:
        assert self._server is not None
        poller = select.poll()
        poller.register(self._server, select.POLLIN)
        poller.register(self.waker.fd, select.POLLIN)
        try:
            while not self.stopping.is_set():
                for fd, _ in poller.poll():
                    if fd == self.waker.fd:
                        return
                    try:
                        pos, _addr = self._server.accept()
                    except OSError as exc:  # e.g. out of fds: back off, don't spin on it
                        self.last_error = f"accept failed: {exc.strerror or exc}"
                        if self.waker.wait(0.1):
                            return
                        continue
                    self._seq += 1
                    worker = threading.Thread(
                        target=self._serve, args=(pos, self._seq),
                        name=f"tap-{self.name}-conn{self._seq}", daemon=True,
                    )
                    with self.lock:
                        self._workers.add(worker)
                    worker.start()
        finally:
            self.listening = False
            self._server.close()

    def _track(self, *socks: socket.socket, add: bool) -> None:
        with self.lock:
            for sock in socks:
                (self._conns.add if add else self._conns.discard)(sock)

    def _serve(self, pos: socket.socket, seq: int) -> None:
        try:
            try:
                printer = socket.create_connection(self.target, timeout=self.connect_timeout)
            except OSError as exc:
                self._printer_down(f"cannot connect: {exc.strerror or exc}")
                _reset(pos)
                return
            self._printer_up()
            printer.settimeout(None)
            for sock in (pos, printer):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._track(pos, printer, add=True)
            if self.stopping.is_set():  # stop() ran before we were tracked
                pos.shutdown(socket.SHUT_RDWR)
            with self.lock:
                self.jobs += 1
            self._pump(pos, printer, f"{self.name}#{seq}")
        finally:
            with self.lock:
                self._workers.discard(threading.current_thread())

    def _pump(self, pos: socket.socket, printer: socket.socket, stream: str) -> None:
        lost = threading.Event()  # set by the answers thread if the printer resets
        back = threading.Thread(
            target=self._answers, args=(printer, pos, lost),
            name=f"{threading.current_thread().name}-back", daemon=True,
        )
        back.start()
        failed = False
        fed = False
        hold = self.cut_hold(stream)  # None without [printer.append]: plain forwarding

        def send(data: bytes) -> None:  # counts what the printer got, an appended block too
            printer.sendall(data)
            with self.lock:
                self.bytes_to_printer += len(data)

        while True:
            try:
                chunk = pos.recv(_CHUNK)
            except OSError:
                break  # the POS reset its connection: nothing more to forward
            if not chunk:
                break
            try:
                if hold is None:
                    send(chunk)
                else:
                    hold.forward(chunk, send)
            except OSError as exc:
                self._printer_down(f"lost during a job: {exc.strerror or exc}")
                failed = True
                break
            self.feeder.data(stream, chunk)
            fed = True
        if hold is not None and not failed:
            try:
                hold.finish(send)
            except OSError as exc:
                self._printer_down(f"lost during a job: {exc.strerror or exc}")
                failed = True
        if not failed:
            # The POS is done sending: tell the printer, let it answer, then close.
            with contextlib.suppress(OSError):
                printer.shutdown(socket.SHUT_WR)
            back.join(_DRAIN_GRACE)
        with contextlib.suppress(OSError):
            printer.shutdown(socket.SHUT_RDWR)
        back.join()
        failed = failed or lost.is_set()
        self._track(pos, printer, add=False)
        printer.close()
        if failed:
            _reset(pos)
        else:
            pos.close()
        if fed:
            self.feeder.end(stream)

    def _answers(self, printer: socket.socket, pos: socket.socket, lost: threading.Event) -> None:
        """Printer -> POS (status answers). When the printer closes, so does the POS side."""
        while True:
            try:
                chunk = printer.recv(_CHUNK)
            except OSError as exc:  # reset: the printer went away (our own shutdown gives b"")
                self._printer_down(f"lost during a job: {exc.strerror or exc}")
                lost.set()
                break
            if not chunk:
                break
            with self.lock:
                self.bytes_from_printer += len(chunk)
            try:
                pos.sendall(chunk)
            except OSError:
                break  # the POS left; its answers are of no use to anyone
        with contextlib.suppress(OSError):
            pos.shutdown(socket.SHUT_RDWR)
