"""IAM mode: which tenant an IAM caller is."""

from __future__ import annotations

import pytest

from runway_bridge.models.identity import iam_tenant_id


@pytest.mark.parametrize(
    ("caller", "tenant"),
    [
        (
            "arn:aws:sts::123456789012:assumed-role/RenderJobs/alice",
            "iam:arn:aws:iam::123456789012:role/RenderJobs",
        ),
        (
            "arn:aws-cn:sts::123456789012:assumed-role/RenderJobs/i-0abc",
            "iam:arn:aws-cn:iam::123456789012:role/RenderJobs",
        ),
        ("arn:aws:iam::123456789012:user/team/bob", "iam:arn:aws:iam::123456789012:user/team/bob"),
        ("arn:aws:iam::123456789012:user/bob", "iam:arn:aws:iam::123456789012:user/bob"),
        # Not an assumed role (or not well formed): kept as it is.
        (
            "arn:aws:sts::123456789012:federated-user/carol",
            "iam:arn:aws:sts::123456789012:federated-user/carol",
        ),
        (
            "arn:aws:sts::123456789012:assumed-role/NoSession",
            "iam:arn:aws:sts::123456789012:assumed-role/NoSession",
        ),
    ],
)
def test_the_iam_tenant_is_the_role_or_the_user(caller: str, tenant: str) -> None:
    assert iam_tenant_id(caller) == tenant


def test_two_sessions_of_one_role_are_one_tenant() -> None:
    first = iam_tenant_id("arn:aws:sts::123456789012:assumed-role/RenderJobs/session-one")
    second = iam_tenant_id("arn:aws:sts::123456789012:assumed-role/RenderJobs/chosen-by-the-caller")
    assert first == second
