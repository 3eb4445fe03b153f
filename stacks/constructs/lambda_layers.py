"""The two Lambda layers: Python dependencies (all functions) and Tippecanoe (sync only)."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from layers import build as layer_build
from stacks.settings import ARCHITECTURE, PYTHON_RUNTIME, EnvironmentSettings


class LambdaLayers(Construct):
    """Built on the host by :mod:`layers.build` (cached); ``build=False`` uses a placeholder asset."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings, build: bool = True
    ) -> None:
        super().__init__(scope, construct_id)
        if build:
            deps_dir = layer_build.build_dependency_layer()
            tippecanoe_dir = layer_build.build_tippecanoe_layer()
        else:
            deps_dir = tippecanoe_dir = layer_build.placeholder_layer()
        self.dependencies = lambda_.LayerVersion(
            self,
            "Dependencies",
            description=f"Ridelines {settings.name}: Python dependencies for {PYTHON_RUNTIME.name} arm64",
            code=lambda_.Code.from_asset(str(deps_dir)),
            compatible_runtimes=[PYTHON_RUNTIME],
            compatible_architectures=[ARCHITECTURE],
        )
        self.tippecanoe = lambda_.LayerVersion(
            self,
            "Tippecanoe",
            description=f"Ridelines {settings.name}: tippecanoe {layer_build.TIPPECANOE_VERSION} "
            "(/opt/bin, /opt/lib) arm64",
            code=lambda_.Code.from_asset(str(tippecanoe_dir)),
            compatible_runtimes=[PYTHON_RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            license="BSD-2-Clause",
        )
