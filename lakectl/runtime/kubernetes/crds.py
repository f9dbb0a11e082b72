"""The CustomResourceDefinitions of the operators a production cluster runs, as YAML files in the cache.

- Strimzi (Kafka, KafkaNodePool, KafkaTopic, KafkaUser, KafkaConnect, KafkaConnector; ``kafka.strimzi.io/v1``):
  regenerated from ``io.strimzi:api`` by ``io.strimzi:crd-generator`` (Java 21+) with the flags of Strimzi's
  own build, byte-identical to the release's ``packaging/install/cluster-operator/04*-Crd-*.yaml``.
- The Flink Kubernetes Operator (FlinkDeployment, FlinkSessionJob, FlinkStateSnapshot): the apiextensions/v1
  files under ``META-INF/fabric8/`` of ``org.apache.flink:flink-kubernetes-operator-api``.
- prometheus-operator (PodMonitor, ServiceMonitor, as kube-prometheus-stack installs them):
  ``example/prometheus-operator-crd/`` of its Go module.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

from lakectl.artifacts import Dependency, cached_build, maven_classpath, run_maven
from lakectl.errors import ComponentError
from lakectl.runtime import versions
from lakectl.runtime.kubernetes.toolchain import go_binary, go_env
from lakectl.runtime.native.java import find_java

# Strimzi's model classes and the file names its release gives their CRDs
STRIMZI_CRDS = {
    "io.strimzi.api.kafka.model.kafka.Kafka": "040-Crd-kafka.yaml",
    "io.strimzi.api.kafka.model.connect.KafkaConnect": "041-Crd-kafkaconnect.yaml",
    "io.strimzi.api.kafka.model.topic.KafkaTopic": "043-Crd-kafkatopic.yaml",
    "io.strimzi.api.kafka.model.user.KafkaUser": "044-Crd-kafkauser.yaml",
    "io.strimzi.api.kafka.model.connector.KafkaConnector": "047-Crd-kafkaconnector.yaml",
    "io.strimzi.api.kafka.model.nodepool.KafkaNodePool": "04A-Crd-kafkanodepool.yaml",
}
FLINK_CRDS = ("flinkdeployments", "flinksessionjobs", "flinkstatesnapshots")
PROMETHEUS_CRDS = ("podmonitors", "servicemonitors")


def strimzi_crds(cache_dir: Path) -> Path:
    """A directory of Strimzi ``versions.STRIMZI``'s CRDs (a few seconds on Java 21+, once)."""
    version = versions.STRIMZI

    def build(work: Path) -> Path:
        classpath = maven_classpath(cache_dir, f"strimzi-crd-generator-{version}", [
            Dependency(f"io.strimzi:api:{version}"), Dependency(f"io.strimzi:crd-generator:{version}")])
        java = find_java(21, cache_dir=cache_dir)  # the generator is compiled for Java 21
        out = work / "crds"
        out.mkdir()
        # the arguments of Strimzi's own build (api/pom.xml): only v1 is served and stored since Strimzi 1.0
        argv = [java, "-cp", f"{classpath / 'lib'}/*", "io.strimzi.crdgenerator.CrdGenerator",
                "--label", "app:strimzi", "--label", "strimzi.io/crd-install:true",
                "--crd-api-version", "v1", "--api-versions", "v1", "--storage-version", "v1", "--yaml",
                *(f"{cls}={out / name}" for cls, name in STRIMZI_CRDS.items())]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0 or len(list(out.iterdir())) != len(STRIMZI_CRDS):
            tail = (done.stderr or done.stdout).strip().splitlines()[-2:]
            raise ComponentError(f"Strimzi {version} CRD generator failed: {' | '.join(tail)[:500]}")
        return out

    target = cache_dir / "build" / f"crds-strimzi-{version}"
    return cached_build(cache_dir, target, build, {"maven": [f"io.strimzi:api:{version}",
                                                             f"io.strimzi:crd-generator:{version}"]})


def flink_operator_crds(cache_dir: Path) -> Path:
    """A directory of the Flink Kubernetes Operator's CRDs (API ``versions.FLINK_OPERATOR_API``)."""
    coords = f"org.apache.flink:flink-kubernetes-operator-api:{versions.FLINK_OPERATOR_API}"

    def build(work: Path) -> Path:
        run_maven(["dependency:copy", f"-Dartifact={coords}", "-DoutputDirectory=download"], work, "Flink operator API")
        out = work / "crds"
        out.mkdir()
        with zipfile.ZipFile(next((work / "download").glob("*.jar"))) as jar:
            for plural in FLINK_CRDS:  # the apiextensions/v1 files (the -v1beta1 ones are for old clusters)
                (out / f"{plural}.flink.apache.org.yaml").write_bytes(
                    jar.read(f"META-INF/fabric8/{plural}.flink.apache.org-v1.yml"))
        return out

    target = cache_dir / "build" / f"crds-flink-operator-{versions.FLINK_OPERATOR_API}"
    return cached_build(cache_dir, target, build, {"maven": coords})


def prometheus_operator_crds(cache_dir: Path) -> Path:
    """A directory holding prometheus-operator ``versions.PROMETHEUS_OPERATOR``'s PodMonitor and ServiceMonitor."""
    module = f"github.com/prometheus-operator/prometheus-operator@v{versions.PROMETHEUS_OPERATOR}"

    def build(work: Path) -> Path:
        done = subprocess.run([go_binary(), "mod", "download", "-json", module], env=go_env(work),
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ComponentError(f"go mod download {module} failed: {done.stderr.strip()[-400:]}")
        source = Path(json.loads(done.stdout)["Dir"]) / "example" / "prometheus-operator-crd"
        out = work / "crds"
        out.mkdir()
        for plural in PROMETHEUS_CRDS:
            name = f"monitoring.coreos.com_{plural}.yaml"
            shutil.copyfile(source / name, out / name)
        return out

    target = cache_dir / "build" / f"crds-prometheus-operator-{versions.PROMETHEUS_OPERATOR}"
    return cached_build(cache_dir, target, build, {"go": module})


def crd_files(cache_dir: Path) -> list[Path]:
    """Every CRD file lakectl's manifests use (fetched or generated now when missing)."""
    directories = (strimzi_crds(cache_dir), flink_operator_crds(cache_dir), prometheus_operator_crds(cache_dir))
    return [path for directory in directories for path in sorted(directory.glob("*.yaml"))]


def load_crds(cache_dir: Path) -> list[dict]:
    """The CRDs as objects (ready for server-side apply)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~6x faster on these 1.3 MB
    return [yaml.load(path.read_text(), Loader=loader) for path in crd_files(cache_dir)]
