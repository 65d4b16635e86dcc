"""Bematech's ESC/Bema mode beside ESC/POS (MP-4200 TH, MP-2800 TH, ...: common in Brazil).

`GS F9 35 n` switches the printer between ESC/Bema (n = 0) and ESC/POS (n = 1). ESC/Bema
reads most ESC/POS commands the same, but `ESC E` / `ESC F` are bold on / off with no
parameter (ESC/POS's `ESC E n` would eat the first character of the bold text). The mode
outlives `ESC @`, as the printer's setting does. Pure.
"""

from __future__ import annotations

from collections.abc import Callable

from drivers.escpos.builder import BOLD

Handler = Callable[[bytes, int], int]


class BemaModes:
    """A mixin for the ESC/POS decoder: `_esc_dispatch` is its ESC table."""

    _esc_dispatch: list[int | Handler]
    _style: int
    _escpos_bold: tuple[int | Handler, int | Handler] | None = None

    def _gs_bema(self, data: bytes, j: int) -> int:
        """GS F9 x n: Bematech's settings; x = 0x35 selects the command set."""
        if j + 4 > len(data):
            return -4
        if data[j + 2] == 0x35:
            self._bema(data[j + 3] in (0, 0x30))
        return j + 4

    def _bema(self, on: bool) -> None:
        table = self._esc_dispatch
        if on and self._escpos_bold is None:
            self._escpos_bold = (table[0x45], table[0x46])
            table[0x45] = table[0x46] = self._bema_bold
        elif not on and self._escpos_bold is not None:
            table[0x45], table[0x46] = self._escpos_bold
            self._escpos_bold = None

    def _bema_bold(self, data: bytes, j: int) -> int:
        self._style = self._style | BOLD if data[j + 1] == 0x45 else self._style & ~BOLD
        return j + 2
