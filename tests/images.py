"""Real pictures for the avatar tests, made with Pillow (no binary fixtures in the repository)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

#: EXIF tag numbers: Orientation, GPSInfo, Make.
ORIENTATION, GPS_INFO, MAKE = 0x0112, 0x8825, 0x010F


def png(width: int = 300, height: int = 200, *, alpha: bool = False) -> bytes:
    mode = "RGBA" if alpha else "RGB"
    image = Image.new(mode, (width, height), (200, 40, 40, 128) if alpha else (200, 40, 40))
    # The left half another colour, to see which part the crop kept.
    image.paste((40, 40, 200, 255) if alpha else (40, 40, 200), (0, 0, width // 2, height))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def jpeg_with_exif(width: int = 400, height: int = 300, *, orientation: int = 1) -> bytes:
    """A JPEG carrying a camera make, a GPS position and an orientation in its EXIF."""
    image = Image.new("RGB", (width, height), (10, 160, 10))
    exif = Image.Exif()
    exif[MAKE] = "SpyCam"
    exif[ORIENTATION] = orientation
    exif[GPS_INFO] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, quality=90)
    return out.getvalue()


def webp(width: int = 128, height: int = 128) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 90, 90)).save(out, format="WEBP")
    return out.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid, tiny PNG whose header declares ``width`` x ``height`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    # A few rows of zeros, compressed: nowhere near the declared size.
    data = zlib.compress(b"\x00" * (width * 3 + 1) * 4, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
