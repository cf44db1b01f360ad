"""The avatar renderer on Pillow: decode the upload (as the format its signature claims, nothing else),
crop the centre square, resize, and re-encode as WebP without metadata.

Safe against decompression bombs: the pixel count is read from the header and refused above
``MAX_AVATAR_PIXELS`` before anything is decoded, and Pillow's own bomb check is an error, not a warning.
The work runs in a worker thread, at most ``concurrency`` at a time per process, so uploads neither
block the event loop nor take every core.
"""

from __future__ import annotations

import asyncio
import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from src.domain.identity.errors import InvalidImage

#: Width x height an upload may declare (a 2 MiB file can claim gigapixels: compression).
MAX_AVATAR_PIXELS = 25_000_000
_PILLOW_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
WEBP_QUALITY = 85


class PillowAvatarRenderer:
    def __init__(self, *, concurrency: int = 2, max_pixels: int = MAX_AVATAR_PIXELS) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._max_pixels = max_pixels

    async def render(self, data: bytes, image_format: str, sizes: tuple[int, ...]) -> dict[int, bytes]:
        async with self._slots:
            return await asyncio.to_thread(self._render, data, image_format, sizes)

    def _render(self, data: bytes, image_format: str, sizes: tuple[int, ...]) -> dict[int, bytes]:
        pillow_format = _PILLOW_FORMATS.get(image_format)
        if pillow_format is None:
            raise InvalidImage("an avatar must be a PNG, JPEG or WebP picture")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data), formats=[pillow_format]) as image:
                    width, height = image.size
                    if width < 1 or height < 1 or width * height > self._max_pixels:
                        raise InvalidImage(
                            f"the picture is {width}x{height} pixels; at most {self._max_pixels:,} pixels are read"
                        )
                    if pillow_format == "JPEG":
                        # Decode at a reduced scale straight away: only a small square is kept.
                        image.draft("RGB", (max(sizes) * 2, max(sizes) * 2))
                    image.seek(0)  # the first frame of an animation
                    image.load()
                    upright = ImageOps.exif_transpose(image)  # turn as the camera meant, before EXIF goes
                    mode = "RGBA" if _has_alpha(upright) else "RGB"
                    upright = upright.convert(mode)
        except InvalidImage:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise InvalidImage(f"the picture declares too many pixels; at most {self._max_pixels:,} are read") from exc
        except (
            UnidentifiedImageError,
            OSError,
            SyntaxError,
            ValueError,
            EOFError,
        ) as exc:
            raise InvalidImage(f"the picture could not be read as {image_format.upper()}") from exc
        pictures: dict[int, bytes] = {}
        for size in sizes:
            square = ImageOps.fit(upright, (size, size), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            # A fresh image: no EXIF, XMP or ICC profile is carried over.
            square.save(out, format="WEBP", quality=WEBP_QUALITY, method=4)
            pictures[size] = out.getvalue()
        return pictures


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in {"RGBA", "LA", "PA"} or (image.mode == "P" and "transparency" in image.info)
