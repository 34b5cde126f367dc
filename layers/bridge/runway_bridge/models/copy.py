"""The copy queue's message: which job to copy, and the output URLs Runway answered when the poller
saw the task finish (so the copier need not read the task again; it does when they are missing or
have expired)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CopyMessage(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    job_id: str = Field(alias="jobId", min_length=1, max_length=128)
    outputs: list[str] = Field(default_factory=list, max_length=64)

    def body(self) -> dict[str, object]:
        """The message as the state machine sends it (outputs only when known)."""
        return self.model_dump(by_alias=True, exclude_defaults=True)
