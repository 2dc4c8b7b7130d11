"""Test data of the data_pipeline tests (imported by name: pytest puts this folder on sys.path)."""

import struct
import zlib

import numpy as np


def png16_rgb(array):
    """Encodes uint16 (H, W, 3) as a 16-bit RGB PNG by hand (Pillow cannot write one)."""
    height, width, _ = array.shape
    raw = b"".join(b"\x00" + array[y].astype(">u2").tobytes() for y in range(height))

    def chunk(tag, data):
        return (
            struct.pack(">I", len(data))
            + tag
            + data
            + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def photo_tiles(size, count):
    """`count` distinct size x size RGB uint8 tiles cut from real scikit-image photographs."""
    from skimage import data

    photos = [data.astronaut(), data.chelsea(), data.coffee()]
    tiles = []
    for i in range(count):
        photo = photos[i % len(photos)]
        step = (i // len(photos)) * 7
        y, x = (
            60 + (step * 3) % (photo.shape[0] - size - 60),
            40 + (step * 5) % (photo.shape[1] - size - 40),
        )
        tiles.append(np.ascontiguousarray(photo[y : y + size, x : x + size]))
    return tiles
