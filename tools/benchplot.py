#!/usr/bin/env python3
"""Plots of cost against size from `./moat bench` output, as PNG files (standard library only).

usage: tools/benchplot.py BENCH.txt OUTDIR   reads `bench <name> <value> <unit>` lines and writes
                                             OUTDIR/<plot>.png for every plot below that has at
                                             least two points; prints each path
       tools/benchplot.py --self-test        draws a plot from built-in lines and checks that it
                                             decodes as a PNG (ctest runs this)

Both axes are logarithmic. The PNG is 8-bit RGB, one IDAT chunk, written with zlib and struct;
text uses a 3x5 pixel font drawn here (upper case is drawn as lower case).
"""
import math
import os
import re
import struct
import sys
import zlib

# Each plot: file name, title, x and y axis labels, the base of the x tick labels (1024: sizes
# in bytes, 1000: counts), and its series as (legend, regex whose group 1 is the x value).
PLOTS = [
    ("map_cost_vs_size", "map + unmap through the native api (mock iommu)",
     "mapping size (bytes)", "ns per map + unmap", 1024, [
         ("aligned: superpages", r"api_map_unmap_(\d+[kmg]?)"),
         ("4 kib pages only", r"api_map_unmap_4kb_(\d+[kmg]?)"),
     ]),
    ("map_cost_vs_live", "4 kib map cost against live mappings in the ioas",
     "live mappings", "ns", 1000, [
         ("map+unmap (cached iova)", r"api_map_unmap_4k_live_(\d+)"),
         ("map (first-fit iova)", r"api_map_4k_fresh_live_(\d+)"),
         ("iova tree alone", r"iova_alloc_live_(\d+)"),
     ]),
    ("pci_enum_vs_functions", "pci bring-up against function count (host, synthetic)",
     "pci functions", "us", 1000, [
         ("moat", r"pci_enum_(\d+)"),
         ("config accesses (replayed) alone", r"pci_enum_model_(\d+)"),
     ]),
]

COLORS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189)]

FONT = {  # 3x5 glyphs, rows top to bottom
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111",
    "3": "111001111001111", "4": "101101111001001", "5": "111100111001111",
    "6": "111100111101111", "7": "111001001010010", "8": "111101111101111",
    "9": "111101111001111", "a": "010101111101101", "b": "110101110101110",
    "c": "011100100100011", "d": "110101101101110", "e": "111100110100111",
    "f": "111100110100100", "g": "011100101101011", "h": "101101111101101",
    "i": "111010010010111", "j": "001001001101010", "k": "101101110101101",
    "l": "100100100100111", "m": "101111111101101", "n": "110101101101101",
    "o": "010101101101010", "p": "110101110100100", "q": "010101101110011",
    "r": "110101110101101", "s": "011100010001110", "t": "111010010010010",
    "u": "101101101101111", "v": "101101101101010", "w": "101101111111101",
    "x": "101101010101101", "y": "101101010010010", "z": "111001010100111",
    " ": "000000000000000", ".": "000000000000010", "_": "000000000000111",
    "-": "000000111000000", "/": "001001010100100", "(": "010100100100010",
    ")": "010001001001010", ":": "000010000010000", "+": "000010111010000",
    "%": "101001010100101", ",": "000000000010100", "=": "000111000111000",
}


class Canvas:
    def __init__(self, w, h):
        self.w, self.h = w, h
        self.px = bytearray(b"\xff" * (w * h * 3))

    def dot(self, x, y, c):
        if 0 <= x < self.w and 0 <= y < self.h:
            i = (y * self.w + x) * 3
            self.px[i:i + 3] = bytes(c)

    def rect(self, x0, y0, x1, y1, c):
        for y in range(y0, y1 + 1):
            for x in range(x0, x1 + 1):
                self.dot(x, y, c)

    def line(self, x0, y0, x1, y1, c, width=1):
        n = max(abs(x1 - x0), abs(y1 - y0), 1)
        for i in range(n + 1):
            x = round(x0 + (x1 - x0) * i / n)
            y = round(y0 + (y1 - y0) * i / n)
            self.rect(x - width // 2, y - width // 2, x + (width - 1) // 2, y + (width - 1) // 2, c)

    def text(self, x, y, s, c=(0, 0, 0), scale=2):
        for ch in s.lower():
            g = FONT.get(ch, FONT["."])
            for r in range(5):
                for col in range(3):
                    if g[r * 3 + col] == "1":
                        self.rect(x + col * scale, y + r * scale,
                                  x + col * scale + scale - 1, y + r * scale + scale - 1, c)
            x += 4 * scale

    def png(self):
        raw = b"".join(b"\x00" + bytes(self.px[y * self.w * 3:(y + 1) * self.w * 3])
                       for y in range(self.h))

        def chunk(kind, data):
            return (struct.pack(">I", len(data)) + kind + data +
                    struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
        return (b"\x89PNG\r\n\x1a\n" +
                chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def text_width(s, scale=2):
    return len(s) * 4 * scale


def parse_x(s, base):
    m = re.fullmatch(r"(\d+)([kmg]?)", s)
    return int(m.group(1)) * base ** " kmg".index(m.group(2) or " ")


def fmt(v, base):
    for p, suffix in ((3, "g"), (2, "m"), (1, "k")):
        if v >= base ** p:
            q = v / base ** p
            return ("%d" % q if q == int(q) else "%.1f" % q) + suffix
    return "%g" % v


def read_bench(path):
    vals = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "bench":
                try:
                    vals[parts[1]] = float(parts[2])
                except ValueError:
                    pass
    return vals


def series_points(vals, regex, base):
    pts = []
    for name, v in vals.items():
        m = re.fullmatch(regex, name)
        if m and v > 0:
            pts.append((parse_x(m.group(1), base), v))
    return sorted(pts)


def draw(plot, vals):
    name, title, xlabel, ylabel, base, series = plot
    data = [(label, series_points(vals, rx, base)) for label, rx in series]
    data = [(label, pts) for label, pts in data if len(pts) >= 2]
    if not data:
        return None
    W, H, L, R, T, B = 900, 520, 90, 230, 50, 70
    c = Canvas(W, H)
    xs = sorted({x for _, pts in data for x, _ in pts})
    ys = [y for _, pts in data for _, y in pts]
    lx0, lx1 = math.log10(xs[0]), math.log10(xs[-1])
    ly0, ly1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    if ly1 == ly0:
        ly1 += 1
    if lx1 == lx0:
        lx1 += 1

    def px(x):
        return round(L + (math.log10(x) - lx0) / (lx1 - lx0) * (W - L - R))

    def py(y):
        return round(H - B - (math.log10(y) - ly0) / (ly1 - ly0) * (H - T - B))

    grey, black = (220, 220, 220), (0, 0, 0)
    for d in range(ly0, ly1 + 1):
        y = py(10 ** d)
        c.line(L, y, W - R, y, grey)
        lab = fmt(10 ** d, 1000)
        c.text(L - 8 - text_width(lab), y - 5, lab)
    for x in xs:
        c.line(px(x), T, px(x), H - B, grey)
        lab = fmt(x, base)
        c.text(px(x) - text_width(lab) // 2, H - B + 8, lab)
    c.line(L, H - B, W - R, H - B, black)
    c.line(L, T, L, H - B, black)
    c.text(L, 8, title, black, 3)
    c.text(L + (W - L - R - text_width(xlabel)) // 2, H - 30, xlabel)
    c.text(10, T - 14, ylabel)
    for i, (label, pts) in enumerate(data):
        col = COLORS[i % len(COLORS)]
        for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
            c.line(px(x0), py(y0), px(x1), py(y1), col, 2)
        for x, y in pts:
            c.rect(px(x) - 3, py(y) - 3, px(x) + 3, py(y) + 3, col)
        ly = T + 10 + 22 * i
        c.rect(W - R + 15, ly, W - R + 35, ly + 8, col)
        c.text(W - R + 42, ly - 1, label)
    return c.png()


def check_png(data):
    """Decodes the PNG's chunks (CRCs, IHDR, the pixel data's size); raises on a fault."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "signature"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert crc == zlib.crc32(kind + body) & 0xffffffff, "crc of %r" % kind
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
        if kind == b"IEND":
            break
    assert ihdr and ihdr[2:4] == (8, 2), "IHDR"
    w, h = ihdr[0], ihdr[1]
    assert len(zlib.decompress(idat)) == h * (1 + 3 * w), "pixel data size"
    return w, h


def self_test():
    lines = ["bench api_map_unmap_4k 190 ns", "bench api_map_unmap_2m 390 ns",
             "bench api_map_unmap_1g 400 ns", "bench api_map_unmap_4kb_4k 190 ns",
             "bench api_map_unmap_4kb_2m 7000 ns", "bench api_map_unmap_4kb_1g 2000000 ns",
             "bench unrelated 1 x", "# comment"]
    vals = {}
    for ln in lines:
        p = ln.split()
        if p[0] == "bench":
            vals[p[1]] = float(p[2])
    png = draw(PLOTS[0], vals)
    w, h = check_png(png)
    assert draw(PLOTS[2], vals) is None, "a plot without points is skipped"
    print("benchplot self-test: a %dx%d PNG of %d bytes decodes" % (w, h, len(png)))


def main(argv):
    if argv[1:] == ["--self-test"]:
        self_test()
        return 0
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    vals = read_bench(argv[1])
    os.makedirs(argv[2], exist_ok=True)
    for plot in PLOTS:
        png = draw(plot, vals)
        if png:
            path = os.path.join(argv[2], plot[0] + ".png")
            with open(path, "wb") as f:
                f.write(png)
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
