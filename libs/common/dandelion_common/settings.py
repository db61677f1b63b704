"""Typed settings, one group per concern, read from ``DANDELION_*`` environment variables.

Nested groups use a double underscore: ``DANDELION_POSTGRES__URL``,
``DANDELION_S3__BUCKET``. Settings are built once at process start (``get_settings``) and
passed down; nothing reads the environment at import time.
"""

from __future__ import annotations

import functools
import os
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development defaults. Production refuses to start while any of these is still in use.
DEV_S3_ACCESS_KEY = "dandelion-dev"
DEV_S3_SECRET_KEY = "dandelion-dev-secret-key-not-for-production"  # noqa: S105 - see above


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class PostgresSettings(BaseModel):
    url: str = "postgresql+asyncpg://postgres@127.0.0.1:15432/postgres"
    pool_size: int = Field(10, ge=1)
    max_overflow: int = Field(10, ge=0)
    # How long a request waits for a free connection: at peak load requests queue here, so
    # it is as long as the statement timeout (past it the request answers 503).
    pool_timeout_seconds: float = Field(30.0, gt=0)
    connect_timeout_seconds: float = Field(5.0, gt=0)
    # A request never waits on the database past this; it gets an error instead of hanging.
    statement_timeout_ms: int = Field(30_000, ge=0)
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _asyncpg_driver(cls, value: str) -> str:
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        return value


class RedisSettings(BaseModel):
    url: str = "redis://127.0.0.1:16379/0"
    connect_timeout_seconds: float = Field(2.0, gt=0)


class S3Settings(BaseModel):
    endpoint_url: str = "http://127.0.0.1:18333"
    # Where clients reach S3 (presigned URLs are signed for this host). Defaults to endpoint_url.
    public_endpoint_url: str | None = None
    region: str = "us-east-1"
    bucket: str = "dandelion"
    # Zarr archives live in a bucket of their own with S3 object versioning on: a published
    # version keeps the object versions it had, while the draft's files change. Empty means
    # "<bucket>-zarr". The bucket must have versioning enabled (the dev stack turns it on).
    zarr_bucket: str = ""
    access_key_id: str = DEV_S3_ACCESS_KEY
    secret_access_key: SecretStr = SecretStr(DEV_S3_SECRET_KEY)
    upload_url_expiry_seconds: int = Field(7 * 24 * 3600, ge=60, le=7 * 24 * 3600)
    download_url_expiry_seconds: int = Field(3600, ge=10, le=7 * 24 * 3600)
    timeout_seconds: float = Field(10.0, gt=0)
    # Connections per process: copies and parallel ranged reads run dozens of requests at once.
    max_connections: int = Field(64, ge=1, le=1024)

    @property
    def presign_endpoint_url(self) -> str:
        return self.public_endpoint_url or self.endpoint_url

    @property
    def zarr_bucket_name(self) -> str:
        return self.zarr_bucket or f"{self.bucket}-zarr"


class OpenSearchSettings(BaseModel):
    # Empty means: search uses the PostgreSQL backend.
    url: str | None = None
    index_prefix: str = "dandelion"


class InstanceSettings(BaseModel):
    """Who this archive is; reported in /api/info/ and used in metadata identifiers."""

    name: str = "DANDELION"
    identifier: str | None = None  # an RRID, e.g. "RRID:SCR_017571"
    web_url: str = "http://127.0.0.1:8085"
    # dandischema accepts a DOI prefix only together with an identifier (RRID).
    doi_prefix: str | None = None
    licenses: list[str] = ["spdx:CC-BY-4.0", "spdx:CC0-1.0"]
    cli_minimal_version: str = "0.60.0"
    cli_bad_versions: list[str] = []


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # Processes serving requests (uvicorn's workers); unset: one per core (os.cpu_count()),
    # since one event loop uses one core. Each has its own database pool (postgres.pool_size
    # + max_overflow connections) and its own /metrics counters.
    workers: int | None = Field(None, ge=1, le=64)
    # The URL clients use; services.api.url in /api/info/ is this plus "/api".
    public_url: str = "http://127.0.0.1:8000"
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    # Origins (exact, e.g. "https://dandiarchive.org") or a regex (full match) that may make
    # write requests from a browser; any origin may read (GET/HEAD/OPTIONS), as on DANDI.
    cors_origins: list[str] = []
    cors_origin_regex: str | None = None

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def api_url(self) -> str:
        return f"{self.public_url}/api"

    @property
    def processes(self) -> int:
        return self.workers or os.cpu_count() or 1


class SearchApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8001, ge=1, le=65535)


class WebSettings(BaseModel):
    """The web service (server-rendered pages at instance.web_url), a client of the APIs."""

    host: str = "127.0.0.1"
    port: int = Field(8085, ge=1, le=65535)
    # Where the web service itself reaches the API and the search API: inside a cluster the
    # Services' names, never the public origin (no hairpin through the Ingress).
    api_url: str = "http://127.0.0.1:8000"
    search_url: str = "http://127.0.0.1:8001"
    timeout_seconds: float = Field(15.0, gt=0)
    # Keep-alive connections to the APIs per process; a page makes a few requests in parallel.
    max_connections: int = Field(64, ge=1, le=1024)

    @field_validator("api_url", "search_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


class DoiSettings(BaseModel):
    # None: DOIs are minted when the credentials are set. Production refuses to start
    # without them unless this is explicitly false.
    enabled: bool | None = None
    prefix: str = "10.80507"  # DataCite's test prefix
    api_url: str = "https://api.test.datacite.org"
    username: str | None = None
    password: SecretStr | None = None
    # Findable DOIs (DataCite `publish` events); false keeps every DOI a draft, for sandboxes
    # where findable test DOIs could never be removed.
    publish: bool = True
    timeout_seconds: float = Field(30.0, gt=0)
    # How often the doi worker re-asks for every DOI not yet at its target.
    reconcile_minutes: int = Field(1, ge=1, le=1440)

    @property
    def minting(self) -> bool:
        if self.enabled is not None:
            return self.enabled
        return bool(self.username and self.password)


class MailTls(StrEnum):
    """How the connection to the mail server is secured."""

    NONE = "none"  # plain SMTP: a relay on localhost or inside the cluster only
    STARTTLS = "starttls"  # plain connection upgraded by STARTTLS (submission, port 587)
    TLS = "tls"  # TLS from the first byte (implicit TLS, port 465)


class MailSettings(BaseModel):
    """Outgoing email (sign-up notices), sent by the doi worker's `send_mail` job."""

    # None: mail is sent when a host is set; false keeps mail queued, unsent. (Nothing
    # sends mail yet, so production does not insist on a host.)
    enabled: bool | None = None
    host: str | None = None
    port: int = Field(587, ge=1, le=65535)
    tls: MailTls = MailTls.STARTTLS
    # Both or neither: without them the server is not asked to authenticate us.
    username: str | None = None
    password: SecretStr | None = None
    # The From header, e.g. "Dandelion <noreply@example.org>"; its address is the envelope
    # sender too.
    sender: str = "Dandelion <noreply@localhost>"
    # Connecting and each SMTP command; past it the send is retried later.
    timeout_seconds: float = Field(30.0, gt=0)

    @property
    def sending(self) -> bool:
        if self.enabled is not None:
            return self.enabled and bool(self.host)
        return bool(self.host)


class WorkerSettings(BaseModel):
    max_jobs: int = Field(4, ge=1)
    job_timeout_seconds: int = Field(3600, ge=1)
    # Seconds a running job may take to finish after SIGTERM before the worker exits.
    job_completion_wait_seconds: int = Field(30, ge=0)
    health_check_interval_seconds: int = Field(10, ge=1)
    # How often an idle worker looks for new jobs: the floor of a job's pickup latency.
    poll_delay_seconds: float = Field(0.1, gt=0)
    # Port of the worker's Prometheus /metrics. Unset serves none, so the workers of one
    # machine (`make run`, tests) never contend for a port; each pod has its own.
    metrics_port: int | None = Field(None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    # The ingest worker's sweep that sends again the ingest jobs the database says are due
    # (their sends lost while Redis was away); 0 turns it off. Minutes, dividing an hour.
    ingest_reconcile_minutes: int = Field(5, ge=0, le=60)
    # The ingest worker's NWB reader processes for extractions, which validation waits for
    # (each about 170 MB). An extract job waits for a free one; there are never more.
    ingest_extraction_readers: int = Field(1, ge=1, le=32)
    # Its reader processes for inspections (pynwb validation, nwbinspector: slow, advisory),
    # a pool apart so that they never queue extractions. A job finding them busy comes back.
    ingest_inspection_readers: int = Field(1, ge=1, le=32)
    # Files a reader process reads before it is replaced: bounds leaks in the HDF5 stack.
    ingest_reader_max_tasks: int = Field(100, ge=1)


class GcSettings(BaseModel):
    """Garbage collection: abandoned uploads and blobs no asset uses (``dandelion gc`` and the
    ingest worker's cron)."""

    # An upload is abandoned once its presigned part URLs can no longer be used: 7 days, as
    # DANDI's upload expiry (Settings checks this is at least the S3 upload URL expiry).
    upload_max_age_hours: int = Field(7 * 24, ge=1)
    # DANDI collects unused blobs after 7 days but keeps restore records for 30; deletion here
    # is final, so an unused blob is kept for the whole 30 days instead.
    orphan_blob_restore_days: int = Field(30, ge=1)
    # Cron period: a divisor of 60 minutes, or whole hours dividing a day.
    interval_minutes: int = Field(60, ge=1, le=1440)
    # Items per kind per run; a run that fills a batch leaves the rest to the next one.
    batch_size: int = Field(500, ge=1, le=10_000)
    # Off: the worker never collects on its own and only `dandelion gc` does (DANDI's choice).
    cron_enabled: bool = True

    @field_validator("interval_minutes")
    @classmethod
    def _fits_a_cron(cls, value: int) -> int:
        if (value <= 60 and 60 % value == 0) or (value % 60 == 0 and 1440 % value == 0):
            return value
        raise ValueError("must divide 60, or be whole hours that divide 24 hours")


class SignupPolicy(StrEnum):
    """Whether a new user who finished the questionnaire may use the archive at once."""

    OPEN = "open"  # approved at once
    APPROVAL = "approval"  # pending until an admin approves, as on DANDI
    # pending, except a verified email ending in one of auth.auto_approve_email_suffixes
    APPROVAL_WITH_DOMAINS = "approval_with_domains"


class ProviderKind(StrEnum):
    OIDC = "oidc"  # OpenID Connect, endpoints found by discovery from the issuer
    GITHUB = "github"  # plain OAuth2 plus GitHub's user and email endpoints


class ProviderSettings(BaseModel):
    """One sign-in provider: an OpenID Connect issuer, or GitHub's OAuth2 endpoints."""

    # Short and stable: it names the provider in URLs (the callback) and on the sign-in page.
    name: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    kind: ProviderKind = ProviderKind.OIDC
    # The OIDC issuer (discovery at <issuer>/.well-known/openid-configuration).
    issuer: str | None = None
    # GitHub's endpoints (kind github); the defaults are github.com's.
    authorize_url: str = "https://github.com/login/oauth/authorize"
    token_url: str = "https://github.com/login/oauth/access_token"  # noqa: S105 - a URL
    userinfo_url: str = "https://api.github.com/user"
    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = None
    scopes: list[str] = ["openid", "email", "profile"]

    @model_validator(mode="after")
    def _oidc_has_an_issuer(self) -> ProviderSettings:
        if self.kind is ProviderKind.OIDC and not self.issuer:
            raise ValueError(f"provider {self.name!r}: an oidc provider needs an issuer")
        return self


class AuthSettings(BaseModel):
    """Accounts: sign-in providers, sign-up policy, and browser sessions."""

    # A browser session ends after this long without a request (7 days).
    session_idle_minutes: int = Field(7 * 24 * 60, ge=1)
    # A browser session ends this long after sign-in however much it is used: then the user
    # signs in again.
    session_absolute_days: int = Field(30, ge=1, le=366)
    # Whether a new user who answered the questionnaire is approved at once (`open`), waits
    # for an admin (`approval`, DANDI's way), or is approved at once only with a verified
    # email ending in one of auto_approve_email_suffixes (`approval_with_domains`).
    signup_policy: SignupPolicy = SignupPolicy.APPROVAL
    # With approval_with_domains: verified emails ending so are approved at once (e.g.
    # "@mit.edu"; a suffix without "@" also matches subdomains, e.g. ".harvard.edu").
    auto_approve_email_suffixes: list[str] = []
    # JSON list of {name, kind (oidc|github), issuer (oidc) or authorize_url, token_url,
    # userinfo_url (github), client_id, client_secret, scopes}. Production refuses a
    # provider without a client secret. The variable holds secrets: set it in the Secret.
    providers: list[ProviderSettings] = []

    @field_validator("providers")
    @classmethod
    def _names_are_unique(cls, value: list[ProviderSettings]) -> list[ProviderSettings]:
        names = [provider.name for provider in value]
        if len(names) != len(set(names)):
            raise ValueError("provider names must be unique")
        return value


class ConsoleLog(StrEnum):
    """What a process writes to stderr (see LoggingSettings.console)."""

    JSON = "json"
    TEXT = "text"
    SUMMARY = "summary"


class LoggingSettings(BaseModel):
    # The threshold of the full log (stderr, and `file` when set). Recurring ticks (the search
    # drain's cron every second, arq's heartbeat, probes) are debug records.
    level: str = "INFO"
    # false: plain text lines on stderr instead of JSON (when `console` is unset).
    json_format: bool = True
    # What stderr shows, overriding json_format: `json`, `text` (every record, a short line
    # each) or `summary` (requests, jobs and our other events, and any warning or error; the
    # libraries' chatter only in `file`). `dandelion up` sets `summary`, `text` with --verbose.
    console: ConsoleLog | None = None
    # Also write the full log there, as JSON lines (`dandelion up` gives each service
    # `<data dir>/logs/<service>.log`).
    file: Path | None = None
    # The file is rotated at this size.
    file_max_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    # Rotated files kept beside it (`<file>.1` is the newest).
    file_backups: int = Field(3, ge=0, le=100)

    @property
    def console_log(self) -> ConsoleLog:
        if self.console is not None:
            return self.console
        return ConsoleLog.JSON if self.json_format else ConsoleLog.TEXT


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DANDELION_", env_nested_delimiter="__", extra="ignore"
    )

    environment: Environment = Environment.DEVELOPMENT
    postgres: PostgresSettings = PostgresSettings()
    redis: RedisSettings = RedisSettings()
    s3: S3Settings = S3Settings()
    opensearch: OpenSearchSettings = OpenSearchSettings()
    instance: InstanceSettings = InstanceSettings()
    api: ApiSettings = ApiSettings()
    search_api: SearchApiSettings = SearchApiSettings()
    web: WebSettings = WebSettings()
    doi: DoiSettings = DoiSettings()
    mail: MailSettings = MailSettings()
    worker: WorkerSettings = WorkerSettings()
    gc: GcSettings = GcSettings()
    auth: AuthSettings = AuthSettings()
    logging: LoggingSettings = LoggingSettings()

    @model_validator(mode="after")
    def _uploads_outlive_their_urls(self) -> Settings:
        if self.gc.upload_max_age_hours * 3600 < self.s3.upload_url_expiry_seconds:
            raise ValueError(
                "DANDELION_GC__UPLOAD_MAX_AGE_HOURS is shorter than "
                "DANDELION_S3__UPLOAD_URL_EXPIRY_SECONDS: uploads would be collected while "
                "their part URLs still work"
            )
        return self

    @model_validator(mode="after")
    def _production_is_configured(self) -> Settings:
        if self.environment is not Environment.PRODUCTION:
            return self
        problems = []
        if self.s3.access_key_id == DEV_S3_ACCESS_KEY:
            problems.append("DANDELION_S3__ACCESS_KEY_ID is the development placeholder")
        if self.s3.secret_access_key.get_secret_value() == DEV_S3_SECRET_KEY:
            problems.append("DANDELION_S3__SECRET_ACCESS_KEY is the development placeholder")
        if self.doi.enabled is not False and not (self.doi.username and self.doi.password):
            problems.append(
                "DANDELION_DOI__USERNAME/PASSWORD are missing and DOI minting is not "
                "disabled (set DANDELION_DOI__ENABLED=false to run without DOIs)"
            )
        for provider in self.auth.providers:
            if provider.client_secret is None or not provider.client_secret.get_secret_value():
                problems.append(f"sign-in provider {provider.name!r} has no client secret")
        if problems:
            raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()


class DevstackSettings(BaseSettings):
    """Ports and data folder of the local stack started by ``make run`` / ``dandelion up``."""

    model_config = SettingsConfigDict(env_prefix="DANDELION_DEVSTACK_", extra="ignore")

    data_dir: Path = Path(".dandelion")
    host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    search_port: int = Field(8001, ge=1, le=65535)
    web_port: int = Field(8085, ge=1, le=65535)
    postgres_port: int = Field(15432, ge=1, le=65535)
    redis_port: int = Field(16379, ge=1, le=65535)
    # SeaweedFS also uses s3_port+1..+4 and each of those plus 10000 (gRPC).
    s3_port: int = Field(18333, ge=1, le=55000)
