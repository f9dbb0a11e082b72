# The image a Flink job runs from on Kubernetes (the Flink Kubernetes Operator's FlinkDeployment): the compose
# flink family image (Flink 1.20 from PyPI apache-flink in its venv, the connector jars, the Delta sink, JDK 17)
# plus the job files, in the layout the operator expects. lakectl/runtime/images.py builds it
# (`lakectl image build flink-job`); its context is staged by lakectl (the Dockerfile, the entry point,
# flink_jobs/ without the Delta sink's sources, lakectl/avro_sql.py).
ARG FLINK_IMAGE
FROM ${FLINK_IMAGE}
# FLINK_HOME at the path the operator mounts its configuration under (/opt/flink/conf): a copy of the family's
# assembled home (bin/ copied, lib/ opt/ plugins/ as symlinks into the image's cache); the distribution's
# JVM options (the --add-exports Java 17 needs) kept aside, since the operator's conf/ replaces its config.yaml
RUN set -e; home=$(ls -td /opt/lakectl/cache/flink/home-*/ | head -n 1); cp -a "$home" /opt/flink \
 && mkdir -p /opt/flink/log /tmp/lakectl && chmod 1777 /opt/flink/log /tmp/lakectl \
 && sed -n 's/^ *all: \(--add-exports.*\)$/\1/p' /opt/flink/conf/config.yaml > /opt/flink/java-opts
# the job files where job.py finds lakectl.avro_sql (two directories up from itself)
COPY flink_jobs/ /opt/lakectl/flink_jobs/
COPY avro_sql.py /opt/lakectl/lakectl/avro_sql.py
COPY flink-job-entrypoint.sh /opt/lakectl/entrypoint.sh
RUN touch /opt/lakectl/lakectl/__init__.py && chmod 755 /opt/lakectl/entrypoint.sh
ENV FLINK_HOME=/opt/flink PATH=/opt/flink/bin:${PATH}
# kubernetes.entry.path in each FlinkDeployment: fills the job context, then runs what the operator asked for
# (bash -c "kubernetes-jobmanager.sh kubernetes-application", kubernetes-taskmanager.sh ...)
ENTRYPOINT ["/opt/lakectl/entrypoint.sh"]
