"""deploy/docker-compose.yml is generated from the service descriptions: the committed file is current."""

from lakectl.paths import deploy_dir
from lakectl.runtime.compose_file import builds_image, image_families, render, service
from lakectl.runtime.services import SERVICES


def test_the_committed_compose_file_is_generated_from_the_specs():
    committed = (deploy_dir() / "docker-compose.yml").read_text()
    assert committed == render(SERVICES), (
        "deploy/docker-compose.yml is stale (or was edited by hand): run `make compose-file` and commit it")


def test_rendering_is_deterministic():
    assert render(SERVICES) == render(SERVICES)


def test_one_image_per_component():
    assert image_families(SERVICES) == ["postgres", "kafka", "schema-registry", "connect", "object-store", "flink",
                                        "trino", "prometheus", "airflow", "superset"]
    assert [spec.name for spec in SERVICES if not builds_image(spec)] == ["grafana"]


def test_a_lakectl_container_runs_the_native_recipe_with_the_hosts_network():
    specs = {spec.name: spec for spec in SERVICES}
    kafka = service(specs["kafka"])
    assert kafka["command"] == ["lakectl", "service", "run", "kafka"]
    assert kafka["healthcheck"]["test"] == ["CMD", "lakectl", "service", "probe", "kafka"]
    assert kafka["network_mode"] == "host" and "ports" not in kafka and "networks" not in kafka
    assert kafka["init"] is True and kafka["stop_grace_period"] == "60s"
    taskmanager = service(specs["flink-taskmanager"])
    assert taskmanager["image"].startswith("lakectl/flink:${LAKECTL_IMAGE_FLINK:?")
    assert "depends_on" not in taskmanager  # it starts alongside the JobManager (starts_after=())
    assert service(specs["flink-jobmanager"])["depends_on"] == {"postgres": {"condition": "service_healthy"}}
