"""The Pillow avatar renderer on real pictures: square WebP at each size, metadata gone, orientation
applied, transparency kept, and bombs, lies and broken files refused."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from src.domain.identity.errors import InvalidImage
from src.infrastructure.files.avatars import PillowAvatarRenderer
from tests.images import GPS_INFO, MAKE, decode, jpeg_with_exif, png, png_bomb, webp

SIZES = (256, 64)


@pytest.fixture
def renderer() -> PillowAvatarRenderer:
    return PillowAvatarRenderer()


async def test_each_size_is_a_square_webp(renderer: PillowAvatarRenderer) -> None:
    for data, image_format in ((png(), "png"), (jpeg_with_exif(), "jpeg"), (webp(), "webp")):
        pictures = await renderer.render(data, image_format, SIZES)
        assert set(pictures) == set(SIZES)
        for size, picture in pictures.items():
            image = decode(picture)
            assert (image.format, image.size) == ("WEBP", (size, size))


async def test_exif_and_location_are_stripped(renderer: PillowAvatarRenderer) -> None:
    original = jpeg_with_exif()
    assert b"SpyCam" in original
    assert Image.open(io.BytesIO(original)).getexif()[MAKE] == "SpyCam"
    for picture in (await renderer.render(original, "jpeg", SIZES)).values():
        assert b"SpyCam" not in picture
        assert b"Exif" not in picture
        assert b"EXIF" not in picture
        exif = decode(picture).getexif()
        assert MAKE not in exif
        assert GPS_INFO not in exif


async def test_the_camera_orientation_is_applied_before_it_is_dropped(renderer: PillowAvatarRenderer) -> None:
    # A wide picture, left half blue, right half red; EXIF orientation 6 says "turn 90 degrees clockwise":
    # upright, the blue half is on top.
    image = Image.new("RGB", (400, 200), (220, 0, 0))
    image.paste((0, 0, 220), (0, 0, 200, 200))
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, quality=95)
    picture = decode((await renderer.render(out.getvalue(), "jpeg", (64,)))[64]).convert("RGB")
    top, bottom = picture.getpixel((32, 4)), picture.getpixel((32, 60))
    assert isinstance(top, tuple)
    assert isinstance(bottom, tuple)
    assert (top[2] > 150, top[0] < 80) == (True, True), top  # blue
    assert (bottom[0] > 150, bottom[2] < 80) == (True, True), bottom  # red


async def test_transparency_is_kept(renderer: PillowAvatarRenderer) -> None:
    picture = decode((await renderer.render(png(alpha=True), "png", (64,)))[64])
    assert picture.mode == "RGBA"
    assert picture.getpixel((32, 32))[3] < 255  # type: ignore[index]


async def test_a_decompression_bomb_is_refused_before_it_is_decoded(renderer: PillowAvatarRenderer) -> None:
    # Pillow's own check refuses this one as it opens it (a gigapixel header) ...
    bomb = png_bomb(100_000, 100_000)
    assert len(bomb) < 2 * 1024 * 1024  # small enough to be uploaded
    with pytest.raises(InvalidImage, match="too many pixels"):
        await renderer.render(bomb, "png", SIZES)
    # ... and the renderer's own limit one that Pillow would decode (36 megapixels, ~100 MB of memory).
    with pytest.raises(InvalidImage, match="6000x6000"):
        await renderer.render(png_bomb(6000, 6000), "png", SIZES)
    # Just above the limit is refused too; the limit is the renderer's, not Pillow's warning threshold.
    with pytest.raises(InvalidImage, match="pixels"):
        await PillowAvatarRenderer(max_pixels=300 * 200 - 1).render(png(300, 200), "png", SIZES)


async def test_files_that_lie_about_their_format_or_are_broken_are_refused(renderer: PillowAvatarRenderer) -> None:
    with pytest.raises(InvalidImage):
        await renderer.render(png(), "jpeg", SIZES)  # decoded only as the format its signature claims
    with pytest.raises(InvalidImage):
        await renderer.render(png()[:60], "png", SIZES)  # truncated
    with pytest.raises(InvalidImage):
        await renderer.render(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "png", SIZES)
    with pytest.raises(InvalidImage):
        await renderer.render(b"GIF89a...", "gif", SIZES)
