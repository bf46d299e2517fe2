"""A private S3 mirror of ClamAV's signature databases: kept fresh by a scheduled Lambda, read by the scanner.

`lambda_handler` (EventBridge schedule, template.yaml) copies the mirror into /tmp, lets freshclam bring it
up to date there (incremental .cdiff updates against what the mirror already holds, so ClamAV's CDN is asked
for little), then uploads each database whose md5 changed and removes those freshclam dropped. freshclam's
state file travels with the databases, so a CDN cool-down (HTTP 429) is honoured by the next run too.

`download_signatures` is the reading side: the scanner calls it at cold start to fill clamd's database
directory from the mirror (CLAMAV_MIRROR_URL), skipping files a warm sandbox already has.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ferry.logs import configure_logging

log = logging.getLogger("scanner.signature_updater")

# main, daily and bytecode, each as a .cvd (as published) or a .cld (after incremental updates).
DATABASE_FILE = re.compile(r"^[A-Za-z0-9_-]+\.c[lv]d$")
# freshclam's own state: its mirror choice and any cool-down the CDN imposed.
STATE_FILE = "freshclam.dat"
MD5_METADATA = "md5"
# Lambda's only writable place (a sandbox runs one invocation at a time, so it is ours alone).
DEFAULT_WORKDIR = Path("/tmp/clamav-update")  # noqa: S108
# Inside the updater's 600 s Lambda timeout, with room to upload what freshclam fetched.
FRESHCLAM_TIMEOUT_SECONDS = 420.0
# Lines of freshclam's output kept in an error message.
OUTPUT_TAIL_LINES = 15
READ_CHUNK = 1024 * 1024


class SignatureMirrorError(RuntimeError):
    """The mirror could not be read or written."""


class FreshclamError(RuntimeError):
    """freshclam did not finish its update; the message ends with its last lines of output."""


@dataclass(frozen=True)
class MirrorLocation:
    """Where the mirror lives: `s3://bucket/prefix/`."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> MirrorLocation:
        """:raise ValueError: `url` is not an s3://bucket[/prefix/] URL."""
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc or parsed.query or parsed.fragment:
            raise ValueError(f"a signature mirror is an s3://bucket/prefix/ URL (got {url!r})")
        prefix = parsed.path.lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return cls(bucket=parsed.netloc, prefix=prefix)

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


@dataclass
class SyncReport:
    """What one copy between the mirror and a local directory did, by file name."""

    copied: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {"copied": self.copied, "unchanged": self.unchanged, "removed": self.removed}


class Mirror:
    """The mirror's files through an S3 client; S3 errors become `SignatureMirrorError` here."""

    def __init__(self, client: Any, location: MirrorLocation) -> None:
        self.client = client
        self.location = location

    def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, method)(Bucket=self.location.bucket, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise SignatureMirrorError(f"{method} on {self.location}: {exc}") from exc

    def names(self) -> list[str]:
        """File names directly under the prefix."""
        names: list[str] = []
        kwargs: dict[str, Any] = {"Prefix": self.location.prefix}
        while True:
            answer = self._call("list_objects_v2", **kwargs)
            for item in answer.get("Contents", []):
                name = str(item["Key"])[len(self.location.prefix) :]
                if name and "/" not in name:
                    names.append(name)
            if not answer.get("IsTruncated"):
                return names
            kwargs["ContinuationToken"] = answer["NextContinuationToken"]

    def md5(self, name: str) -> str | None:
        """The md5 recorded when the file was uploaded (None for a file this module did not upload)."""
        answer = self._call("head_object", Key=self.location.key(name))
        value = answer.get("Metadata", {}).get(MD5_METADATA)
        return str(value) if value else None

    def download(self, name: str, target: Path) -> None:
        """Write the file to `target` through a temporary name, so a reader never sees half of it."""
        partial = target.with_name(target.name + ".part")
        body = self._call("get_object", Key=self.location.key(name))["Body"]
        try:
            with partial.open("wb") as out:
                for chunk in body.iter_chunks(READ_CHUNK):
                    out.write(chunk)
        except (BotoCoreError, ClientError) as exc:
            raise SignatureMirrorError(f"get_object {name} from {self.location}: {exc}") from exc
        finally:
            body.close()
        partial.replace(target)

    def upload(self, name: str, source: Path, md5: str) -> None:
        with source.open("rb") as body:
            self._call("put_object", Key=self.location.key(name), Body=body, Metadata={MD5_METADATA: md5})

    def delete(self, name: str) -> None:
        self._call("delete_object", Key=self.location.key(name))


def is_database(name: str) -> bool:
    return DATABASE_FILE.match(name) is not None


def md5_of(path: Path) -> str:
    """Hex md5 of a file, read in chunks (an integrity fingerprint, not a security measure)."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as source:
        while chunk := source.read(READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def download_signatures(
    client: Any, location: MirrorLocation, datadir: Path, *, include_state: bool = False
) -> SyncReport:
    """Make `datadir` hold exactly the mirror's databases (and freshclam's state file if asked).

    Files whose md5 already matches are not downloaded again; local databases the mirror no longer has
    are removed, so that clamd never loads a daily.cvd beside the daily.cld that replaced it.
    """
    mirror = Mirror(client, location)
    datadir.mkdir(parents=True, exist_ok=True)
    wanted = [n for n in mirror.names() if is_database(n) or (include_state and n == STATE_FILE)]
    report = SyncReport()
    for name in sorted(wanted):
        target = datadir / name
        if target.is_file() and mirror.md5(name) == md5_of(target):
            report.unchanged.append(name)
            continue
        mirror.download(name, target)
        report.copied.append(name)
    for stale in sorted(p for p in datadir.iterdir() if is_database(p.name) and p.name not in wanted):
        stale.unlink()
        report.removed.append(stale.name)
    return report


def upload_signatures(client: Any, location: MirrorLocation, datadir: Path) -> SyncReport:
    """Upload each database in `datadir` whose md5 differs from the mirror's; remove the ones it lacks.

    :raise SignatureMirrorError: `datadir` holds no database at all (never empty the mirror).
    """
    local = sorted(p for p in datadir.iterdir() if p.is_file() and is_database(p.name))
    if not local:
        raise SignatureMirrorError(f"no signature database in {datadir}; the mirror is left as it is")
    mirror = Mirror(client, location)
    remote = {n for n in mirror.names() if is_database(n)}
    report = SyncReport()
    # New files first, removals last: a scanner starting meanwhile always finds a complete set.
    for path in local:
        if _sync_file(mirror, path, known=path.name in remote):
            report.copied.append(path.name)
        else:
            report.unchanged.append(path.name)
    for name in sorted(remote - {p.name for p in local}):
        mirror.delete(name)
        report.removed.append(name)
    return report


def _sync_file(mirror: Mirror, path: Path, *, known: bool) -> bool:
    """Upload `path` unless the mirror already has it with the same md5; True if it was uploaded."""
    digest = md5_of(path)
    if known and mirror.md5(path.name) == digest:
        return False
    mirror.upload(path.name, path, digest)
    return True


def freshclam_config(datadir: Path, *, private_mirror: str | None = None, max_attempts: int = 3) -> str:
    """A freshclam.conf that updates `datadir` once, in the foreground, logging to stdout only.

    Without `private_mirror` freshclam checks the version over DNS and downloads from ClamAV's CDN
    (its defaults); with it, it asks that HTTP mirror (e.g. one kept by cvdupdate) directly. Each mirror
    is tried `max_attempts` times, 5 s apart.
    """
    lines = [
        f"DatabaseDirectory {datadir}",
        "Foreground yes",
        "LogTime no",
        "ScriptedUpdates yes",
        "CompressLocalDatabase no",
        "Bytecode yes",
        # Load each new database once before it replaces the old one: never mirror a broken file.
        "TestDatabases yes",
        f"MaxAttempts {max_attempts}",
        "ConnectTimeout 30",
        "ReceiveTimeout 300",
    ]
    if private_mirror:
        lines.append(f"PrivateMirror {private_mirror}")
    if os.geteuid() == 0:
        # Run as root (a test machine, not Lambda), freshclam would switch to the "clamav" user, who
        # cannot write our directory.
        lines.append(f"DatabaseOwner {pwd.getpwuid(0).pw_name}")
    return "\n".join(lines) + "\n"


def run_freshclam(
    config: Path, *, executable: str = "freshclam", timeout: float = FRESHCLAM_TIMEOUT_SECONDS
) -> str:
    """Run freshclam once with `config`; returns its output.

    :raise FreshclamError: freshclam is missing, timed out or exited non-zero.
    """
    path = shutil.which(executable)
    if path is None:
        raise FreshclamError(f"{executable} is not installed")
    command = [path, f"--config-file={config}", "--stdout", "--no-warnings"]
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise FreshclamError(f"freshclam did not finish within {timeout:.0f} s") from exc
    output = (done.stdout or "") + (done.stderr or "")
    if done.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-OUTPUT_TAIL_LINES:])
        raise FreshclamError(f"freshclam exited with status {done.returncode}:\n{tail}")
    return output


@dataclass(frozen=True)
class UpdateReport:
    """The outcome of one updater run."""

    mirror: str
    fetched_from_mirror: SyncReport
    published: SyncReport
    cooling_down: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "mirror": self.mirror,
            "fetched_from_mirror": self.fetched_from_mirror.as_dict(),
            "published": self.published.as_dict(),
            "cooling_down": self.cooling_down,
        }


def update_mirror(
    client: Any,
    location: MirrorLocation,
    workdir: Path = DEFAULT_WORKDIR,
    *,
    private_mirror: str | None = None,
    max_attempts: int = 3,
    executable: str = "freshclam",
) -> UpdateReport:
    """Mirror -> local directory -> freshclam -> mirror.

    :raise FreshclamError: the update failed (freshclam's state file is still saved to the mirror).
    :raise SignatureMirrorError: the mirror could not be read or written.
    """
    datadir = workdir / "db"
    fetched = download_signatures(client, location, datadir, include_state=True)
    config = workdir / "freshclam.conf"
    config.write_text(freshclam_config(datadir, private_mirror=private_mirror, max_attempts=max_attempts))
    try:
        output = run_freshclam(config, executable=executable)
    finally:
        state = datadir / STATE_FILE
        if state.is_file():
            mirror = Mirror(client, location)
            _sync_file(mirror, state, known=STATE_FILE in mirror.names())
    published = upload_signatures(client, location, datadir)
    # After a 429 freshclam exits 0 without asking the CDN again until its cool-down ends.
    return UpdateReport(
        mirror=str(location),
        fetched_from_mirror=fetched,
        published=published,
        cooling_down="rate limited" in output,
    )


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Scheduled entry point. The event names the mirror: {"mirror_url": "s3://bucket/prefix/"}, and may
    name an HTTP mirror for freshclam to use instead of ClamAV's CDN: {"private_mirror": "https://..."}."""
    configure_logging("INFO")
    location = MirrorLocation.parse(str(event["mirror_url"]))
    private_mirror = str(event["private_mirror"]) if event.get("private_mirror") else None
    report = update_mirror(boto3.client("s3"), location, DEFAULT_WORKDIR, private_mirror=private_mirror)
    if report.cooling_down:
        log.warning("ClamAV's CDN rate-limited us; waiting out its cool-down", extra=report.as_dict())
    else:
        log.info("signature mirror updated", extra=report.as_dict())
    return report.as_dict()
