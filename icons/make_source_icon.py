"""Draws Kage's icon source (1024x1024 PNG) without image libraries: a rounded dark tile with two overlapping
discs, a lit one and its shadow ("kage"), for two accounts side by side. `npx tauri icon` makes the sizes."""
import struct, zlib, math

N = 1024
SS = ((0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75))

def inside_tile(x, y):
    r, m = 200, 40
    cx = min(max(x, m + r), N - m - r)
    cy = min(max(y, m + r), N - m - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r and m <= x <= N - m and m <= y <= N - m

def colour(x, y):
    if not inside_tile(x, y):
        return None
    lit = (x - 430) ** 2 + (y - 512) ** 2 <= 250 ** 2
    shade = (x - 600) ** 2 + (y - 512) ** 2 <= 250 ** 2
    if lit and not shade:
        return (224, 93, 68)
    if shade:
        return (63, 142, 252) if not lit else (44, 62, 110)
    return (20, 24, 33)

rows = []
for y in range(N):
    row = bytearray([0])
    for x in range(N):
        acc = [0, 0, 0, 0]
        for dx, dy in SS:
            c = colour(x + dx, y + dy)
            if c:
                acc[0] += c[0]; acc[1] += c[1]; acc[2] += c[2]; acc[3] += 255
        n = len(SS)
        a = acc[3] // n
        if a:
            k = acc[3] // 255
            row += bytes((acc[0] // k, acc[1] // k, acc[2] // k, a))
        else:
            row += bytes(4)
    rows.append(bytes(row))

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", N, N, 8, 6, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b"")
open("icon-source.png", "wb").write(png)
