#!/usr/bin/env python3
"""Render a terminal capture with ANSI SGR colours (tmux capture-pane -e -p) to a PNG.

Usage: ansi2png.py INPUT.ansi OUTPUT.png [--cols N] [--rows N]

Handles the SGR attributes tmux emits (bold, dim, italic, underline, reverse, 16/256/true colour).
Block elements are drawn as rectangles so bitrate bars have no gaps; everything else uses DejaVu
Sans Mono (falling back to DejaVu Sans for glyphs the mono font lacks).
"""
import re
import sys
import unicodedata

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu/"
SIZE = 15
BG = (24, 26, 31)
FG = (208, 208, 208)
PALETTE = [
    (40, 42, 46), (204, 60, 60), (80, 190, 90), (220, 180, 60),
    (80, 130, 220), (180, 100, 200), (60, 180, 200), (200, 200, 200),
    (110, 115, 125), (240, 90, 90), (110, 220, 120), (240, 210, 90),
    (110, 160, 240), (210, 130, 230), (90, 210, 230), (245, 245, 245),
]


def xterm256(n):
    if n < 16:
        return PALETTE[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return (v, v, v)


class Style:
    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None
        self.bg = None
        self.bold = False
        self.dim = False
        self.reverse = False
        self.underline = False

    def copy(self):
        s = Style()
        s.__dict__.update(self.__dict__)
        return s

    def apply(self, params):
        codes = [int(p) if p.isdigit() else 0 for p in params.split(";")] if params else [0]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c == 0:
                self.reset()
            elif c == 1:
                self.bold = True
            elif c == 2:
                self.dim = True
            elif c == 4:
                self.underline = True
            elif c == 7:
                self.reverse = True
            elif c == 22:
                self.bold = self.dim = False
            elif c == 24:
                self.underline = False
            elif c == 27:
                self.reverse = False
            elif 30 <= c <= 37:
                self.fg = PALETTE[c - 30]
            elif 90 <= c <= 97:
                self.fg = PALETTE[c - 90 + 8]
            elif 40 <= c <= 47:
                self.bg = PALETTE[c - 40]
            elif 100 <= c <= 107:
                self.bg = PALETTE[c - 100 + 8]
            elif c == 39:
                self.fg = None
            elif c == 49:
                self.bg = None
            elif c in (38, 48) and i + 1 < len(codes):
                target = "fg" if c == 38 else "bg"
                if codes[i + 1] == 5 and i + 2 < len(codes):
                    setattr(self, target, xterm256(codes[i + 2]))
                    i += 2
                elif codes[i + 1] == 2 and i + 4 < len(codes):
                    setattr(self, target, tuple(codes[i + 2:i + 5]))
                    i += 4
            i += 1


SGR = re.compile(r"\x1b\[([0-9;]*)m")
OTHER_ESC = re.compile(r"\x1b[\[\]][^a-zA-Z\x07]*[a-zA-Z\x07]")


def parse(text):
    """Rows of (char, style) cells."""
    rows = []
    style = Style()
    for line in text.split("\n"):
        cells = []
        pos = 0
        while pos < len(line):
            m = SGR.match(line, pos)
            if m:
                style.apply(m.group(1))
                pos = m.end()
                continue
            m = OTHER_ESC.match(line, pos)
            if m:
                pos = m.end()
                continue
            ch = line[pos]
            pos += 1
            if unicodedata.category(ch) == "Mn":
                continue
            cells.append((ch, style.copy()))
            if unicodedata.east_asian_width(ch) in ("W", "F"):
                cells.append(("", style.copy()))
        rows.append(cells)
    while rows and not rows[-1]:
        rows.pop()
    return rows


BLOCKS = {"▁": 1, "▂": 2, "▃": 3, "▄": 4, "▅": 5, "▆": 6, "▇": 7, "█": 8}


def render(rows, cols, nrows, out):
    mono = ImageFont.truetype(FONT_DIR + "DejaVuSansMono.ttf", SIZE)
    bold = ImageFont.truetype(FONT_DIR + "DejaVuSansMono-Bold.ttf", SIZE)
    fallback = ImageFont.truetype(FONT_DIR + "DejaVuSans.ttf", SIZE - 2)
    ascent, descent = mono.getmetrics()
    cw = round(mono.getlength("M"))
    ch = ascent + descent
    pad = 12
    img = Image.new("RGB", (cols * cw + 2 * pad, nrows * ch + 2 * pad), BG)
    d = ImageDraw.Draw(img)
    for y, cells in enumerate(rows[:nrows]):
        for x, (c, st) in enumerate(cells[:cols]):
            fg = st.fg or FG
            bg = st.bg
            if st.reverse:
                fg, bg = (bg or BG), (st.fg or FG)
            if st.dim and not st.reverse:
                fg = tuple(int(v * 0.6 + b * 0.4) for v, b in zip(fg, BG))
            x0, y0 = pad + x * cw, pad + y * ch
            if bg:
                d.rectangle([x0, y0, x0 + cw - 1, y0 + ch - 1], fill=bg)
            if not c or c == " ":
                continue
            if c in BLOCKS:
                h = round(ch * BLOCKS[c] / 8)
                d.rectangle([x0, y0 + ch - h, x0 + cw - 1, y0 + ch - 1], fill=fg)
                continue
            font = bold if st.bold else mono
            if ord(c) > 0x2000 and not has_glyph(mono, c):
                font = fallback
            d.text((x0, y0), c, font=font, fill=fg)
            if st.underline:
                d.line([x0, y0 + ch - 2, x0 + cw - 1, y0 + ch - 2], fill=fg)
    img.save(out)


_glyph_cache = {}


def has_glyph(font, c):
    if c not in _glyph_cache:
        # A missing glyph renders as the same box as a private-use character.
        missing = font.getmask("\ue000").getbbox()
        _glyph_cache[c] = font.getmask(c).getbbox() != missing
    return _glyph_cache[c]


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    src, dst = args[0], args[1]
    cols = int(args[args.index("--cols") + 1]) if "--cols" in args else None
    nrows = int(args[args.index("--rows") + 1]) if "--rows" in args else None
    with open(src, encoding="utf-8", errors="replace") as f:
        rows = parse(f.read())
    cols = cols or max((len(r) for r in rows), default=80)
    nrows = nrows or len(rows)
    render(rows, cols, nrows, dst)


if __name__ == "__main__":
    main()
