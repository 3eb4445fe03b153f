#!/usr/bin/env python3
"""CDK entry point: ``cdk synth|deploy -c env=dev|prod`` (default dev). See stacks/__init__.py.

A setting nothing can deploy (a placeholder domain, half a custom domain...) stops the synth with
one line on stderr, not a traceback.
"""

import sys

from stacks import build_app, cli_environment_name
from stacks.settings import SettingsError

try:
    app = build_app(cli_environment_name())
except SettingsError as error:
    sys.exit(f"ridelines: {error}")
app.synth()
