"""The artifacts bucket over boto3: large request bodies and output copies; and the objects
`s3://` inputs name (`S3InputObjects`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runway_bridge.errors import InputObjectForbiddenError, InputObjectMissingError, StoreUnavailableError
from runway_bridge.models.records import InputObject

DELETE_BATCH = 1000  # DeleteObjects takes at most this many keys
# Submit hand-offs: (jobId, runwayTaskId) notes; a lifecycle rule in template.yaml expires them.
HANDOFF_PREFIX = "handoffs/"


class S3ObjectStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    @property
    def bucket(self) -> str:
        return self._bucket

    def put_request_body(self, key: str, body: Mapping[str, Any]) -> None:
        try:
            self._client.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=json.dumps(body, separators=(",", ":")).encode(),
                ContentType="application/json",
            )
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError("could not store the request body") from exc

    def get_request_body(self, key: str) -> dict[str, Any]:
        try:
            answer = self._client.get_object(Bucket=self._bucket, Key=key)
            body = json.loads(answer["Body"].read())
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError("could not read the request body") from exc
        if not isinstance(body, dict):
            raise StoreUnavailableError(f"stored request body {key} is not a JSON object")
        return body

    def presigned_url(self, s3_uri: str, *, expires_in_s: int) -> str:
        bucket, key = self._split(s3_uri)
        # Presigning is local (no request), so only a malformed input can fail here.
        url: str = self._client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in_s
        )
        return url

    def delete_objects(self, s3_uris_or_keys: list[str]) -> None:
        by_bucket: dict[str, list[str]] = {}
        for item in s3_uris_or_keys:
            bucket, key = self._split(item)
            by_bucket.setdefault(bucket, []).append(key)
        try:
            for bucket, keys in by_bucket.items():
                for start in range(0, len(keys), DELETE_BATCH):
                    batch = keys[start : start + DELETE_BATCH]
                    answer = self._client.delete_objects(
                        Bucket=bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True}
                    )
                    if answer.get("Errors"):
                        raise StoreUnavailableError(f"could not delete objects: {answer['Errors'][:3]}")
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError("could not delete the job's objects") from exc

    def put_submit_handoff(self, job_id: str, runway_task_id: str) -> None:
        note = {"jobId": job_id, "runwayTaskId": runway_task_id}
        try:
            self._client.put_object(
                Bucket=self._bucket,
                Key=f"{HANDOFF_PREFIX}{job_id}.json",
                Body=json.dumps(note, separators=(",", ":")).encode(),
                ContentType="application/json",
            )
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError("could not store the submit hand-off") from exc

    def get_submit_handoff(self, job_id: str) -> str | None:
        try:
            answer = self._client.get_object(Bucket=self._bucket, Key=f"{HANDOFF_PREFIX}{job_id}.json")
            note = json.loads(answer["Body"].read())
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in ("NoSuchKey", "404"):
                return None
            raise StoreUnavailableError("could not read the submit hand-off") from exc
        except (BotoCoreError, ValueError) as exc:
            raise StoreUnavailableError("could not read the submit hand-off") from exc
        task_id = note.get("runwayTaskId") if isinstance(note, dict) else None
        if not isinstance(task_id, str) or note.get("jobId") != job_id:
            raise StoreUnavailableError(f"submit hand-off of {job_id} is malformed")
        return task_id

    def _split(self, s3_uri_or_key: str) -> tuple[str, str]:
        if s3_uri_or_key.startswith("s3://"):
            bucket, _, key = s3_uri_or_key.removeprefix("s3://").partition("/")
            return bucket, key
        return self._bucket, s3_uri_or_key


# HeadObject's answers for an object that is not there (a missing bucket answers 404 too).
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})


class S3InputObjects:
    """HeadObject and presigned GETs of `s3://` inputs (the template grants s3:GetObject on
    exactly the allowed buckets' objects; HeadObject needs that same permission). `presigner`:
    makes the client that signs the GETs Runway fetches (adapters.aws.s3_presigner), on the first
    presign only (a submit without s3:// inputs never builds it); `client` signs when None."""

    def __init__(self, client: Any, presigner: Callable[[], Any] | None = None) -> None:
        self._client = client
        self._presigner = presigner or (lambda: client)

    def head(self, bucket: str, key: str) -> InputObject:
        try:
            answer = self._client.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            if code in _MISSING_CODES:
                raise InputObjectMissingError(f"s3://{bucket}/{key} does not exist") from exc
            # A refusal (403), or a bucket elsewhere (301 redirect, 400 wrong region): not a blip.
            if 300 <= status < 500 and status not in (408, 429):
                raise InputObjectForbiddenError(f"s3://{bucket}/{key} cannot be read ({code})") from exc
            raise StoreUnavailableError(f"could not look at s3://{bucket}/{key}") from exc
        except BotoCoreError as exc:
            raise StoreUnavailableError(f"could not look at s3://{bucket}/{key}") from exc
        content_type = answer.get("ContentType")
        return InputObject(
            size=int(answer.get("ContentLength", 0)),
            content_type=str(content_type) if content_type else None,
        )

    def presign_get(self, bucket: str, key: str, *, expires_in_s: int) -> str:
        url: str = self._presigner().generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in_s
        )
        return url

    def read(self, bucket: str, key: str, *, max_bytes: int) -> tuple[bytes, InputObject]:
        try:
            answer = self._client.get_object(Bucket=bucket, Key=key)
            size = int(answer.get("ContentLength", 0))
            if size > max_bytes:
                answer["Body"].close()
                raise StoreUnavailableError(f"s3://{bucket}/{key} is {size} bytes, over {max_bytes}")
            content = answer["Body"].read(max_bytes + 1)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING_CODES:
                raise InputObjectMissingError(f"s3://{bucket}/{key} does not exist") from exc
            if code in ("AccessDenied", "403"):
                raise InputObjectForbiddenError(f"s3://{bucket}/{key} cannot be read ({code})") from exc
            raise StoreUnavailableError(f"could not read s3://{bucket}/{key}") from exc
        except BotoCoreError as exc:
            raise StoreUnavailableError(f"could not read s3://{bucket}/{key}") from exc
        if len(content) > max_bytes:
            raise StoreUnavailableError(f"s3://{bucket}/{key} grew over {max_bytes} bytes while read")
        content_type = answer.get("ContentType")
        return content, InputObject(
            size=len(content), content_type=str(content_type) if content_type else None
        )
