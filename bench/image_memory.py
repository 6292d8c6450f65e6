"""Memory (and time) of processing one upload: a generated ~10 MB JPEG photo.

    .venv/bin/python bench/image_memory.py            # writes bench/results/image_memory.json

Each measurement runs in a fresh child process (Linux), which resets its peak RSS (VmHWM)
once the upload's bytes are loaded, so the figure is what processing one upload adds.
tracemalloc counts only Python-level allocations (the encoded outputs); Pillow's pixel
buffers are allocated in C, which is why peak RSS is the figure that matters. The same run compares
WebP with JPEG for the large size, which is how the single output format was chosen.
"""

from __future__ import annotations

import io
import json
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from PIL import Image

RESULTS = Path(__file__).parent / "results" / "image_memory.json"
TARGET_BYTES = 10 * 1024 * 1024
SIZE = (5600, 4200)  # 23.5 MP, just under the default MAX_IMAGE_PIXELS of 24 MP


def generated_photo() -> bytes:
    """A 23.5-megapixel JPEG of about 10 MB with detail at every scale, like a photo: a
    Mandelbrot set, blotches of coarse noise, and fine grain."""
    fractal = Image.effect_mandelbrot(SIZE, (-2.0, -1.2, 1.0, 1.2), 100)
    channels = []
    for sigma in (20, 25, 30):
        coarse = Image.effect_noise((SIZE[0] // 16, SIZE[1] // 16), 60)
        blotches = Image.blend(fractal, coarse.resize(SIZE, Image.Resampling.BICUBIC), 0.5)
        channels.append(Image.blend(blotches, Image.effect_noise(SIZE, sigma), 0.3))
    picture = Image.merge("RGB", channels)
    data = b""
    for quality in range(90, 100):  # the best quality that still fits under the upload cap
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=quality)
        if len(buffer.getvalue()) > TARGET_BYTES:
            break
        data = buffer.getvalue()
    return data


def generated_transparent_png() -> bytes:
    """The worst case for memory: a PNG is decoded in full (no reduced-scale decoding as
    for JPEG), and with transparency at 4 bytes a pixel."""
    fractal = Image.effect_mandelbrot(SIZE, (-2.0, -1.2, 1.0, 1.2), 100)
    picture = Image.merge("RGBA", (fractal, fractal, Image.new("L", SIZE, 90), fractal))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB
    raise LookupError(field)


def _reset_peak() -> None:
    # ru_maxrss survives exec (it would include the parent); VmHWM can be reset to now.
    Path("/proc/self/clear_refs").write_text("5")


def measure(path: str) -> dict[str, float]:
    """In the child: the upload's bytes are in memory, as in the request; then process them."""
    from potluck.services.images import process_image

    data = Path(path).read_bytes()
    _reset_peak()
    before = _status_mib("VmRSS")
    tracemalloc.start()
    started = time.perf_counter()
    processed = process_image(data, max_pixels=24_000_000)
    seconds = time.perf_counter() - started
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = _status_mib("VmHWM")
    return {
        "rss_before_mib": round(before, 1),
        "rss_peak_mib": round(peak, 1),
        "processing_rss_mib": round(peak - before, 1),
        "tracemalloc_peak_mib": round(traced_peak / 1024 / 1024, 1),
        "seconds": round(seconds, 3),
        "large_bytes": len(processed.files["large"]),
        "thumbnail_bytes": len(processed.files["thumbnail"]),
    }


def compare_formats(data: bytes) -> dict[str, int]:
    """Bytes of the large size as WebP (what we serve) and as JPEG at similar quality."""
    with Image.open(io.BytesIO(data)) as photo:
        photo.draft("RGB", (1600, 1600))
        large = photo.convert("RGB")
    large.thumbnail((1600, 1600), Image.Resampling.LANCZOS)
    sizes = {}
    for name, fmt, options in (
        ("webp_q80", "WEBP", {"quality": 80, "method": 4}),
        ("jpeg_q85", "JPEG", {"quality": 85, "optimize": True}),
    ):
        buffer = io.BytesIO()
        large.save(buffer, fmt, **options)
        sizes[name] = len(buffer.getvalue())
    return sizes


def measured(data: bytes, suffix: str) -> dict[str, object]:
    with tempfile.NamedTemporaryFile(suffix=suffix) as upload:
        upload.write(data)
        upload.flush()
        runs = []
        for _ in range(3):
            child = subprocess.run(
                [sys.executable, __file__, "--measure", upload.name],
                check=True,
                capture_output=True,
                text=True,
            )
            runs.append(json.loads(child.stdout))
    worst = max(runs, key=lambda run: run["processing_rss_mib"])
    return {"upload_bytes": len(data), "worst_of_3": worst, "runs": runs}


def main() -> None:
    photo = generated_photo()
    report = {
        "upload": {"width": SIZE[0], "height": SIZE[1], "cap_bytes": TARGET_BYTES},
        "jpeg_photo": measured(photo, ".jpg"),
        "png_with_alpha_worst_case": measured(generated_transparent_png(), ".png"),
        "large_size_formats": compare_formats(photo),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--measure":
        print(json.dumps(measure(sys.argv[2])))
    else:
        main()
