"""What a cluster needs before the rendered manifests apply: the operators (pinned in ``versions``, installed with
their upstream Helm charts, values kept minimal) and the Secrets the manifests reference by name. Rendered into
the output directory's README.md by ``render.write``.

Chart locations are not written here (lakectl writes no registry's host name into its files): the commands read
them from shell variables, each the chart reference its project documents for that version.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lakectl.runtime import versions
from lakectl.runtime.images import REPOSITORY

# (what, shell variable holding its chart reference, release, namespace, version, --set values)
OPERATORS: tuple[tuple[str, str, str, str, str, tuple[str, ...]], ...] = (
    ("Strimzi (Kafka: kafka.strimzi.io/v1)", "STRIMZI_CHART", "strimzi", "strimzi", versions.STRIMZI,
     ("watchNamespaces={{{namespace}}}",)),
    ("Flink Kubernetes Operator (FlinkDeployment: flink.apache.org/v1beta1); no webhook, hence no cert-manager",
     "FLINK_OPERATOR_CHART", "flink-kubernetes-operator", "flink-operator", versions.FLINK_OPERATOR,
     ("webhook.create=false", "watchNamespaces={{{namespace}}}")),
    ("kube-prometheus-stack (Prometheus, Grafana, PodMonitor); every PodMonitor and dashboard ConfigMap selected",
     "KUBE_PROMETHEUS_STACK_CHART", "kube-prometheus-stack", "monitoring", versions.KUBE_PROMETHEUS_STACK,
     ("prometheus.prometheusSpec.podMonitorSelectorNilUsesHelmValues=false",
      "prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues=false",
      "grafana.sidecar.dashboards.enabled=true", "grafana.sidecar.dashboards.searchNamespace=ALL")),
)


# what a placeholder should hold where its key's name does not say it
KEY_HINTS = {
    "passwords.json": '{"admin": "<admin password>"}',  # Airflow's simple auth manager
    "sql-alchemy-conn": "postgresql+psycopg2://<user>:<password>@<host>:5432/airflow",
    "database-uri": "postgresql+psycopg2://<user>:<password>@<host>:5432/superset",
    "jdbc-url": "jdbc:postgresql://<host>:5432/<database>",
}


def secret_references(objects: Iterable[dict[str, Any]]) -> dict[str, set[str]]:
    """Secret name -> the keys the manifests read from it (env secretKeyRef, secret volumes, basicAuth)."""
    found: dict[str, set[str]] = {}

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("secretKeyRef")
            if isinstance(ref, dict):
                found.setdefault(ref["name"], set()).add(ref["key"])
            secret = node.get("secret")
            if isinstance(secret, dict) and "secretName" in secret:
                keys = {item["key"] for item in secret.get("items", [])}
                found.setdefault(secret["secretName"], set()).update(keys)
            auth = node.get("basicAuth")
            if isinstance(auth, dict):
                for part in auth.values():
                    found.setdefault(part["name"], set()).add(part["key"])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    for obj in objects:
        visit(obj)
    return found


def images(objects: Iterable[dict[str, Any]]) -> list[str]:
    """Every image the objects run: containers, init containers, FlinkDeployments' ``spec.image``. Not the image
    Strimzi builds for a KafkaConnect (``spec.build.output.image``): the operator makes that one in the cluster."""
    found: list[str] = []

    def visit(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            for name, value in node.items():
                visit(value, name)
        elif isinstance(node, list):
            for item in node:
                visit(item, key)
        elif key == "image" and isinstance(node, str):
            found.append(node)

    for obj in objects:
        if obj.get("kind") == "KafkaConnect":
            obj = {**obj, "spec": {k: v for k, v in obj.get("spec", {}).items() if k != "build"}}
        visit(obj)
    return list(dict.fromkeys(found))


def lakectl_images(objects: Iterable[dict[str, Any]], image_prefix: str) -> list[str]:
    """The images lakectl builds among them (``<image_prefix>/<name>:<tag>``), each once, sorted."""
    return sorted(ref for ref in images(objects) if ref.startswith(f"{image_prefix}/"))


def readme(objects: list[dict[str, Any]], image_prefix: str) -> str:
    namespace = next((o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"), "default")
    generated = {o["metadata"]["name"] for o in objects if o["kind"] == "KafkaUser"}
    lines = [
        "# lakectl on Kubernetes",
        "",
        "Rendered by `lakectl deploy render --target kubernetes`; do not edit (render again instead).",
        "",
        "## 1. Operators (once per cluster)",
        "",
        "Set each `*_CHART` variable to the chart reference its project documents for the version pinned below,",
        "then:",
        "",
        "```sh",
    ]
    for what, variable, release, ns, version, values in OPERATORS:
        sets = "".join(f' \\\n  --set "{value.format(namespace=namespace)}"' for value in values)
        lines += [f"# {what}", f'helm upgrade --install {release} "${variable}" --version {version} '
                  f"--namespace {ns} --create-namespace{sets}", ""]
    lines[-1:] = ["```", "", "## 2. Secrets (referenced by name; never in these manifests)", "",
                  "Fill in the placeholders; the keys are the ones the manifests read:", "", "```sh",
                  f"kubectl create namespace {namespace} --dry-run=client -o yaml | kubectl apply -f -"]
    for name, keys in sorted(secret_references(objects).items()):
        if name in generated:
            continue
        literals = "".join(f" \\\n  --from-literal={key}='{KEY_HINTS.get(key, f'<{key}>')}'" for key in sorted(keys))
        lines.append(f"kubectl -n {namespace} create secret generic {name}{literals}")
    lines += ["```", ""]
    if generated:
        lines += [f"Strimzi's user operator creates the Secrets of the KafkaUsers ({', '.join(sorted(generated))}): "
                  "key `password`.", ""]
    connect_builds = [o["spec"]["build"]["output"]["image"] for o in objects
                      if o["kind"] == "KafkaConnect" and "build" in o.get("spec", {})]
    if connect_builds:
        lines += [f"Strimzi builds the Kafka Connect image with its plugins and pushes it to "
                  f"{', '.join(connect_builds)}: the cluster must be able to push there (add `pushSecret` to the "
                  "KafkaConnect's `build.output` for a registry that needs credentials).", ""]
    built = lakectl_images(objects, image_prefix)
    names = [ref.rsplit("/", 1)[1].split(":", 1)[0] for ref in built]
    lines += ["## 3. Images", "",
              "The manifests run these images, which lakectl builds: flink-job and airflow-project are the compose",
              "flink and airflow family images plus the job files and the project; the others are family images as",
              "compose runs them. Each tag is a hash of what the image is made from. Build them, then push each",
              "where the cluster pulls from (`kubernetes.image_prefix`):", "", "```sh",
              f"lakectl image build {' '.join(names)}"]
    for ref in built:
        local = f"{REPOSITORY}/{ref.rsplit('/', 1)[1]}"  # the name `lakectl image build` gives it
        lines.append(f"docker push {ref}" if local == ref else f"docker tag {local} {ref} && docker push {ref}")
    lines += ["```", "",
              "## 4. Apply", "",
              "Server-side apply, field manager `lakectl` (no kubectl needed); `deploy diff` shows what would change "
              "(exit 1 when something would):", "", "```sh",
              "lakectl deploy apply --context CONTEXT --dry-run -f .   # the server checks everything, stores nothing",
              "lakectl deploy apply --context CONTEXT -f .", "lakectl deploy diff --context CONTEXT -f .", "```", "",
              "or, with kubectl: `kubectl apply --server-side --field-manager lakectl -k .`", ""]
    return "\n".join(lines)
