"""ferry.sizes: one way to write a size, in Genesys's decimal units."""

from __future__ import annotations

import pytest

from ferry.sizes import human_size


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (999, "999 bytes"),
        (1000, "1.0 kB"),
        (2048, "2.0 kB"),
        (25_000_000, "25 MB"),
        (999_499, "999 kB"),
        (999_500, "1.0 MB"),
        (53_687_091_200, "54 GB"),  # 50 GiB, the default upload limit
        (3_000_000_000_000, "3.0 TB"),
    ],
)
def test_sizes_read_as_people_read_them(size: int, text: str) -> None:
    assert human_size(size) == text
