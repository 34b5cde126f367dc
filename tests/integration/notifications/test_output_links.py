"""Stable output links: only the bridge can make one, and only until it expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from runway_bridge.errors import OutputLinkRefusedError
from runway_bridge.logic.links import OutputLinkSigner
from runway_bridge.models.job import Job, JobOutput, JobStatus

NOW = datetime(2026, 11, 24, tzinfo=UTC)
JOB = Job(
    job_id="job-9", tenant_id="t", operation="text_to_video", model="gen4.5", status=JobStatus.SUCCEEDED,
    created_at=NOW, updated_at=NOW, request_hash="h",
)  # fmt: skip
OUTPUT = JobOutput(index=0, s3_uri="s3://b/outputs/job-9/0.mp4", sha256="x", content_type="video/mp4", size=1)
SIGNER = OutputLinkSigner("https://api.example.com/prod/", lambda: b"k" * 32, ttl_s=3600)


def parts(link: str) -> tuple[str, int, int, str]:
    url = urlsplit(link)
    query = parse_qs(url.query)
    _, _, _, job_id, index = url.path.rsplit("/", 4)
    return job_id, int(index), int(query["expires"][0]), query["signature"][0]


def test_a_link_made_by_the_bridge_verifies_until_it_expires() -> None:
    link, expires_at = SIGNER.link_for(JOB, OUTPUT, now=NOW)
    assert link.startswith("https://api.example.com/prod/v1/outputs/job-9/0?")
    job_id, index, expires, signature = parts(link)
    SIGNER.verify(job_id, index, expires, signature, now=NOW + timedelta(minutes=59))
    with pytest.raises(OutputLinkRefusedError, match="expired"):
        SIGNER.verify(job_id, index, expires, signature, now=expires_at + timedelta(seconds=1))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda j, i, e, s: ("job-8", i, e, s),  # another job
        lambda j, i, e, s: (j, 1, e, s),  # another output
        lambda j, i, e, s: (j, i, e + 86400, s),  # a later expiry
        lambda j, i, e, s: (j, i, e, s[:-1] + ("0" if s[-1] != "0" else "1")),  # a forged signature
        lambda j, i, e, s: (j, i, e, "é" * 64),  # not even hex
    ],
)
def test_a_changed_link_is_refused(tamper: object) -> None:
    link, _ = SIGNER.link_for(JOB, OUTPUT, now=NOW)
    job_id, index, expires, signature = tamper(*parts(link))  # type: ignore[operator]
    with pytest.raises(OutputLinkRefusedError, match="not valid"):
        SIGNER.verify(job_id, index, expires, signature, now=NOW)
