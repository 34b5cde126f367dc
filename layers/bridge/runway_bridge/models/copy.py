"""The copy queue's message: which job to copy, and the output URLs Runway answered when the poller
saw the task finish (so the copier need not read the task again; it does when they are missing or
have expired). Also the copier's write check of a tenant's output destination (the key setup's
event)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from runway_bridge.models.tenant import OutputDestination


class CopyMessage(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    job_id: str = Field(alias="jobId", min_length=1, max_length=128)
    outputs: list[str] = Field(default_factory=list, max_length=64)

    def body(self) -> dict[str, object]:
        """The message as the state machine sends it (outputs only when known)."""
        return self.model_dump(by_alias=True, exclude_defaults=True)


class DestinationCheckRequest(BaseModel):
    """The copier's other event, sent by the key setup (an invoke, not a queue message): check that
    the copier can write to a tenant's destination (`{"checkDestination": {"bucket", "prefix"}}`)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    check_destination: OutputDestination = Field(alias="checkDestination")


class DestinationCheck(BaseModel):
    """What the copier answers to a `DestinationCheckRequest`. `code`: "writable", "not_allowed"
    (the bucket is not in the stack's OutputBuckets) or "not_writable" (an S3 call was refused or
    failed; `message` says which)."""

    model_config = ConfigDict(populate_by_name=True)

    code: Literal["writable", "not_allowed", "not_writable"]
    message: str

    @property
    def writable(self) -> bool:
        return self.code == "writable"
