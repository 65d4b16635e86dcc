"""The ESC/POS command set as data (Epson "ESC/POS Application Programming Guide", TM
series): the lengths of the fixed-length commands, symbology names, and CODE128 text.

Lengths are totals including the prefix and command bytes, e.g. ESC ! n is 3. The effects
of the commands live in drivers/escpos/decoder.py; variable lengths in drivers/escpos/commands.py.
"""

from __future__ import annotations

# ESC x with a fixed length. Variable ones (ESC & ESC ( ESC * ESC D) are handled apart.
ESC_FIXED: dict[int, int] = {
    0x0C: 2,  # ESC FF   print page-mode data
    0x0E: 2,  # ESC SO   double width (old)
    0x0F: 2,  # ESC SI   condensed (old)
    0x12: 2,  # ESC DC2  cancel condensed (old)
    0x14: 2,  # ESC DC4  cancel double width (old)
    0x20: 3,  # ESC SP n right-side character spacing
    0x21: 3,  # ESC ! n  print mode
    0x24: 4,  # ESC $ nL nH absolute position
    0x25: 3,  # ESC % n  user-defined character set on/off
    0x2D: 3,  # ESC - n  underline
    0x32: 2,  # ESC 2    default line spacing
    0x33: 3,  # ESC 3 n  line spacing
    0x34: 3,  # ESC 4 n  italic (clones; @node-escpos/core sends it)
    0x3C: 2,  # ESC <    return home
    0x3D: 3,  # ESC = n  peripheral device
    0x3F: 3,  # ESC ? n  cancel user-defined character
    0x40: 2,  # ESC @    initialise
    0x42: 4,  # ESC B n t beeper (clones)
    0x45: 3,  # ESC E n  emphasis
    0x47: 3,  # ESC G n  double strike
    0x4A: 3,  # ESC J n  print and feed
    0x4B: 3,  # ESC K n  print and reverse feed
    0x4C: 2,  # ESC L    page mode
    0x4D: 3,  # ESC M n  font
    0x52: 3,  # ESC R n  international character set
    0x53: 2,  # ESC S    standard mode
    0x54: 3,  # ESC T n  print direction in page mode
    0x55: 3,  # ESC U n  unidirectional printing
    0x56: 3,  # ESC V n  90 degree rotation
    0x57: 10,  # ESC W xL xH yL yH dxL dxH dyL dyH print area in page mode
    0x5C: 4,  # ESC \ nL nH relative position
    0x61: 3,  # ESC a n  justification
    0x63: 4,  # ESC c 0..5 n  paper sensor / panel buttons / paper type
    0x64: 3,  # ESC d n  print and feed n lines
    0x65: 3,  # ESC e n  print and reverse feed n lines
    0x66: 4,  # ESC f m n cut sheet wait time
    0x69: 2,  # ESC i    partial cut (obsolete)
    0x6A: 3,  # ESC j n  print and reverse feed (clones)
    0x6D: 2,  # ESC m    partial cut (obsolete)
    0x70: 5,  # ESC p m t1 t2 drawer kick pulse
    0x72: 3,  # ESC r n  print colour
    0x74: 3,  # ESC t n  code page
    0x75: 3,  # ESC u n  peripheral status
    0x76: 2,  # ESC v    paper sensor status
    0x77: 3,  # ESC w n  double height (Daruma)
    0x7B: 3,  # ESC { n  upside-down
}

GS_FIXED: dict[int, int] = {
    0x0C: 2,  # GS FF    print and eject (label printers)
    0x21: 3,  # GS ! n   character size
    0x24: 4,  # GS $ nL nH absolute vertical position in page mode
    0x2F: 3,  # GS / m   print downloaded bit image
    0x3A: 2,  # GS :     start/end macro definition
    0x42: 3,  # GS B n   reverse (white on black)
    0x45: 3,  # GS E n   print density (old)
    0x48: 3,  # GS H n   HRI position
    0x49: 3,  # GS I n   transmit printer ID
    0x4C: 4,  # GS L nL nH left margin
    0x50: 4,  # GS P x y motion units
    0x54: 3,  # GS T n   beginning of line
    0x57: 4,  # GS W nL nH print area width
    0x5A: 3,  # GS Z n   2D symbology for ESC Z (0 PDF417, 1 DataMatrix, 2 QR)
    0x5C: 4,  # GS \ nL nH relative vertical position in page mode
    0x5E: 5,  # GS ^ r t m execute macro
    0x61: 3,  # GS a n   automatic status back
    0x62: 3,  # GS b n   smoothing
    0x63: 2,  # GS c     print counter
    0x66: 3,  # GS f n   HRI font
    0x67: 6,  # GS g 0/2 m nL nH maintenance counter
    0x68: 3,  # GS h n   barcode height
    0x6A: 3,  # GS j n   automatic ink status back
    0x72: 3,  # GS r n   transmit status
    0x77: 3,  # GS w n   barcode width
    0x7A: 5,  # GS z 0 t1 t2 online recovery wait time
    0x7C: 3,  # GS | n   print density (clones; python-escpos sends it)
}

FS_FIXED: dict[int, int] = {
    0x21: 3,  # FS ! n   Kanji print mode
    0x26: 2,  # FS &     Kanji mode on
    0x2D: 3,  # FS - n   Kanji underline
    0x2E: 2,  # FS .     Kanji mode off
    0x32: 76,  # FS 2 c1 c2 d1..d72 define user Kanji (24x24 dots)
    0x3F: 4,  # FS ? c1 c2 cancel user Kanji
    0x43: 3,  # FS C n   Kanji code system
    0x53: 4,  # FS S n1 n2 Kanji spacing
    0x57: 3,  # FS W n   Kanji quadruple size
    0x70: 4,  # FS p n m print NV bit image
}

# DLE DC4 fn: lengths by function (1 pulse, 2 power off, 3 buzzer, 7 status, 8 clear buffer).
DLE_DC4_LENGTHS: dict[int, int] = {1: 5, 2: 5, 3: 8, 7: 4, 8: 10}

# Control bytes that are known single-byte commands with no effect on the text.
# BEL (buzzer on some models), SO DC2 DC4 (old print modes), CAN (page mode).
SINGLE_BYTE_NOOPS = frozenset({0x07, 0x0E, 0x12, 0x14, 0x18})

# GS k m: symbology names, for both formats (m 0-6 NUL terminated, m 65-79 with a length).
SYMBOLOGIES: dict[int, str] = {
    0: "UPCA", 1: "UPCE", 2: "EAN13", 3: "EAN8", 4: "CODE39", 5: "ITF", 6: "CODABAR",
    65: "UPCA", 66: "UPCE", 67: "EAN13", 68: "EAN8", 69: "CODE39", 70: "ITF", 71: "CODABAR",
    72: "CODE93", 73: "CODE128", 74: "GS1_128", 75: "GS1_DATABAR_OMNI",
    76: "GS1_DATABAR_TRUNCATED", 77: "GS1_DATABAR_LIMITED", 78: "GS1_DATABAR_EXPANDED",
    79: "CODE128",
}

# GS Z n: what the older `ESC Z` prints.
ESC_Z_SYMBOLOGIES: dict[int, str] = {0: "PDF417", 1: "DATAMATRIX", 2: "QR"}

# GS ( k cn: the 2D symbologies; QR (49) goes to Document.qr_codes, the rest to barcodes.
SYMBOLS_2D: dict[int, str] = {
    48: "PDF417", 49: "QR", 50: "MAXICODE", 51: "GS1_DATABAR", 52: "COMPOSITE",
    53: "AZTEC", 54: "DATAMATRIX",
}

# GS ( L / GS 8 L functions that carry image data (store raster/column graphics, NV and
# download graphics definitions): each one counts as a skipped image.
GRAPHICS_STORE_FUNCTIONS = frozenset({67, 68, 83, 84, 112, 113})


def code128_text(data: bytes) -> str:
    """Human-readable content of Epson CODE128 data ({A/{B/{C code sets, {S shift, {1-{4
    function characters, {{ for a brace); code set C bytes are digit pairs."""
    out: list[str] = []
    code_set = "B"
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b == 0x7B and i + 1 < n:  # "{"
            c = data[i + 1]
            i += 2
            if c in b"ABC":
                code_set = chr(c)
            elif c == 0x7B:
                out.append("{")
            # {S (shift) and {1-{4 (FNC1-4) print no character
            continue
        if code_set == "C":
            out.append(f"{b:02d}" if b < 100 else "")
        else:
            out.append(chr(b) if 0x20 <= b < 0x7F else "")
        i += 1
    return "".join(out)
