"""ferry.objects: the key scheme, built and parsed back by one module, and the scan-status tag."""

from __future__ import annotations

from ferry.models import AttachmentStatus
from ferry.objects import PENDING_TAGS, attachment_id_in, object_key, status_tags, tagged_clean, tagged_status

ID = "6f1c2a44-3f0e-4b8e-9a55-0d7f5b1c2e3a"


def test_a_key_parses_back_to_its_attachment_id() -> None:
    for prefix in ("incoming/", "quarantine/", "ferry/incoming/"):
        assert attachment_id_in(object_key(prefix, ID), prefix) == ID


def test_keys_of_other_prefixes_or_deeper_paths_name_no_attachment() -> None:
    assert attachment_id_in(object_key("quarantine/", ID), "incoming/") is None
    assert attachment_id_in("incoming/", "incoming/") is None
    assert attachment_id_in(f"incoming/x/{ID}", "incoming/") is None


def test_only_a_clean_status_tag_reads_as_clean() -> None:
    assert tagged_status(PENDING_TAGS) == "pending" and not tagged_clean(PENDING_TAGS)
    assert tagged_clean(status_tags(AttachmentStatus.CLEAN))
    for status in AttachmentStatus:
        assert tagged_status(status_tags(status)) == status.value
        assert tagged_clean(status_tags(status)) == (status is AttachmentStatus.CLEAN)
    assert not tagged_clean({}) and not tagged_clean({"scan-status": "CLEAN"})
