"""An S3-compatible object store (the S3 REST API, path-style; S3Proxy locally): where Bronze (Iceberg
and Delta), checkpoints and savepoints live.

One ``S3Location`` describes endpoint, bucket and credentials; each client library wants them
spelled its own way (pyarrow, pyiceberg, delta-rs, Hadoop S3A, Iceberg's S3FileIO), so the
spellings live here, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from lakectl.errors import ComponentError, ServiceUnavailable


@dataclass(frozen=True)
class S3Location:
    endpoint: str  # http(s)://host:port
    bucket: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def uri(self, *parts: str, scheme: str = "s3") -> str:
        return f"{scheme}://{self.bucket}/" + "/".join(p.strip("/") for p in parts if p)

    # --- one spelling per client --------------------------------------------------------------
    def delta_rs_options(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "AWS_ALLOW_HTTP": "true" if self.endpoint.startswith("http://") else "false",
            "AWS_FORCE_PATH_STYLE": "true",
            # `lakectl maintain` commits to the Delta tables while the Bronze job appends: a commit file is
            # created with a conditional PUT (If-None-Match: *), never over another writer's commit (the Flink
            # sink does the same: flink_jobs/delta_sink, ConditionalPutLogStore)
            "conditional_put": "etag",
        }

    def pyiceberg_options(self) -> dict[str, str]:
        return {
            "s3.endpoint": self.endpoint,
            "s3.access-key-id": self.access_key,
            "s3.secret-access-key": self.secret_key,
            "s3.region": self.region,
            "s3.path-style-access": "true",
        }

    def iceberg_java_options(self) -> dict[str, str]:
        """Iceberg's S3FileIO as configured in a Flink or Trino catalog."""
        return {
            "io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
            "s3.endpoint": self.endpoint,
            "s3.access-key-id": self.access_key,
            "s3.secret-access-key": self.secret_key,
            "s3.path-style-access": "true",
            "client.region": self.region,
        }

    def hadoop_s3a_options(self) -> dict[str, str]:
        return {
            "fs.s3a.endpoint": self.endpoint,
            "fs.s3a.access.key": self.access_key,
            "fs.s3a.secret.key": self.secret_key,
            "fs.s3a.endpoint.region": self.region,
            "fs.s3a.path.style.access": "true",
            "fs.s3a.connection.ssl.enabled": "false" if self.endpoint.startswith("http://") else "true",
        }

    def filesystem(self):
        """A pyarrow S3 filesystem (imported on use: pyarrow is heavy)."""
        from pyarrow import fs

        parsed = urlparse(self.endpoint)
        return fs.S3FileSystem(
            access_key=self.access_key, secret_key=self.secret_key, region=self.region,
            endpoint_override=parsed.netloc, scheme=parsed.scheme or "http",
            allow_bucket_creation=True, force_virtual_addressing=False,
            connect_timeout=5, request_timeout=30,
        )

    def listing(self, *parts: str, directories: bool = True) -> list[str]:
        """Names of the directories (or files) right below ``<bucket>/<parts>``; none when it is missing."""
        from pyarrow import fs

        wanted = fs.FileType.Directory if directories else fs.FileType.File
        try:
            entries = self.filesystem().get_file_info(fs.FileSelector("/".join((self.bucket, *parts)),
                                                                      allow_not_found=True))
        except OSError as exc:
            raise ServiceUnavailable(f"object store: {str(exc).splitlines()[0]}") from None
        return sorted(e.base_name for e in entries if e.type == wanted)

    def objects(self, uri: str) -> dict[str, tuple[int, float]]:
        """Every object under ``uri`` (an s3:// prefix of this bucket), recursively: path -> (size, last
        modified as a Unix time)."""
        from pyarrow import fs

        prefix = uri.removeprefix("s3://").rstrip("/")
        try:
            entries = self.filesystem().get_file_info(fs.FileSelector(prefix, recursive=True, allow_not_found=True))
        except OSError as exc:
            raise ServiceUnavailable(f"object store: {str(exc).splitlines()[0]}") from None
        return {e.path: (e.size, e.mtime.timestamp() if e.mtime else 0.0)
                for e in entries if e.type == fs.FileType.File}

    def ensure_bucket(self) -> bool:
        """Create the bucket if it is missing; True when it was created."""
        from pyarrow import fs

        filesystem = self.filesystem()
        try:
            if filesystem.get_file_info(self.bucket).type != fs.FileType.NotFound:
                return False
            filesystem.create_dir(self.bucket)
            return True
        except OSError as exc:
            text = str(exc)
            if "Connection" in text or "connect" in text:
                raise ServiceUnavailable(f"object store at {self.endpoint} is not reachable") from None
            first = text.splitlines()[0]
            raise ComponentError(f"object store: cannot create bucket {self.bucket!r}: {first}") from None
