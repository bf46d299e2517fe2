"""Preview images of clean files: a video's poster frame, a DICOM file's first image (windowed for display,
its pixels as they are, no header text added), a PDF's first page, a large image downscaled.

`make_preview` renders in a child process (`python -m scanner.previews`) with a wall-clock timeout and an
address-space limit, so a hostile file can neither hang nor bloat the scanner; a file the child cannot
read gives None, never an error. The child reads a bounded temporary copy: the first
PREVIEW_MAX_INPUT_BYTES of the clean object (one ranged GET pinned to its ETag). A video larger than that
still gets a poster when its index comes first (a "faststart" MP4); other types need the whole file.
"""

from __future__ import annotations

import io
import logging
import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger("scanner.previews")

MAX_EDGE = 640  # px, the longer side of a preview
MAX_SOURCE_PIXELS = 100_000_000  # Pillow's decompression-bomb limit for decoded sources
MEMORY_LIMIT_BYTES = 1024 * 1024 * 1024  # the child's address space
POSTER_SECONDS = 2.0
_PREVIEWED_FAMILIES = ("video/", "image/")
_PREVIEWED_TYPES = ("application/dicom", "application/pdf")


def previewable(mime: str) -> bool:
    """Whether Ferry makes previews of files of this type."""
    return mime.startswith(_PREVIEWED_FAMILIES) or mime in _PREVIEWED_TYPES


def needs_whole_file(mime: str) -> bool:
    """Whether a truncated copy is useless (all but video, whose poster is near the start)."""
    return not mime.startswith("video/")


def make_preview(chunks: Iterable[bytes], mime: str, *, timeout: float) -> bytes | None:
    """A preview (a PNG, ferry.objects.PREVIEW_TYPE) of the file whose bytes `chunks` yields (bounded by
    the caller), or None."""
    with tempfile.NamedTemporaryFile(prefix="ferry-preview-", suffix=".bin") as source:
        for chunk in chunks:
            source.write(chunk)
        source.flush()
        try:
            done = subprocess.run(  # noqa: S603 - our own module; the file is only its argument
                [sys.executable, "-m", "scanner.previews", source.name, mime],
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            log.warning("preview timed out", extra={"mime": mime, "timeout_seconds": timeout})
            return None
    if done.returncode != 0 or not done.stdout:
        log.info(
            "no preview for this file",
            extra={"mime": mime, "error": done.stderr.decode(errors="replace")[-500:]},
        )
        return None
    return done.stdout


def render(path: str, mime: str) -> bytes:
    """The PNG preview of the file at `path` (in the child process).

    :raise Exception: whatever the decoders raise for a file they cannot read.
    """
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_SOURCE_PIXELS
    if mime.startswith("video/"):
        image = _poster(path)
    elif mime == "application/dicom":
        image = _dicom(path)
    elif mime == "application/pdf":
        image = _pdf_page(path)
    else:
        with Image.open(path) as opened:
            opened.draft("RGB", (MAX_EDGE, MAX_EDGE))  # JPEG: decode at a reduced scale
            image = opened.convert("RGB")
    image.thumbnail((MAX_EDGE, MAX_EDGE))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _poster(path: str) -> Image.Image:
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        duration = float(container.duration / av.time_base) if container.duration else 0.0
        if duration > POSTER_SECONDS * 2 and stream.time_base:
            # Seek to the keyframe before the poster time, then decode up to it.
            container.seek(int(POSTER_SECONDS / stream.time_base), stream=stream, backward=True)
        first = None
        for frame in container.decode(stream):
            first = first or frame
            if frame.time is None or frame.time >= min(POSTER_SECONDS, duration / 2):
                return _to_image(frame)
        if first is None:
            raise ValueError("the video has no frame")
        return _to_image(first)


def _to_image(frame: Any) -> Image.Image:
    """A decoded video frame as a Pillow image (PyAV's own method is untyped)."""
    return cast("Image.Image", frame.to_image())


def _dicom(path: str) -> Image.Image:
    import numpy as np
    import pydicom
    from PIL import Image
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    dataset = pydicom.dcmread(path)
    pixels = dataset.pixel_array
    frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
    rgb = dataset.get("SamplesPerPixel", 1) == 3
    if frames > 1:
        pixels = pixels[0]
    if rgb:
        return Image.fromarray(np.ascontiguousarray(pixels).astype(np.uint8), "RGB")
    values = apply_voi_lut(apply_modality_lut(pixels, dataset), dataset).astype(np.float64)
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) * 255.0 if high > low else np.zeros_like(values)
    if dataset.get("PhotometricInterpretation") == "MONOCHROME1":
        scaled = 255.0 - scaled
    return Image.fromarray(scaled.astype(np.uint8), "L")


def _pdf_page(path: str) -> Image.Image:
    import pypdfium2

    document = pypdfium2.PdfDocument(path)
    try:
        page = document[0]
        width, height = page.get_size()
        scale = min(2.0, MAX_EDGE / max(width, height, 1.0))
        return cast("Image.Image", page.render(scale=scale).to_pil()).convert("RGB")
    finally:
        document.close()


def main(argv: list[str]) -> int:
    """The child: render `argv[0]` (of type `argv[1]`) and write the PNG to stdout."""
    path, mime = argv
    # Set here rather than in a preexec_fn, which is unsafe in the scanner's threaded process.
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    try:
        png = render(path, mime)
    except Exception as exc:  # any decoder failure is "no preview"; the parent logs it
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(png)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main(sys.argv[1:]))
