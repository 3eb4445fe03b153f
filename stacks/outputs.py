"""Read one output of a deployed stack: ``python -m stacks.outputs ENV [OutputKey]`` (default SiteUrl).

``make smoke`` uses it to find the site it checks; boto3 (in the project venv) instead of the AWS CLI,
which a developer machine may not have.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from stacks.settings import ENVIRONMENTS, PROJECT

API_STACK_PART = "api"


def stack_output(env_name: str, key: str = "SiteUrl", *, client: Any = None) -> str:
    if env_name not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {env_name!r}; expected one of {', '.join(ENVIRONMENTS)}")
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    stack_name = f"{PROJECT.capitalize()}-{env_name}-{API_STACK_PART}"
    cfn = client or boto3.client("cloudformation")
    try:
        (stack,) = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except (BotoCoreError, ClientError) as error:
        raise LookupError(f"cannot read stack {stack_name}: {error}") from None
    for output in stack.get("Outputs", []):
        if output["OutputKey"] == key:
            return str(output["OutputValue"])
    raise LookupError(f"stack {stack_name} has no output {key}: deploy it first (make deploy ENV={env_name})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("env", choices=ENVIRONMENTS)
    parser.add_argument("key", nargs="?", default="SiteUrl")
    args = parser.parse_args(argv)
    try:
        print(stack_output(args.env, args.key))
    except LookupError as error:
        print(f"ridelines: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
