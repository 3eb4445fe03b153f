#!/usr/bin/env python3
"""CDK entry point: ``cdk synth|deploy -c env=dev|prod`` (default dev). See stacks/__init__.py."""

from stacks import build_app, cli_environment_name

build_app(cli_environment_name()).synth()
