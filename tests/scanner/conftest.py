"""Fixtures for the scanner tests: sample files; the clamd clients are the adapter tests' (tests/ferry)."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from tests.ferry.conftest import (  # noqa: F401 - fixtures shared with the scanner tests
    clamd_client,
    clamd_tcp_client,
    eicar,
    free_port,
    small_clamd,
    small_clamd_client,
)


@pytest.fixture(scope="session")
def samples() -> dict[str, bytes]:
    """Small valid files of each kind the tests need, generated here."""
    return {
        "png": _png(),
        "pdf": _pdf(),
        "mp4": make_mp4(b"\0" * 4096),
        "dicom": _dicom(),
        "elf": _elf(),
        "pe": _pe(),
    }


@pytest.fixture(scope="session")
def media() -> dict[str, bytes]:
    """Real media a previewer must render: a 3 s H.264 MP4 (PyAV), a 16-bit DICOM image with a gradient
    (pydicom) and a one-page PDF with a filled square."""
    return {
        "mp4": _real_mp4(),
        "dicom": _dicom(rows=64, columns=48, bits=16),
        "pdf": _pdf(b"0 0 1 rg 20 20 160 160 re f"),
    }


def _real_mp4(width: int = 320, height: int = 240, seconds: int = 3, rate: int = 24) -> bytes:
    import av
    import numpy as np

    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(seconds * rate):
            ramp = (np.arange(width, dtype=np.uint16) + index * 3) % 256  # a moving horizontal gradient
            pixels = np.repeat(np.tile(ramp.astype(np.uint8), (height, 1))[:, :, None], 3, axis=2)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    return out.getvalue()


def make_mp4(payload: bytes) -> bytes:
    """An ISO base media file: ftyp, a free box, and an mdat box holding `payload`."""

    def box(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", 8 + len(body)) + kind + body

    return (
        box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2mp41")
        + box(b"free", b"")
        + box(b"mdat", payload)
    )


@pytest.fixture(scope="session")
def mp4_with() -> Callable[[bytes], bytes]:
    """Build an MP4 around a payload."""
    return make_mp4


def _png(width: int = 4, height: int = 4) -> bytes:
    """A valid RGB PNG (signature, IHDR, IDAT, IEND with CRCs)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\0" + bytes([200, 30, 30]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _pdf(drawing: bytes = b"") -> bytes:
    """A one-page PDF (200 x 200 pt, its page drawn by `drawing`) with a correct cross-reference table."""
    contents = b" /Contents 4 0 R" if drawing else b""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200]%s >>" % contents,
    ]
    if drawing:
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(drawing), drawing))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _dicom(rows: int = 2, columns: int = 2, bits: int = 8) -> bytes:
    """A DICOM Part 10 file (128-byte preamble, "DICM", file meta) with a secondary-capture image: zeros
    at 8 bits, a left-to-right gradient otherwise."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName = "Test^Ferry"
    ds.Modality = "OT"
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits, bits, bits - 1
    ds.SamplesPerPixel, ds.PixelRepresentation = 1, 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    if bits == 8:
        ds.PixelData = bytes(rows * columns)
    else:
        row = b"".join(struct.pack("<H", column * 1000) for column in range(columns))
        ds.PixelData = row * rows
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _elf() -> bytes:
    """The start of a 64-bit x86-64 ELF executable."""
    ident = b"\x7fELF\x02\x01\x01" + bytes(9)
    return ident + struct.pack("<HHI", 2, 0x3E, 1) + bytes(200)


def _pe() -> bytes:
    """The start of a Windows PE executable (MZ header pointing at a PE header)."""
    return b"MZ" + bytes(58) + struct.pack("<I", 64) + b"PE\0\0" + struct.pack("<HH", 0x14C, 1) + bytes(300)
