"""`lakectl deploy render --target kubernetes` (lakectl/runtime/kubernetes/render): manifests derived from the
ServiceSpecs, versions and pipeline specs; deterministic; secrets referenced, never written."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from lakectl import pipeline_spec
from lakectl.components.object_store import S3Location
from lakectl.ops.deploy import render_to
from lakectl.ops.jobs import JobConnections
from lakectl.paths import schemas_dir
from lakectl.runtime import versions
from lakectl.runtime.kubernetes import render as kube
from lakectl.runtime.kubernetes.render import flink, kafka
from lakectl.settings import load_settings

FAKE_SECRETS = {
    "LAKECTL_OBJECT_STORE__ACCESS_KEY": "AKIAFAKEACCESSKEY123",
    "LAKECTL_OBJECT_STORE__SECRET_KEY": "fake-s3-secret-value-0xDEADBEEF",
    "LAKECTL_CATALOG__PASSWORD": "fake-catalog-password-9f8e7d",
    "LAKECTL_KAFKA__SASL_PASSWORD": "fake-kafka-password-1a2b3c",
    "LAKECTL_REGISTRY__PASSWORD": "fake-registry-password-4d5e6f",
    "LAKECTL_TRINO__PASSWORD": "fake-trino-password-7g8h9i",
    "LAKECTL_AIRFLOW__PASSWORD": "fake-airflow-password-0j1k2l",
    "LAKECTL_FLINK__TOKEN": "fake-flink-token-3m4n5o",
}
STRIMZI_KINDS = {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser", "KafkaConnect", "KafkaConnector"}
ORDERS = schemas_dir() / "examples" / "orders.avsc"


@pytest.fixture
def loaded(isolated, monkeypatch):
    for name, value in FAKE_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LAKECTL_OBJECT_STORE__ENDPOINT", "http://minio.storage.svc:9000")
    return load_settings(cwd=isolated)


@pytest.fixture
def nested(tmp_path) -> Path:
    """A schemas directory with a pipeline whose schema has records, arrays and maps (orders.avsc)."""
    directory = tmp_path / "schemas"
    directory.mkdir()
    shutil.copy(ORDERS, directory / "orders.avsc")
    (directory / "orders.pipeline.toml").write_text(
        'schema = "orders.avsc"\ntopic = "shop.orders"\nkey = "order_id"\nevent_time = "placed_at"\n'
        "partitions = 6\nparallelism = 3\ncheckpoint_interval_s = 30\n")
    return directory


def kinds(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def test_trades_renders_every_component_in_apply_order(loaded, tmp_path):
    objects = kube.render(loaded, ["trades"])
    assert objects[0] == {"apiVersion": "v1", "kind": "Namespace",
                          "metadata": {"name": "lakehouse", "labels": objects[0]["metadata"]["labels"]}}
    order = [kube.KIND_ORDER.index(o["kind"]) for o in objects]
    assert order == sorted(order)
    assert all(o["metadata"]["namespace"] == "lakehouse" for o in objects[1:])
    paths = kube.write(objects, tmp_path / "out")
    names = [p.name for p in paths]
    assert names == [*kube.FILES, "kustomization.yaml", "README.md"]
    kustomization = yaml.safe_load((tmp_path / "out" / "kustomization.yaml").read_text())
    assert kustomization["resources"] == list(kube.FILES)
    reread = [doc for name in kube.FILES for doc in yaml.safe_load_all((tmp_path / "out" / name).read_text())]
    assert sorted(json.dumps(o, sort_keys=True) for o in reread) == sorted(json.dumps(o, sort_keys=True)
                                                                           for o in objects)
    for obj in objects:
        labels = obj["metadata"]["labels"]
        if obj["kind"] != "Namespace":
            assert labels["app.kubernetes.io/part-of"] == "lakectl"
            assert labels["app.kubernetes.io/managed-by"] == "lakectl"
            assert labels["app.kubernetes.io/component"]


def test_output_is_deterministic(loaded, nested, tmp_path):
    first = kube.write(kube.render(loaded, None, directory=nested), tmp_path / "a")
    second = kube.write(kube.render(loaded, None, directory=nested), tmp_path / "b")
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_api_versions_are_strimzi_v1_and_flink_v1beta1(loaded):
    objects = kube.render(loaded, ["trades"])
    assert {o["apiVersion"] for o in objects if o["kind"] in STRIMZI_KINDS} == {"kafka.strimzi.io/v1"}
    assert {o["apiVersion"] for o in kinds(objects, "FlinkDeployment")} == {"flink.apache.org/v1beta1"}
    cluster = kinds(objects, "Kafka")[0]
    assert cluster["spec"]["kafka"]["version"] == versions.KAFKA
    assert {listener["authentication"]["type"] for listener in cluster["spec"]["kafka"]["listeners"]} == {
        "scram-sha-512"}
    assert cluster["spec"]["kafka"]["metricsConfig"]["type"] == "jmxPrometheusExporter"
    assert set(cluster["spec"]["entityOperator"]) == {"topicOperator", "userOperator"}
    pool = kinds(objects, "KafkaNodePool")[0]
    assert pool["spec"]["roles"] == ["controller", "broker"]
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == cluster["metadata"]["name"]
    users = {u["metadata"]["name"]: u for u in kinds(objects, "KafkaUser")}
    assert set(users) == {kafka.FLINK_USER, kafka.REGISTRY_USER, kafka.LAKECTL_USER, "lakectl-connect"}
    assert {u["spec"]["authentication"]["type"] for u in users.values()} == {"scram-sha-512"}


def test_deployment_selectors_match_their_pod_labels(loaded, nested):
    for obj in kinds(kube.render(loaded, None, directory=nested), "Deployment"):
        selector = obj["spec"]["selector"]["matchLabels"]
        pod_labels = obj["spec"]["template"]["metadata"]["labels"]
        assert selector and selector.items() <= pod_labels.items(), obj["metadata"]["name"]


def test_services_select_pods_of_a_deployment(loaded):
    objects = kube.render(loaded, ["trades"])
    pods = [d["spec"]["template"]["metadata"]["labels"] for d in kinds(objects, "Deployment")]
    for svc in kinds(objects, "Service"):
        assert any(svc["spec"]["selector"].items() <= labels.items() for labels in pods), svc["metadata"]["name"]


def test_no_secret_is_written_and_no_secret_value_appears(loaded, nested, tmp_path):
    objects = kube.render(loaded, None, directory=nested)
    assert not kinds(objects, "Secret")
    kube.write(objects, tmp_path / "out")
    text = "".join(p.read_text() for p in sorted((tmp_path / "out").iterdir()))
    for name, value in FAKE_SECRETS.items():
        assert value not in text, name
    # the secrets the manifests use are references by name, listed for `kubectl create secret` in the README
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "create secret generic lakectl-object-store" in readme
    assert "--from-literal=secret-key='<secret-key>'" in readme
    assert f"create secret generic {kafka.FLINK_USER}" not in readme  # Strimzi generates it


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    pod = obj["spec"]["template"]["spec"]
    return [*pod["containers"], *pod.get("initContainers", [])]


def test_every_container_has_requests_and_limits(loaded, nested):
    objects = kube.render(loaded, None, directory=nested)
    for obj in kinds(objects, "Deployment"):
        for box in _containers(obj):
            resources = box["resources"]
            assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}, box["name"]
    for obj in kinds(objects, "FlinkDeployment"):  # the operator sets the main containers' from these
        for role in ("jobManager", "taskManager"):
            assert set(obj["spec"][role]["resource"]) == {"cpu", "memory"}
        assert [c["name"] for c in obj["spec"]["podTemplate"]["spec"]["containers"]] == ["flink-main-container"]
    pool = kinds(objects, "KafkaNodePool")[0]
    assert set(pool["spec"]["resources"]) == {"requests", "limits"}
    operators = kinds(objects, "Kafka")[0]["spec"]["entityOperator"]
    assert all(set(op["resources"]) == {"requests", "limits"} for op in operators.values())


def test_a_topic_and_its_dlq_per_pipeline_with_the_specs_partitions(loaded, nested):
    objects = kube.render(loaded, None, directory=nested)
    topics = {t["spec"]["topicName"]: t for t in kinds(objects, "KafkaTopic")}
    assert set(topics) == {"shop.orders", "shop.orders.dlq"}
    assert {t["spec"]["partitions"] for t in topics.values()} == {6}
    assert all(t["metadata"]["labels"]["strimzi.io/cluster"] == kafka.CLUSTER for t in topics.values())
    trades = {t["spec"]["topicName"]: t["spec"]["partitions"] for t in kinds(kube.render(loaded, ["trades"]),
                                                                              "KafkaTopic")}
    spec = pipeline_spec.load("trades")
    assert trades == {spec.topic: spec.partitions, spec.dlq_topic: spec.partitions}
    # the Flink jobs' user reads every declared pipeline's topic
    flink_user = next(u for u in kinds(objects, "KafkaUser") if u["metadata"]["name"] == kafka.FLINK_USER)
    assert {"name": "shop.orders", "patternType": "literal", "type": "topic"} in [
        acl["resource"] for acl in flink_user["spec"]["authorization"]["acls"]]


def test_the_flink_deployment_carries_the_pipelines_options(loaded, nested):
    objects = kube.render(loaded, ["orders"], directory=nested)
    (deployment,) = kinds(objects, "FlinkDeployment")
    spec = pipeline_spec.load("orders", nested)
    job = deployment["spec"]["job"]
    assert deployment["metadata"]["name"] == "bronze-orders"
    assert job["entryClass"] == "org.apache.flink.client.python.PythonDriver"
    assert job["jarURI"] == f"local:///opt/flink/opt/flink-python-{versions.FLINK}.jar"
    assert job["args"] == ["-py", "/opt/lakectl/flink_jobs/bronze/job.py", "--context", flink.CONTEXT_FILE,
                           "--name", "bronze_orders", *spec.bronze_job_args()]
    assert job["args"][6:8] == ["--topic", "shop.orders"] and "--event-time" in job["args"]
    assert (job["parallelism"], job["upgradeMode"]) == (3, "savepoint")
    config = deployment["spec"]["flinkConfiguration"]
    assert all(isinstance(value, str) for value in config.values())
    assert config["execution.checkpointing.interval"] == "30000 ms"
    assert config["high-availability.type"] == "kubernetes"
    assert config["state.checkpoints.dir"].startswith("s3://warehouse/flink/checkpoints/")
    assert config["state.savepoints.dir"].startswith("s3://warehouse/flink/savepoints/")
    assert config["s3.endpoint"] == "http://minio.storage.svc:9000"
    assert config["kubernetes.entry.path"] == flink.ENTRYPOINT
    assert deployment["spec"]["flinkVersion"] == versions.FLINK_OPERATOR_FLINK_VERSION
    assert deployment["spec"]["image"].startswith(f"{loaded.settings.kubernetes.image_prefix}/flink-job:")
    env = {e["name"]: e for e in deployment["spec"]["podTemplate"]["spec"]["containers"][0]["env"]}
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "lakectl-object-store",
                                                                         "key": "secret-key"}
    assert env["LAKECTL_KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": kafka.FLINK_USER, "key": "password"}


def test_flink_deployment_is_one_function_for_any_job_file(loaded):
    deployment = flink.flink_deployment(loaded, name="my_job", job_py="/opt/lakectl/flink_jobs/x/job.py",
                                        job_args=["--rows", "5"], parallelism=1, checkpoint_interval_s=2.5,
                                        initial_savepoint="s3://warehouse/flink/savepoints/sp-1")
    job = deployment["spec"]["job"]
    assert job["args"][-2:] == ["--rows", "5"] and job["args"][:2] == ["-py", "/opt/lakectl/flink_jobs/x/job.py"]
    assert job["initialSavepointPath"] == "s3://warehouse/flink/savepoints/sp-1"
    assert deployment["metadata"]["name"] == "my-job"
    assert deployment["spec"]["flinkConfiguration"]["execution.checkpointing.interval"] == "2500 ms"


def test_every_placeholder_of_the_job_context_comes_from_the_pods_env(loaded):
    text = json.dumps(flink.job_context(loaded))


    used = set(re.findall(r"\$\{([A-Z0-9_]+)\}", text))
    assert used == set(flink.SECRET_ENV)
    # the context has the shape lakectl hands a job locally (plus the Kafka login)
    local = JobConnections("b:9092", "http://r", 10.0, {"jdbc_url": "", "user": "", "password": "",
                                                          "warehouse": "", "name": ""},
                           S3Location("http://s3", "warehouse", "k", "s")).to_dict()
    context = flink.job_context(loaded)
    assert set(context) == {*local, "kafka"}
    assert set(context["iceberg"]) == set(local["iceberg"])


def test_trino_catalogs_read_secrets_from_the_environment(loaded):
    objects = kube.render(loaded, ["trades"])
    catalogs = next(o for o in objects if o["metadata"]["name"] == "trino-catalogs")["data"]
    assert "connection-password=${ENV:LAKECTL_POSTGRES_PASSWORD}" in catalogs["iceberg.properties"]
    coordinator = next(o for o in kinds(objects, "Deployment") if o["metadata"]["name"] == "trino-coordinator")
    env = {e["name"]: e for e in coordinator["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["LAKECTL_POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "lakectl-catalog"
    assert env["TRINO_S3_ENDPOINT"]["value"] == "http://minio.storage.svc:9000"


def test_dashboards_are_labelled_for_the_grafana_sidecar(loaded):
    objects = kube.render(loaded, ["trades"])
    boards = [o for o in kinds(objects, "ConfigMap") if o["metadata"]["labels"].get("grafana_dashboard") == "1"]
    assert len(boards) == len(list((Path(kube.__file__).parents[4] / "deploy" / "grafana" / "dashboards")
                                   .glob("*.json")))
    monitors = {m["metadata"]["name"]: m for m in kinds(objects, "PodMonitor")}
    assert {"kafka", "connect", "flink-jobs", "trino"} <= set(monitors)
    assert "basicAuth" in monitors["trino"]["spec"]["podMetricsEndpoints"][0]


def test_storage_class_from_settings(isolated, monkeypatch):
    monkeypatch.setenv("LAKECTL_KUBERNETES__STORAGE_CLASS", "fast-ssd")
    objects = kube.render(load_settings(cwd=isolated), ["trades"])
    (pool,) = kinds(objects, "KafkaNodePool")
    assert pool["spec"]["storage"]["volumes"][0]["class"] == "fast-ssd"


def test_render_to_counts_objects_by_kind(loaded, nested, tmp_path):
    result = render_to(loaded, tmp_path / "out", ["orders"], directory=nested)
    assert result.kinds["FlinkDeployment"] == 1 and result.kinds["KafkaTopic"] == 2
    assert result.to_dict()["objects"] == sum(result.kinds.values())


def test_cli_renders_json(run, isolated, tmp_path):
    result = run("deploy", "render", "--target", "kubernetes", "--out", str(tmp_path / "k8s"), "--pipeline",
                 "trades", "-o", "json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["kinds"]["FlinkDeployment"] == 1
    assert (tmp_path / "k8s" / "kustomization.yaml").is_file()


@pytest.mark.parametrize(("args", "fragment"), [
    (["--pipeline", "nope"], "no pipeline 'nope'"),
    (["--target", "compose"], "--target 'compose'"),
])
def test_cli_refuses_unknown_pipeline_or_target_in_one_line(run, isolated, tmp_path, args, fragment):
    result = run("deploy", "render", "--out", str(tmp_path / "k8s"), *args)
    assert result.code == 2, (result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lakectl: error: ") and fragment in lines[0]
    assert not (tmp_path / "k8s").exists()


@pytest.mark.parametrize(("out", "fragment"), [("a-file", "is a file"), ("a-file/k8s", "cannot write the manifests")])
def test_cli_out_that_cannot_be_a_directory_is_one_line(run, isolated, tmp_path, out, fragment):
    (tmp_path / "a-file").write_text("x")  # the CLI fuzz test (issue 15): 'unexpected FileExistsError'
    result = run("deploy", "render", "--out", str(tmp_path / out), "--pipeline", "trades")
    assert result.code == 2, (result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lakectl: error: ") and fragment in lines[0]


def test_the_job_image_is_made_of_the_job_files_not_the_delta_sink_sources():
    from lakectl.runtime.images import _job_inputs

    inputs = _job_inputs()
    assert {"Dockerfile", "flink-job-entrypoint.sh", "avro_sql.py", "flink_jobs/bronze/job.py",
            "flink_jobs/bronze/delta_sink.py"} <= set(inputs)
    assert not [name for name in inputs if name.startswith("flink_jobs/delta_sink/")]
    dockerfile = inputs["Dockerfile"].read_text()
    for name in ("flink_jobs/", "avro_sql.py", "flink-job-entrypoint.sh"):
        assert f"COPY {name}" in dockerfile
    assert flink.ENTRYPOINT in dockerfile and flink.FLINK_HOME in dockerfile


def _deployment(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(o for o in kinds(objects, "Deployment") if o["metadata"]["name"] == name)


def _pod(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return _deployment(objects, name)["spec"]["template"]["spec"]


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container.get("env", [])}


AIRFLOW_PROCESSES = ("airflow-api-server", "airflow-scheduler", "airflow-dag-processor")


def test_airflow_runs_its_venvs_airflow_from_the_airflow_project_image(loaded, nested):
    from lakectl.artifacts import pinned_venv_name
    from lakectl.runtime.base import StackContext
    from lakectl.runtime.compose_file import IMAGE_CACHE_DIR
    from lakectl.runtime.images import LAKECTL_BIN, PROJECT_DIR, derived_tag
    from lakectl.runtime.services import airflow as airflow_service

    objects = kube.render(loaded, None, directory=nested)
    tag = derived_tag(StackContext(loaded, "compose"), "airflow-project").split(":", 1)[1]
    image = f"{loaded.settings.kubernetes.image_prefix}/airflow-project:{tag}"
    venv = pinned_venv_name(f"airflow-{versions.AIRFLOW}", airflow_service.REQUIREMENTS)
    airflow_bin = f"{IMAGE_CACHE_DIR}/venvs/{venv}/bin/airflow"
    for name in AIRFLOW_PROCESSES:
        pod = _pod(objects, name)
        for container in [*pod["containers"], *pod.get("initContainers", [])]:
            assert container["image"] == image and container["command"][0] == airflow_bin
            env = _env(container)
            assert env["LAKECTL_PROJECT_DIR"]["value"] == PROJECT_DIR and env["LAKECTL_BIN"]["value"] == LAKECTL_BIN
            assert env["AIRFLOW__CORE__DAGS_FOLDER"]["value"] == f"{PROJECT_DIR}/dags"
        # the DAGs and pipeline specs are the image's: no ConfigMap of them, no volume but the passwords Secret
        assert [v["name"] for v in pod["volumes"]] == ["passwords"]
        probe = pod["containers"][0].get("livenessProbe", {}).get("exec")
        assert probe is None or probe["command"][0] == airflow_bin
    assert not [o for o in kinds(objects, "ConfigMap") if kube.component(o) == "airflow"]
    assert [c["command"] for c in _pod(objects, "airflow-scheduler")["initContainers"]] == [
        [airflow_bin, "db", "migrate"]]


def test_airflow_tasks_reach_the_clusters_services_with_secrets_by_reference(loaded, nested):
    from lakectl.runtime.kubernetes.render import airflow, registry, trino
    from lakectl.settings import Settings

    objects = kube.render(loaded, None, directory=nested)
    scheduler = _pod(objects, "airflow-scheduler")
    env = _env(scheduler["containers"][0])
    values = {name: item.get("value") for name, item in env.items()}
    assert values["LAKECTL_FLINK__BACKEND"] == "kubernetes"
    assert values["LAKECTL_KUBERNETES__NAMESPACE"] == loaded.settings.kubernetes.namespace
    assert values["LAKECTL_KAFKA__BOOTSTRAP_SERVERS"] == kafka.bootstrap(loaded)
    assert values["LAKECTL_REGISTRY__URL"] == registry.url(loaded)
    assert values["LAKECTL_TRINO__URL"] == trino.url(loaded)
    assert values["LAKECTL_OBJECT_STORE__ENDPOINT"] == "http://minio.storage.svc:9000"
    (flink_deployment,) = kinds(objects, "FlinkDeployment")
    assert values["LAKECTL_KUBERNETES__JOB_IMAGE"] == flink_deployment["spec"]["image"]
    # every LAKECTL_<SECTION>__<KEY> is a setting lakectl reads (a misspelt one would be refused: extra=forbid)
    for name in env:
        if name.startswith("LAKECTL_") and "__" in name:
            section, key = name.removeprefix("LAKECTL_").lower().split("__")
            assert key in Settings.model_fields[section].annotation.model_fields, name
    secrets = {"LAKECTL_KAFKA__SASL_PASSWORD": (kafka.LAKECTL_USER, "password"),
               "LAKECTL_CATALOG__JDBC_URL": ("lakectl-catalog", "jdbc-url"),
               "LAKECTL_CATALOG__USER": ("lakectl-catalog", "user"),
               "LAKECTL_CATALOG__PASSWORD": ("lakectl-catalog", "password"),
               "LAKECTL_OBJECT_STORE__ACCESS_KEY": ("lakectl-object-store", "access-key"),
               "LAKECTL_OBJECT_STORE__SECRET_KEY": ("lakectl-object-store", "secret-key")}
    for name, (secret, key) in secrets.items():
        assert "value" not in env[name]
        assert env[name]["valueFrom"] == {"secretKeyRef": {"name": secret, "key": key}}
    # the credentials go where the tasks run (LocalExecutor: the scheduler), not to the api-server
    for name in ("airflow-api-server", "airflow-dag-processor"):
        assert not set(secrets) & set(_env(_pod(objects, name)["containers"][0]))
    # the job backend's RBAC: the operator's resources, and the jobs' own Role (no escalation) it applies with them
    assert scheduler["serviceAccountName"] == airflow.SERVICE_ACCOUNT
    role = next(o for o in kinds(objects, "Role") if o["metadata"]["name"] == airflow.SERVICE_ACCOUNT)
    jobs_role = next(o for o in kinds(objects, "Role") if o["metadata"]["name"] == flink.SERVICE_ACCOUNT)
    assert all(rule in role["rules"] for rule in jobs_role["rules"])
    flink_rule = next(r for r in role["rules"] if r["apiGroups"] == ["flink.apache.org"])
    assert {"flinkdeployments", "flinkstatesnapshots"} <= set(flink_rule["resources"])
    binding = next(o for o in kinds(objects, "RoleBinding") if o["metadata"]["name"] == airflow.SERVICE_ACCOUNT)
    assert binding["subjects"][0]["name"] == airflow.SERVICE_ACCOUNT


def test_superset_runs_the_family_image_and_installs_nothing_at_start(loaded):
    from lakectl.artifacts import pinned_venv_name
    from lakectl.runtime.base import StackContext
    from lakectl.runtime.compose_file import IMAGE_CACHE_DIR
    from lakectl.runtime.images import image_tag
    from lakectl.runtime.services import superset as superset_service

    objects = kube.render(loaded, [])
    pod = _pod(objects, "superset")
    tag = image_tag(StackContext(loaded, "compose"), "superset").split(":", 1)[1]
    venv = f"{IMAGE_CACHE_DIR}/venvs/{pinned_venv_name(f'superset-{versions.SUPERSET}', superset_service.REQUIREMENTS)}"
    assert any(r.startswith("trino==") for r in superset_service.REQUIREMENTS)  # the driver is in that venv
    (main,), (init,) = pod["containers"], pod["initContainers"]
    assert main["image"] == init["image"] == f"{loaded.settings.kubernetes.image_prefix}/superset:{tag}"
    assert main["command"][0] == f"{venv}/bin/gunicorn" and "superset.app:create_app()" in main["command"]
    script = init["command"][-1]
    assert "pip install" not in script and "uv " not in script
    assert f"{venv}/bin/superset db upgrade" in script and f"{venv}/bin/superset import-dashboards" in script
    assert "PYTHONPATH" not in _env(main) and [v["name"] for v in pod["volumes"]] == ["config", "bundle"]


def test_the_readme_builds_and_pushes_every_image_lakectl_builds(loaded, nested, tmp_path):
    from lakectl.runtime.kubernetes.render.operators import lakectl_images

    objects = kube.render(loaded, None, directory=nested)
    prefix = loaded.settings.kubernetes.image_prefix
    built = lakectl_images(objects, prefix)
    assert [ref.split("/")[-1].split(":")[0] for ref in built] == ["airflow-project", "flink-job", "superset"]
    kube.write(objects, tmp_path / "out", image_prefix=prefix)
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "lakectl image build airflow-project flink-job superset" in readme
    for ref in built:
        assert f"docker push {ref}" in readme


def test_the_job_image_setting_names_the_flink_deployments_image(isolated, monkeypatch):
    monkeypatch.setenv("LAKECTL_KUBERNETES__JOB_IMAGE", "team/flink-job:pinned")
    loaded = load_settings(cwd=isolated)
    assert flink.image(loaded) == "team/flink-job:pinned"


def test_the_readme_tags_the_local_images_with_the_clusters_prefix(isolated, monkeypatch, tmp_path):
    monkeypatch.setenv("LAKECTL_KUBERNETES__IMAGE_PREFIX", "team/lake")
    loaded = load_settings(cwd=isolated)
    objects = kube.render(loaded, [])
    kube.write(objects, tmp_path / "out", image_prefix="team/lake")
    readme = (tmp_path / "out" / "README.md").read_text()
    from lakectl.runtime.kubernetes.render import superset

    ref = superset.image(loaded)
    assert ref.startswith("team/lake/superset:")
    assert f"docker tag lakectl/{ref.split('/')[-1]} {ref} && docker push {ref}" in readme


def test_the_rendered_manifests_pass_kubeconform_strict(loaded, nested):
    """The demo (trades) and a nested pipeline, every object, against the Kubernetes 1.37 schemas and the
    operators' CRD schemas (Strimzi, Flink operator, prometheus-operator), unknown fields refused."""
    from lakectl.runtime.kubernetes.validate import validate

    for objects in (kube.render(loaded), kube.render(loaded, directory=nested)):
        problems = validate(objects, loaded.cache_dir)
        assert [p.one_line() for p in problems] == []
    # and the check can fail: one misspelled field of a FlinkDeployment
    broken = [o for o in kube.render(loaded) if o["kind"] == "FlinkDeployment"][:1]
    broken[0]["spec"]["job"]["upgradeMod"] = broken[0]["spec"]["job"].pop("upgradeMode")
    assert [p.kind for p in validate(broken, loaded.cache_dir)] == ["FlinkDeployment"]


def test_kafka_connect_builds_the_local_workers_plugins_and_logs_in_like_the_other_clients(loaded):
    from lakectl.runtime.kubernetes.render import connect
    from lakectl.runtime.services import connect as worker

    file_source = connect.Connector("trades-file", {
        "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector", "tasks.max": "1",
        "file": "/data/trades.txt", "topic": "trades-lines", "name": "trades-file"})
    cdc = connect.Connector("orders_cdc", {"connector.class": "io.debezium.connector.postgresql.PostgresConnector",
                                           "topic.prefix": "cdc", "database.password": "${env:PG_PASSWORD}"})
    objects = kube.render(loaded, ["trades"], connectors=[file_source, cdc])
    (cluster,) = kinds(objects, "KafkaConnect")
    spec = cluster["spec"]
    assert spec["version"] == versions.KAFKA and spec["bootstrapServers"] == kafka.bootstrap(loaded)
    assert (spec["groupId"], spec["configStorageTopic"], spec["offsetStorageTopic"], spec["statusStorageTopic"]) == (
        worker.GROUP_ID, worker.CONFIG_TOPIC, worker.OFFSET_TOPIC, worker.STATUS_TOPIC)
    assert spec["authentication"] == {"type": "scram-sha-512", "username": connect.CONNECT_USER,
                                      "passwordSecret": {"secretName": connect.CONNECT_USER, "password": "password"}}
    (plugin,) = spec["build"]["plugins"]
    assert plugin["artifacts"] == [{"type": "maven", "group": "io.debezium", "artifact": "debezium-connector-postgres",
                                    "version": versions.DEBEZIUM, "includeScope": "runtime"}]
    metrics = spec["metricsConfig"]["valueFrom"]["configMapKeyRef"]
    assert any(o["metadata"]["name"] == metrics["name"] and metrics["key"] in o["data"]
               for o in kinds(objects, "ConfigMap"))
    connectors = {c["metadata"]["name"]: c for c in kinds(objects, "KafkaConnector")}
    assert set(connectors) == {"trades-file", "orders-cdc"}
    assert connectors["trades-file"]["metadata"]["labels"]["strimzi.io/cluster"] == cluster["metadata"]["name"]
    assert connectors["trades-file"]["spec"]["tasksMax"] == 1
    assert connectors["trades-file"]["spec"]["config"] == {"file": "/data/trades.txt", "topic": "trades-lines"}
    user = next(u for u in kinds(objects, "KafkaUser") if u["metadata"]["name"] == connect.CONNECT_USER)
    acls = {(a["resource"].get("name"), a["resource"].get("patternType")): a["operations"]
            for a in user["spec"]["authorization"]["acls"]}
    assert "Write" in acls[("trades", "literal")] and "Write" in acls[("trades-lines", "literal")]
    assert "Create" in acls[("cdc", "prefix")] and acls[(worker.OFFSET_TOPIC, "literal")] == ["All"]
    # Strimzi builds the worker's image in the cluster: it is not one of the images lakectl builds
    from lakectl.runtime.kubernetes.render.operators import images

    assert spec["build"]["output"]["image"] not in images(objects)
    from lakectl.runtime.kubernetes.validate import validate

    assert [p.one_line() for p in validate(objects, loaded.cache_dir)] == []


def test_a_postgres_cdc_pipeline_is_left_out_of_a_render_of_all_and_refused_by_name(loaded, nested):
    from lakectl.errors import UsageError

    (nested / "accounts.pipeline.toml").write_text(
        'source = "postgres-cdc"\n\n[postgres]\ndatabase = "shop"\ntables = ["accounts"]\n')
    deployments = kinds(kube.render(loaded, None, directory=nested), "FlinkDeployment")
    assert [d["metadata"]["name"] for d in deployments] == [
        d["metadata"]["name"] for d in kinds(kube.render(loaded, ["orders"], directory=nested), "FlinkDeployment")]
    with pytest.raises(UsageError, match="accounts: postgres-cdc pipelines are not rendered for Kubernetes yet"):
        kube.render(loaded, ["orders", "accounts"], directory=nested)


def test_kafka_is_exposed_outside_the_cluster_only_when_asked(loaded, isolated, monkeypatch):
    def listeners(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {item["name"]: item for item in kinds(objects, "Kafka")[0]["spec"]["kafka"]["listeners"]}

    assert {name: item["type"] for name, item in listeners(kube.render(loaded)).items()} == {
        "scram": "internal", "tls": "internal"}
    monkeypatch.setenv("LAKECTL_KUBERNETES__KAFKA_EXTERNAL", "loadbalancer")
    external = listeners(kube.render(load_settings(cwd=isolated)))["external"]
    # SCRAM over TLS: the only way in from outside, as the profile's SASL_SSL settings expect
    assert external == {"name": "external", "port": kafka.EXTERNAL_PORT, "type": "loadbalancer", "tls": True,
                        "authentication": {"type": "scram-sha-512"}}
