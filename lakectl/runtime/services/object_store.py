"""The S3-compatible object store holding the lakehouse (bucket ``warehouse`` by default).

Native: S3Proxy from Maven Central on its filesystem backend. A spike against SeaweedFS chose it:
both pass path-style access, multipart upload and conditional PUT (``If-None-Match: *``, which
delta-rs and Iceberg rely on), but SeaweedFS needs a ~16 minute cold Go build. Compose runs the
same S3Proxy in the ``lakectl/object-store`` image.
Credentials are generated on first ``up`` into the stack's 0600 secrets file; ``up`` creates the
bucket in both runtimes.
"""

from __future__ import annotations

from lakectl.artifacts import Dependency, maven_classpath
from lakectl.components.object_store import S3Location
from lakectl.runtime import versions
from lakectl.runtime.base import LOCALHOST, ServiceSpec, StackContext, write_private
from lakectl.runtime.native.process import Launch
from lakectl.runtime.native.recipe import NativeRecipe
from lakectl.runtime.waiting import http_probe

KEY_ID = "object_store_key_id"
SECRET = "object_store_secret"


def location(stack: StackContext) -> S3Location:
    """The local stack's object store, bucket and credentials."""
    secrets = stack.secrets(KEY_ID, SECRET)
    return S3Location(endpoint=SPEC.url(stack), bucket=stack.settings.object_store.bucket,
                      access_key=secrets[KEY_ID], secret_key=secrets[SECRET],
                      region=stack.settings.object_store.region)


class S3ProxyRecipe(NativeRecipe):
    def jar(self):
        lib = maven_classpath(self.stack.cache_dir, f"s3proxy-{versions.S3PROXY}", (
            # the self-contained jar only: its POM's dependencies are already inside it
            Dependency(f"org.gaul:s3proxy:{versions.S3PROXY}:jar:jar-with-dependencies", exclude=("*:*",)),
        )) / "lib"
        return next(lib.glob("s3proxy-*-jar-with-dependencies.jar"))

    def fetch(self) -> None:
        self.jar()
        self.java()

    def prepare(self) -> None:
        (self.data_dir / "data").mkdir(parents=True, exist_ok=True)
        s3 = location(self.stack)
        properties = {
            "s3proxy.endpoint": f"http://{LOCALHOST}:{self.port()}",
            "s3proxy.authorization": "aws-v2-or-v4",
            "s3proxy.identity": s3.access_key,
            "s3proxy.credential": s3.secret_key,
            # Hadoop S3A and the AWS SDK v2 send headers S3Proxy does not know; they are harmless
            "s3proxy.ignore-unknown-headers": "true",
            "jclouds.provider": "filesystem-nio2",
            "jclouds.filesystem.basedir": str(self.data_dir / "data"),
            "jclouds.region": s3.region,
        }
        # it holds the secret key
        write_private(self.data_dir / "s3proxy.conf", "".join(f"{key}={value}\n" for key, value in properties.items()))

    def launch(self) -> Launch:
        java = self.java()
        return Launch(
            [java, "-Xms64m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
             *self.class_data_sharing(java, [self.jar()]),
             "-jar", str(self.jar()), "--properties", str(self.data_dir / "s3proxy.conf")],
            cwd=self.data_dir,
        )


def _after_ready(stack: StackContext) -> None:
    location(stack).ensure_bucket()


SPEC = ServiceSpec(
    name="object-store",
    summary="S3-compatible object store (S3Proxy)",
    ports={"main": 9000, "console": 9001},
    # an anonymous request is refused (403) once the server answers: that is the readiness signal
    probe=lambda stack: http_probe(SPEC.url(stack) + "/", expect=lambda r: r.status_code in (200, 403)),
    native=lambda stack: S3ProxyRecipe(stack, SPEC),
    after_ready=_after_ready,
    secrets=(KEY_ID, SECRET),
    java=(17, None),
    version=versions.S3PROXY,
)
