#!/usr/bin/env python3
"""Checks what Chromium made of the report (tests/browser/run.sh).

dom.html: the probe's JSON (<pre id="probe">): bars per chart as laid out.
report.png: the screenshot; decoded here with zlib only, to find the
charts' fill colours.
"""
import html
import json
import re
import struct
import sys
import zlib

EXPECTED_BARS = {  # fixture.sql
    "chart-ballot-levels": 18,  # 6 content groups x 3 levels
    "chart-remediation": 5,     # no plan, required, submitted, completed, overdue
    "chart-backlog": 4,         # 0-15, 16-30, 31-45, > 45 days
    "chart-on-time": 2,         # LB01, LB02 resolved petitions
    "chart-reception": 3,       # three ISO weeks
}
VIETNAMESE = ["Báo cáo kỷ luật, kỷ cương hành chính", "Long Biên",
              "Tiếp công dân theo tuần", "Đơn thư tồn đọng"]
COLOURS = {"backlog orange": (0xEF, 0x6C, 0x00), "on-time blue": (0x15, 0x65, 0xC0),
           "level-1 green": (0x2E, 0x7D, 0x32)}


def fail(msg):
    print("browser: FAIL: " + msg)
    sys.exit(1)


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(path + " is not a PNG")
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(
                ">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or interlace:
                fail("unexpected PNG format depth=%d type=%d" % (depth, ctype))
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pr) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def main():
    dom = open(sys.argv[1], encoding="utf-8").read()
    m = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    if not m:
        fail("the probe did not run (no <pre id=probe> in the dumped DOM)")
    probe = json.loads(html.unescape(m.group(1)))
    for chart, want in EXPECTED_BARS.items():
        got = probe["charts"].get(chart)
        if not got:
            fail("chart %s missing" % chart)
        if not (got["expected"] == got["bars"] == got["drawn"] == want):
            fail("chart %s: want %d bars drawn, got %s" % (chart, want, got))
        if got["width"] <= 0:
            fail("chart %s has no width" % chart)
    for text in VIETNAMESE:
        if text not in probe["text"]:
            fail("text %r not rendered" % text)
    width, height, bpp, rows = read_png(sys.argv[2])
    counts = {name: 0 for name in COLOURS}
    for row in rows:
        for x in range(0, width * bpp, bpp):
            px = (row[x], row[x + 1], row[x + 2])
            for name, colour in COLOURS.items():
                if px == colour:
                    counts[name] += 1
    for name, n in counts.items():
        if n < 50:
            fail("screenshot: %s bars not visible (%d pixels)" % (name, n))
    print("browser: ok: %s; screenshot %dx%d, %s" % (
        ", ".join("%s %d bars" % (c, EXPECTED_BARS[c]) for c in EXPECTED_BARS),
        width, height, counts))


main()
