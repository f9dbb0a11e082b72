# The image Airflow runs from on Kubernetes (lakectl deploy render's 50-airflow.yaml): the compose airflow family
# image (Airflow in its pinned venv under /opt/lakectl/cache/venvs, lakectl's dependencies in /opt/lakectl/venv)
# plus the project, which compose mounts from the checkout instead: lakectl itself, dags/, schemas/ (pipeline specs
# and their .avsc), dbt_project/, flink_jobs/, deploy/, lakectl.toml. lakectl/runtime/images.py stages the context
# (`lakectl image build airflow-project`): this Dockerfile and the project under project/.
ARG AIRFLOW_IMAGE
FROM ${AIRFLOW_IMAGE}
# the renderer's LAKECTL_PROJECT_DIR (images.PROJECT_DIR, passed by the build): a DAG task runs lakectl there
ARG PROJECT_DIR
COPY project/ ${PROJECT_DIR}/
# lakectl importable by lakectl's venv only (a .pth file, not PYTHONPATH: Airflow's own venv must not see it), so
# the base's /usr/local/bin/lakectl (images.LAKECTL_BIN) runs this copy; checked here, so a broken copy fails the
# build rather than every task
RUN set -e; site=$(/opt/lakectl/venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))'); \
    echo "${PROJECT_DIR}" > "$site/lakectl-project.pth" \
 && cd / && LAKECTL_STATE_DIR=/tmp/lakectl-build /usr/local/bin/lakectl version
ENV LAKECTL_PROJECT_DIR=${PROJECT_DIR}
WORKDIR ${PROJECT_DIR}
