"""A seekable WebM for browser tests: VP8 frames encoded by Chromium's WebCodecs, muxed here with a
duration and cues (what a browser needs to seek with Range requests). The machine has no ffmpeg."""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass

from playwright.sync_api import Page

ENCODE = """
async ([width, height, fps, frames, keyEvery]) => {
  const chunks = [];
  const encoder = new VideoEncoder({
    output: (chunk) => {
      const bytes = new Uint8Array(chunk.byteLength);
      chunk.copyTo(bytes);
      let text = "";
      for (let i = 0; i < bytes.length; i += 0x8000) {
        text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
      }
      chunks.push([chunk.timestamp, chunk.type === "key", btoa(text)]);
    },
    error: (e) => { throw e; },
  });
  encoder.configure({codec: "vp8", width, height, bitrate: 4_000_000, framerate: fps});
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext("2d");
  for (let i = 0; i < frames; i++) {
    // Noise does not compress: the file gets big enough that a seek needs a new Range request.
    const image = context.createImageData(width, height);
    for (let p = 0; p < image.data.length; p++) image.data[p] = (Math.random() * 255) | 0;
    context.putImageData(image, 0, 0);
    const frame = new VideoFrame(canvas, {timestamp: Math.round(i * 1e6 / fps)});
    encoder.encode(frame, {keyFrame: i % keyEvery === 0});
    frame.close();
  }
  await encoder.flush();
  return chunks;
}
"""


@dataclass(frozen=True)
class Frame:
    timestamp_ms: int
    key: bool
    data: bytes


def encode_vp8(
    page: Page, *, width: int = 320, height: int = 240, fps: int = 10, seconds: int = 20
) -> list[Frame]:
    """Frames from the browser's VP8 encoder (`page` must be on a secure origin, e.g. http://127.0.0.1)."""
    raw = page.evaluate(ENCODE, [width, height, fps, fps * seconds, fps])
    return [Frame(round(ts / 1000), bool(key), base64.b64decode(data)) for ts, key, data in raw]


def _size(n: int) -> bytes:
    return bytes([0x01]) + n.to_bytes(7, "big")  # an 8-byte EBML size: simple, and always valid


def _element(element_id: int, payload: bytes) -> bytes:
    return element_id.to_bytes((element_id.bit_length() + 7) // 8, "big") + _size(len(payload)) + payload


def _uint(element_id: int, value: int, width: int | None = None) -> bytes:
    return _element(element_id, value.to_bytes(width or max(1, (value.bit_length() + 7) // 8), "big"))


def _float(element_id: int, value: float) -> bytes:
    return _element(element_id, struct.pack(">d", value))


def _text(element_id: int, value: str) -> bytes:
    return _element(element_id, value.encode("ascii"))


def mux(frames: list[Frame], *, width: int = 320, height: int = 240) -> bytes:
    """A WebM: header, Info (with Duration), Tracks, Cues (one per cluster), one cluster per keyframe."""
    header = _element(
        0x1A45DFA3,
        _uint(0x4286, 1)
        + _uint(0x42F7, 1)
        + _uint(0x42F2, 4)
        + _uint(0x42F3, 8)
        + _text(0x4282, "webm")
        + _uint(0x4287, 2)
        + _uint(0x4285, 2),
    )
    step = frames[1].timestamp_ms - frames[0].timestamp_ms if len(frames) > 1 else 100
    duration = frames[-1].timestamp_ms + step
    info = _element(
        0x1549A966,
        _uint(0x2AD7B1, 1_000_000)
        + _float(0x4489, float(duration))
        + _text(0x4D80, "ferry-tests")
        + _text(0x5741, "ferry-tests"),
    )
    video = _element(0xE0, _uint(0xB0, width) + _uint(0xBA, height))
    tracks = _element(
        0x1654AE6B,
        _element(0xAE, _uint(0xD7, 1) + _uint(0x73C5, 1) + _uint(0x83, 1) + _text(0x86, "V_VP8") + video),
    )
    clusters: list[tuple[int, bytes]] = []
    for frame in frames:
        if frame.key or not clusters:
            clusters.append((frame.timestamp_ms, b""))
        start, body = clusters[-1]
        block = (
            bytes([0x81]) + struct.pack(">h", frame.timestamp_ms - start) + bytes([0x80 if frame.key else 0])
        )
        clusters[-1] = (start, body + _element(0xA3, block + frame.data))
    encoded = [_element(0x1F43B675, _uint(0xE7, start) + body) for start, body in clusters]

    def cues(positions: list[int]) -> bytes:
        points = b"".join(
            _element(0xBB, _uint(0xB3, start, 8) + _element(0xB7, _uint(0xF7, 1) + _uint(0xF1, position, 8)))
            for (start, _), position in zip(clusters, positions, strict=True)
        )
        return _element(0x1C53BB6B, points)

    # Cue positions count from the start of the segment's payload; the cues' size does not depend on them.
    offset = len(info) + len(tracks) + len(cues([0] * len(clusters)))
    positions = []
    for cluster in encoded:
        positions.append(offset)
        offset += len(cluster)
    segment = _element(0x18538067, info + tracks + cues(positions) + b"".join(encoded))
    return header + segment
