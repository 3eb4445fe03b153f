"""The Ridelines CDK app: ``build_app(env)`` gives the same App the CLI synthesizes from app.py."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.api_stack import ApiStack
from stacks.data_stack import DataStack
from stacks.settings import (
    DEFAULT_ENVIRONMENT,
    EnvironmentSettings,
    cdk_json_context,
    environment_settings,
)
from stacks.storage_stack import StorageStack

__all__ = ["build_app", "cli_environment_name"]


def cli_environment_name() -> str:
    """The ``-c env=...`` the CDK CLI passed (read through a throwaway App), default dev."""
    probe = cdk.App()
    return str(probe.node.try_get_context("env") or DEFAULT_ENVIRONMENT)


def build_app(
    env_name: str = DEFAULT_ENVIRONMENT,
    *,
    outdir: str | None = None,
    build_layers: bool = True,
    overrides: dict[str, Any] | None = None,
) -> cdk.App:
    """Build (not synthesize) the app for one environment.

    ``build_layers=False`` swaps both layers for an empty placeholder asset: for in-process tests that
    only read templates. ``overrides`` are ``-c key=value`` settings, as the CLI would pass them.
    cdk-nag (AwsSolutions) is registered on every app; ``app.synth()`` runs it.
    """
    context: dict[str, Any] = {**cdk_json_context(), **(overrides or {})}
    app = cdk.App(outdir=outdir, context=context)
    settings = environment_settings(env_name, context, _cli_overrides(app, context))
    add_stacks(app, settings, build_layers=build_layers)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def _cli_overrides(app: cdk.App, context: dict[str, Any]) -> dict[str, Any]:
    """Top-level ``-c domain_name=...`` style overrides of one setting."""
    keys = {k for block in context["ridelines"].values() for k in block}
    return {k: app.node.try_get_context(k) for k in keys if app.node.try_get_context(k) is not None}


def add_stacks(
    app: cdk.App, settings: EnvironmentSettings, *, build_layers: bool = True
) -> dict[str, cdk.Stack]:
    """Data, Storage and Api stacks of one environment (environment-agnostic: no account lookups)."""
    tags = {"project": "ridelines", "environment": settings.name}
    data = DataStack(
        app,
        f"Ridelines{settings.title}Data",
        stack_name=settings.stack_name("data"),
        settings=settings,
        description=f"Ridelines {settings.name}: tables, KMS keys, OAuth secret",
        tags=tags,
        termination_protection=settings.retain_data,
    )
    storage = StorageStack(
        app,
        f"Ridelines{settings.title}Storage",
        stack_name=settings.stack_name("storage"),
        settings=settings,
        description=f"Ridelines {settings.name}: data bucket and access logs",
        tags=tags,
        termination_protection=settings.retain_data,
    )
    api = ApiStack(
        app,
        f"Ridelines{settings.title}Api",
        stack_name=settings.stack_name("api"),
        settings=settings,
        data=data,
        storage=storage,
        build_layers=build_layers,
        description=f"Ridelines {settings.name}: the site (CloudFront, web app), Lambdas, HTTP API, alarms",
        tags=tags,
    )
    return {"data": data, "storage": storage, "api": api}
