"""cdk-nag v3 acknowledgements: one helper so every acknowledgement carries a specific reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

AWS_SOLUTIONS = "AwsSolutions"


def acknowledge(construct: IConstruct, rule: str, reason: str, *, finding: str | None = None) -> None:
    """Acknowledge ``AwsSolutions-<rule>`` (or one finding of it, e.g. ``Resource::*``) on a construct."""
    if len(reason) < 40:
        raise ValueError(f"acknowledgement of {rule} needs a specific reason, got {reason!r}")
    rule_id = f"{AWS_SOLUTIONS}-{rule}" + (f"[{finding}]" if finding else "")
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))
