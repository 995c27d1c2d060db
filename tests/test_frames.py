"""Decoding and validating uploads: formats are sniffed, limits hold, damage is named."""
import base64

import cv2
import numpy as np
import pytest
from PIL import Image

from server.problems import InputProblem
from server.vision.frames import ImageLimits, VideoLimits, decode_image, read_video
from tests import media, synthetic

LIMITS = ImageLimits(max_bytes=20 * 1024 * 1024, max_pixels=40_000_000, min_side=32)
VIDEO_LIMITS = VideoLimits(max_bytes=60 * 1024 * 1024, max_seconds=120, sample_fps=5, max_pixels=40_000_000)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP"])
def test_every_supported_format_decodes_to_rgb(fmt):
    face = synthetic.astronaut_face()
    rgb = decode_image(synthetic.encode(face, fmt, quality=95), LIMITS)
    assert rgb.shape == face.shape and rgb.dtype == np.uint8
    assert np.abs(rgb.astype(int) - face).mean() < 4  # lossy formats stay close


def test_base64_and_data_urls_are_accepted():
    png = synthetic.encode(synthetic.astronaut_face(), "PNG")
    plain = base64.b64encode(png).decode()
    assert decode_image(plain, LIMITS).shape == (480, 480, 3)
    assert decode_image("data:image/png;base64," + plain, LIMITS).shape == (480, 480, 3)


def test_exif_orientation_is_applied():
    wide = np.zeros((40, 80, 3), np.uint8)
    rotated = decode_image(media.jpeg_with_exif_orientation(wide, 6), LIMITS)  # 6 = rotate 90 deg clockwise
    assert rotated.shape[:2] == (80, 40)


@pytest.mark.parametrize(
    "data, code",
    [
        (b"", "empty"),
        (b"this is a text file renamed to .jpg", "unsupported_media_type"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 64, "corrupt_image"),
        ("not base64 !!", "bad_base64"),
    ],
)
def test_unusable_bytes_are_named(data, code):
    with pytest.raises(InputProblem) as raised:
        decode_image(data, LIMITS)
    assert raised.value.code == code


def test_truncated_jpeg_is_corrupt():
    jpeg = synthetic.encode(synthetic.astronaut_face())
    with pytest.raises(InputProblem) as raised:
        decode_image(jpeg[: len(jpeg) // 3], LIMITS)
    assert raised.value.code == "corrupt_image"


def test_tiny_and_huge_images_are_refused_before_decoding():
    with pytest.raises(InputProblem) as tiny:
        decode_image(media.png_of_size(1, 1), LIMITS)
    assert tiny.value.code == "image_too_small"
    with pytest.raises(InputProblem) as huge:
        decode_image(media.png_of_size(8000, 6250), LIMITS)  # 50 megapixels
    assert huge.value.code == "too_large"


def test_video_frames_are_sampled_at_the_requested_rate():
    frames = [synthetic.astronaut_face()] * 30  # 3 s at 10 fps
    info, sampled = read_video(media.write_video(frames, fps=10), VIDEO_LIMITS)
    assert info.duration_s == pytest.approx(3.0, abs=0.15)
    assert len(sampled) == 15  # 5 per second
    assert [round(f.t_s, 1) for f in sampled[:3]] == [0.0, 0.2, 0.4]


def test_truncated_and_overlong_videos_are_refused():
    video = media.write_video([synthetic.astronaut_face()] * 20, fps=10)
    with pytest.raises(InputProblem) as truncated:
        read_video(video[: len(video) // 2], VIDEO_LIMITS)
    assert truncated.value.code == "corrupt_video"
    short_limit = VideoLimits(max_bytes=60 * 1024 * 1024, max_seconds=1.0, sample_fps=5, max_pixels=40_000_000)
    with pytest.raises(InputProblem) as too_long:
        read_video(video, short_limit)
    assert too_long.value.code == "too_long"


def test_a_video_that_is_really_an_image_is_refused():
    with pytest.raises(InputProblem) as raised:
        read_video(synthetic.encode(synthetic.astronaut_face()), VIDEO_LIMITS)
    assert raised.value.code == "unsupported_media_type"


def test_an_uploaded_video_is_decoded_from_memory_and_leaves_no_file(monkeypatch):
    import os
    import tempfile as tempfile_module

    from server.vision import frames

    made = []
    real_mkstemp = tempfile_module.mkstemp

    def spy(*args, **kwargs):
        fd, path = real_mkstemp(*args, **kwargs)
        made.append(path)
        return fd, path

    video = media.write_video([synthetic.astronaut_face()] * 10, fps=10)
    monkeypatch.setattr(frames.tempfile, "mkstemp", spy)
    with frames.open_video(video, frames.VideoLimits(10**8, 60, 5, 10**8)) as source:
        assert source.info.duration_s > 0
    assert made and all(path.startswith("/dev/shm/") for path in made)  # RAM, never a disk
    assert not any(os.path.exists(path) for path in made)


def test_a_big_photo_is_reduced_to_the_analysis_size_while_decoding_and_kept_upright():
    limits = ImageLimits(max_bytes=20 * 1024 * 1024, max_pixels=40_000_000, min_side=32, decode_max_side=1280)
    wide = np.zeros((1500, 3000, 3), np.uint8)
    wide[:, :1500, 0] = 255  # the left half red: where it ends up shows the rotation
    for data in (synthetic.encode(wide, "PNG"), media.jpeg_with_exif_orientation(wide, 6)):
        rgb = decode_image(data, limits)
        assert max(rgb.shape[:2]) == 1280
    assert rgb.shape[:2] == (1280, 640)  # the JPEG was turned upright: tall, its red half on top
    assert rgb[:600, :, 0].mean() > 200 and rgb[680:, :, 0].mean() < 50
    small = synthetic.astronaut_face()
    assert decode_image(synthetic.encode(small, "PNG"), limits).shape == small.shape  # smaller: untouched


# Peak memory of one decode, measured in a fresh interpreter (the test process's own high-water
# mark would hide it): ru_maxrss before and after, in KiB on Linux.
_DECODE_PEAK_SCRIPT = """
import resource, sys
from server.assess.analysis import image_limits
from server.config import Settings
from server.vision.frames import decode_image
data = open(sys.argv[1], "rb").read()
limits = image_limits(Settings())
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rgb = decode_image(data, limits)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(rgb.shape[0], rgb.shape[1], (after - before) / 1024)
"""


def test_a_huge_but_small_png_is_decoded_within_bounded_memory(tmp_path):
    import subprocess
    import sys

    from PIL import Image

    from tests.server_process import REPO_ROOT

    side = 6300  # 39.7 MP: under the 40 MP cap, ~120 KB as a PNG of stripes
    stripes = Image.new("L", (side, side))
    stripes.paste(200, (0, 0, side, side // 2))
    path = tmp_path / "huge.png"
    stripes.convert("RGB").save(path)
    assert path.stat().st_size < 1024 * 1024
    done = subprocess.run([sys.executable, "-c", _DECODE_PEAK_SCRIPT, str(path)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    height, width, growth_mb = done.stdout.split()
    assert (int(height), int(width)) == (1280, 1280)
    pillow_buffer_mb = side * side * 4 / 2**20  # Pillow keeps RGB at 4 bytes a pixel: 151 MB at full size
    # Before: 682 MB (4.5 such buffers: transpose, convert and array copies at full size). Now the
    # PNG decoder's one full-size buffer plus the reduction's working memory (measured: 211 MB).
    assert float(growth_mb) < 1.6 * pillow_buffer_mb


def _decode_peak_mb(tmp_path, data: bytes) -> tuple[int, int, float]:
    import subprocess
    import sys

    from tests.server_process import REPO_ROOT

    path = tmp_path / "image.bin"
    path.write_bytes(data)
    done = subprocess.run([sys.executable, "-c", _DECODE_PEAK_SCRIPT, str(path)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    height, width, growth_mb = done.stdout.split()
    return int(height), int(width), float(growth_mb)


def test_a_16_bit_rgba_png_is_decoded_with_one_full_size_buffer(tmp_path):
    """Issue 25: a 340 KB 16-bit RGBA PNG of 6300x6300 took 363 MB to decode (the decode, then a
    premultiplied-alpha copy to resize it, at full size each); now the decode plus a strip at a time."""
    side = 6300
    data = media.png16_rgba_halves(side)
    assert len(data) < 1024 * 1024
    height, width, growth_mb = _decode_peak_mb(tmp_path, data)
    assert (height, width) == (1280, 1280)
    pillow_buffer_mb = side * side * 4 / 2**20  # 16-bit RGBA is decoded to 8-bit RGBA: 151 MB at full size
    # Measured: 363 MB before (2.4 buffers), 183 MB now (the buffer plus the PNG decoder's working memory).
    assert growth_mb < 1.35 * pillow_buffer_mb, growth_mb


def test_an_image_whose_decode_would_take_more_than_the_budget_is_refused_with_the_reason():
    limits = ImageLimits(max_bytes=20 * 1024 * 1024, max_pixels=40_000_000, min_side=32, decode_max_side=1280,
                         max_decode_bytes=8 * 1024 * 1024)
    rgba = Image.new("RGBA", (1600, 1600), (10, 20, 30, 255))  # 1600 x 1600 x 4 bytes = 9.8 MB decoded
    with pytest.raises(InputProblem) as caught:
        decode_image(_encoded(rgba, "PNG"), limits)
    assert caught.value.code == "too_large" and "mode RGBA" in caught.value.message
    assert "decoding it would take 10 MB" in caught.value.message
    grey = Image.new("L", (1600, 1600), 128)  # 1 byte a pixel: 2.4 MB, within the budget
    assert decode_image(_encoded(grey, "PNG"), limits).shape == (1280, 1280, 3)


def _encoded(img, fmt: str, **options) -> bytes:
    import io

    out = io.BytesIO()
    img.save(out, fmt, **options)
    return out.getvalue()


def _modes():
    """Big images in every mode a decoder gives (palette, alpha, grey with alpha, CMYK, 16-bit grey)."""
    face = Image.fromarray(cv2.resize(synthetic.astronaut_face(), (2400, 1800)))
    return [
        ("P", _encoded(face.convert("P", palette=Image.Palette.ADAPTIVE), "PNG")),
        ("RGBA", _encoded(face.convert("RGBA"), "PNG")),
        ("LA", _encoded(face.convert("LA"), "PNG")),
        ("CMYK", _encoded(face.convert("CMYK"), "JPEG", quality=95)),
        ("I;16", _encoded(face.convert("L").convert("I;16"), "PNG")),
        ("RGB", _encoded(face, "BMP")),
    ]


@pytest.mark.parametrize("mode, data", _modes(), ids=[m for m, _ in _modes()])
def test_every_decoded_mode_is_reduced_in_strips_to_the_same_picture_as_a_whole_image_resize(mode, data):
    import io

    limits = ImageLimits(max_bytes=20 * 1024 * 1024, max_pixels=40_000_000, min_side=32, decode_max_side=1280)
    rgb = decode_image(data, limits)
    assert rgb.shape == (960, 1280, 3) and rgb.dtype == np.uint8
    with Image.open(io.BytesIO(data)) as img:
        expected = np.asarray(img.convert("RGB").resize((1280, 960), Image.Resampling.BOX))
    assert np.abs(rgb.astype(int) - expected).mean() < 3, mode
