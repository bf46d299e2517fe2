"""File sizes as people read them: one format for the agent's message, the viewer and the customer."""

from __future__ import annotations


def human_size(size: int) -> str:
    """A size in decimal units like Genesys's limits ("25 MB"), as the widget writes them too."""
    if size < 1000:
        return f"{size} byte{'' if size == 1 else 's'}"
    value, unit = size / 1000, "kB"
    for bigger in ("MB", "GB", "TB"):
        if value < 999.5:  # what still prints as three digits
            break
        value, unit = value / 1000, bigger
    return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
