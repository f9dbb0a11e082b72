"""The Delta sink of the Flink jobs: lakectl's own Java module (``flink_jobs/delta_sink``), built with Maven.

No ``io.delta:delta-flink`` is served by the registries, so the Bronze job writes Delta through a small
Sink V2 on Delta Standalone (see the module's pom.xml). Its jar goes into Flink's lib/ with two more jars:

- ``hadoop-aws`` at the cluster's Hadoop version (S3A, which the Delta sink writes through; its commits are
  conditional PUTs, the module's ``ConditionalPutLogStore``): it runs on the hadoop-client-api/-runtime jars
  already in lib/;
- ``s3-transfer-manager``, the one AWS SDK v2 module S3A needs that iceberg-aws-bundle does not carry. It must
  be the SDK version inside that bundle (iceberg-aws-bundle 1.10.1 carries SDK 2.33.0), so S3A and Iceberg's
  S3FileIO share one SDK.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from lakectl.artifacts import Dependency, cached_build, run_maven
from lakectl.errors import ComponentError
from lakectl.paths import shipped
from lakectl.runtime import versions

# the AWS SDK v2 release bundled in iceberg-aws-bundle (versions.ICEBERG): change both together
AWS_SDK_IN_ICEBERG_BUNDLE = "2.33.0"
_NONE = ("*:*",)  # each jar alone: Hadoop's and the SDK's dependencies are in lib/ already

DELTA_LIB_DEPENDENCIES: tuple[Dependency, ...] = (
    Dependency(f"org.apache.hadoop:hadoop-aws:{versions.HADOOP}", _NONE),
    Dependency(f"software.amazon.awssdk:s3-transfer-manager:{AWS_SDK_IN_ICEBERG_BUNDLE}", _NONE),
)

ARTIFACT = "lakectl-flink-delta"
JAR = f"{ARTIFACT}-0.1.0.jar"  # the pom's artifactId and version
DEFAULT_CACHE = Path.home() / ".cache" / "lakectl"


def module_dir() -> Path:
    return shipped("flink_jobs") / "delta_sink"


def _inputs(module: Path) -> list[Path]:
    """What the build reads: the POM and the sources (not target/)."""
    return [module / "pom.xml", *sorted(p for p in (module / "src").rglob("*") if p.is_file())]


def source_digest(module: Path) -> str:
    digest = hashlib.sha256()
    for path in _inputs(module):
        digest.update(path.relative_to(module).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def build_delta_sink_jar(cache_dir: Path | None = None) -> Path:
    """The Delta sink jar, built once per content of pom.xml + sources into
    ``cache_dir/build/lakectl-flink-delta-<sha256[:12]>/`` (built in a copy, so the checkout gets no target/)."""
    cache_dir = cache_dir or DEFAULT_CACHE
    module = module_dir()
    if not (module / "pom.xml").is_file():
        raise ComponentError(f"Delta sink: no Maven module at {module}")
    digest = source_digest(module)
    name = f"{ARTIFACT}-{digest}"

    def build(work: Path) -> Path:
        copy = work / "module"
        copy.mkdir()
        for path in _inputs(module):
            dest = copy / path.relative_to(module)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
        if source_digest(copy) != digest:
            raise ComponentError("Delta sink: flink_jobs/delta_sink changed while it was being built; run again")
        run_maven(["package"], copy, "Delta sink")
        result = work / "result"
        result.mkdir()
        shutil.move(str(copy / "target" / JAR), result / JAR)
        return result

    target = cached_build(cache_dir, cache_dir / "build" / name, build,
                          {"build": "flink_jobs/delta_sink", "sources-sha256": digest})
    return target / JAR
