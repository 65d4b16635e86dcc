"""The decoder for a printer's `command_set`: "escpos", "star", or "auto" (per job).

`AutoDecoder` holds the start of each job (at most `DETECT_WINDOW` bytes, until a command
tells) and then decodes it with the ESC/POS or the Star decoder; a job in which nothing
tells is ESC/POS (plain text reads the same in both). A job that starts inside a read, right
after the previous one's cut, is decoded on by the same decoder unless its first bytes show
the other command set (then they are decoded again); so the work stays linear. Jobs of both
command sets inside one single read take the first job's set, except the last.

With `track_cuts=True` it reports the cuts of whichever decoder read them (GS V, ESC i/m or
Star's ESC d n) through `take_cuts()`, at offsets in the whole stream fed to it, as the cut
hold (drivers/taps/append.py) needs; then every job is detected anew (the bytes after a cut
in a read are decoded twice: the hold's streams carry a job or a few). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Literal, Protocol

from drivers.errors import DriverError
from drivers.escpos.decoder import EscposDecoder
from drivers.escpos.document import Cut, Document
from drivers.escpos.raster import MAX_PICTURE_BYTES
from drivers.escpos.star import (
    DETECT_WINDOW,
    ESCPOS_SIGNS,
    STAR_SIGNS,
    StarDecoder,
    detect_command_set,
)

__all__ = ["COMMAND_SETS", "AutoDecoder", "Decoder", "cuts_of", "decode_all", "make_decoder"]

ConfiguredSet = Literal["auto", "escpos", "star"]
COMMAND_SETS: tuple[ConfiguredSet, ...] = ("auto", "escpos", "star")
_COUNTERS = ("unknown_bytes", "dropped_chars", "dropped_lines", "unsupported_codepages",
             "images_skipped", "textless_documents", "pictures_dropped")


class Decoder(Protocol):
    def feed(self, chunk: bytes) -> list[Document]: ...
    def idle(self) -> list[Document]: ...
    def flush(self) -> list[Document]: ...
    def take_cuts(self) -> list[Cut]: ...
    @property
    def pending(self) -> bytes: ...


class AutoDecoder:
    """ESC/POS or Star Line Mode, detected at the start of every job (after each cut)."""

    def __init__(self, *, codepage: str = "cp858", codepage_map: Mapping[int, str] | None = None,
                 track_cuts: bool = False, keep_images: bool = True,
                 max_picture_bytes: int = MAX_PICTURE_BYTES) -> None:
        self._escpos = EscposDecoder(codepage=codepage, codepage_map=codepage_map,
                                     track_cuts=track_cuts, keep_images=keep_images,
                                     max_picture_bytes=max_picture_bytes)
        self._star = StarDecoder(codepage=codepage, codepage_map=codepage_map,
                                 track_cuts=track_cuts, keep_images=keep_images,
                                 max_picture_bytes=max_picture_bytes)
        self._track = track_cuts
        self._fed = 0  # bytes fed to this decoder: every piece a part decodes ends here
        self._cuts: list[Cut] = []
        self._cut_end = 0  # stream offset after the last cut reported
        self._current: EscposDecoder | None = None  # None: between jobs, deciding
        self._held = bytearray()
        # the start of a job that the current decoder took on without a new detection (it
        # began inside a chunk right after a cut), watched until DETECT_WINDOW bytes
        self._watch: bytearray | None = None
        self.command_set: Literal["escpos", "star"] = "escpos"  # of the latest job

    def __getattr__(self, name: str) -> int:  # the decoders' counters, summed for status
        if name in _COUNTERS:
            return int(getattr(self._escpos, name)) + int(getattr(self._star, name))
        raise AttributeError(name)

    def feed(self, chunk: bytes) -> list[Document]:
        self._fed += len(chunk)
        return self._feed(chunk)

    def _feed(self, chunk: bytes) -> list[Document]:
        out: list[Document] = []
        data: bytes | None = chunk
        while data:
            if self._current is None:
                self._held += data
                found = detect_command_set(bytes(self._held))
                if found == "unknown" and len(self._held) < DETECT_WINDOW:
                    break
                self._pick("star" if found == "star" else "escpos")
                data, self._held = bytes(self._held), bytearray()
            assert self._current is not None
            docs = self._part_feed(data)
            out += docs
            data = self._next_job(docs, data) if docs else self._watched(data)
        return out

    def _watched(self, data: bytes) -> bytes | None:
        """More of a watched job's start: the bytes to decode again if it is of the other
        command set after all."""
        current, watch = self._current, self._watch
        if watch is None or current is None:
            return None
        watch += data
        other = STAR_SIGNS if current is self._escpos else ESCPOS_SIGNS
        if other.search(watch) is not None:
            self._current = self._watch = None
            current.rewind_to_document_start()
            return bytes(watch)
        if len(watch) >= DETECT_WINDOW:
            self._watch = None
        return None

    def idle(self) -> list[Document]:
        docs = self._decide_held()
        if self._current is not None:
            docs += self._current.idle()
            self._current = None
        return docs

    def flush(self) -> list[Document]:
        docs = self._decide_held()
        docs += self._escpos.flush() + self._star.flush()
        self._current = None
        return docs

    def _decide_held(self) -> list[Document]:
        """Bytes held while deciding, at the end of a job: nothing told, so ESC/POS."""
        if self._current is not None or not self._held:
            return []
        data, self._held = bytes(self._held), bytearray()
        return self._feed(data) if detect_command_set(data) == "star" else self._escpos_now(data)

    def _escpos_now(self, data: bytes) -> list[Document]:
        self._pick("escpos")
        docs = self._part_feed(data)
        rest = self._next_job(docs, data)
        return docs + (self._feed(rest) if rest else [])

    def take_cuts(self) -> list[Cut]:
        """The cuts completed since the last call, at offsets in the stream fed here (only
        with `track_cuts=True`); `Cut.command` tells an ESC/POS cut from Star's ESC d n."""
        cuts, self._cuts = self._cuts, []
        return cuts

    @property
    def pending(self) -> bytes:
        """The start of a command not yet complete at the end of what was fed: the current
        decoder's, or while a job's command set is still unknown, its last ESC or GS."""
        if self._current is not None:
            return self._current.pending
        tail = bytes(self._held[-3:])
        at = max(tail.rfind(b"\x1b"), tail.rfind(b"\x1d"))
        return tail[at:] if at >= 0 else b""

    @property
    def star_cuts(self) -> bool:
        """Whether an ESC d at the end of a read may be Star's cut (the job is Star's, or
        its command set is not known yet)."""
        return self._current is not self._escpos

    def _part_feed(self, data: bytes) -> list[Document]:
        """Feed `data` (always the last bytes fed here) to the current decoder and move its
        cuts into this stream's offsets, before a rewind can change the decoder's."""
        current = self._current
        assert current is not None
        docs = current.feed(data)
        shift = self._fed - current.fed
        for cut in current.take_cuts():
            if cut.start + shift >= self._cut_end:  # a rewound job read again: once only
                self._cuts.append(replace(cut, start=cut.start + shift, end=cut.end + shift))
                self._cut_end = cut.end + shift
        return docs

    def _pick(self, found: Literal["escpos", "star"]) -> None:
        self.command_set, self._watch = found, None
        self._current = self._star if found == "star" else self._escpos

    def _next_job(self, docs: list[Document], data: bytes) -> bytes | None:
        """After a job ended inside `data`, the bytes of the next one, to detect anew (the
        decoder that read them forgets them)."""
        current = self._current
        self._watch = None
        if not docs or current is None:
            return None
        tail = current.since_document
        if tail > len(data):  # the job goes on from bytes held in an earlier chunk
            return None
        if not tail:
            self._current = None
            return None
        rest = data[len(data) - tail :]
        other = STAR_SIGNS if current is self._escpos else ESCPOS_SIGNS
        # the jobs that follow look the same: no re-decoding; but the cut hold must not take
        # an ESC/POS job's ESC d n for Star's cut: with cuts, each job is detected on its own
        if other.search(rest) is None and not self._track:
            self._watch = bytearray(rest) if tail < DETECT_WINDOW else None
            return None
        self._current = None
        current.rewind_to_document_start()
        return rest


def make_decoder(command_set: str = "auto", *, codepage: str = "cp858",
                 codepage_map: Mapping[int, str] | None = None,
                 track_cuts: bool = False, keep_images: bool = True,
                 max_picture_bytes: int = MAX_PICTURE_BYTES) -> Decoder:
    """The decoder for `[[printer]] command_set` (the cut hold: `track_cuts=True`, and
    `keep_images=False` so raster data streams past; `max_picture_bytes` per document)."""
    kind: type[EscposDecoder | AutoDecoder] | None = {
        "escpos": EscposDecoder, "star": StarDecoder, "auto": AutoDecoder}.get(command_set)
    if kind is not None:
        return kind(codepage=codepage, codepage_map=codepage_map, track_cuts=track_cuts,
                    keep_images=keep_images, max_picture_bytes=max_picture_bytes)
    raise DriverError(f"unknown command set {command_set!r} (auto, escpos or star)")


def decode_all(data: bytes, *, command_set: str = "auto", codepage: str = "cp858",
               codepage_map: Mapping[int, str] | None = None) -> list[Document]:
    """Decode a whole capture at once: feed + flush."""
    decoder = make_decoder(command_set, codepage=codepage, codepage_map=codepage_map)
    return decoder.feed(data) + decoder.flush()


def cuts_of(data: bytes, *, command_set: str = "auto", codepage: str = "cp858",
            codepage_map: Mapping[int, str] | None = None) -> list[Cut]:
    """Every cut in a whole capture, in order, as the cut hold sees them (feed + flush)."""
    decoder = make_decoder(command_set, codepage=codepage, codepage_map=codepage_map,
                           track_cuts=True)
    decoder.feed(data)
    decoder.flush()
    return decoder.take_cuts()
