#!/bin/sh
# Entry point of the lakectl flink-job image (kubernetes.entry.path of every FlinkDeployment lakectl renders).
#
# 1. The job context: LAKECTL_JOB_CONTEXT_TEMPLATE (a ConfigMap) is JSON whose credentials are ${NAME}
#    placeholders; each is replaced by the pod's environment variable NAME (set from Secrets) and the result is
#    written, mode 0600, to LAKECTL_JOB_CONTEXT, which the job reads (--context). A placeholder whose variable
#    is unset stops the pod with one line naming it.
# 2. The JVM options the Flink distribution's own config.yaml carries (the operator replaces that file).
# 3. exec what the operator passed (Flink's kubernetes-jobmanager.sh / kubernetes-taskmanager.sh).
set -eu
if [ -n "${LAKECTL_JOB_CONTEXT_TEMPLATE:-}" ] && [ -f "$LAKECTL_JOB_CONTEXT_TEMPLATE" ]; then
  # in a subshell: the umask that keeps the file private is not Flink's
  (umask 077
  mkdir -p "$(dirname "$LAKECTL_JOB_CONTEXT")"
  python3 - "$LAKECTL_JOB_CONTEXT_TEMPLATE" "$LAKECTL_JOB_CONTEXT" <<'PY'
import json, os, re, sys

source, target = sys.argv[1], sys.argv[2]
pattern = re.compile(r"\$\{([A-Z0-9_]+)\}")


def fill(value):
    if isinstance(value, dict):
        return {key: fill(item) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item) for item in value]
    if isinstance(value, str):
        def one(match):
            if match.group(1) not in os.environ:
                sys.exit(f"lakectl entrypoint: {source} needs ${{{match.group(1)}}}, which is not set")
            return os.environ[match.group(1)]
        return pattern.sub(one, value)
    return value


with open(source) as handle:
    document = fill(json.load(handle))
with open(target, "w") as handle:
    json.dump(document, handle)
PY
  )
fi
if [ -z "${FLINK_ENV_JAVA_OPTS:-}" ] && [ -s /opt/flink/java-opts ]; then
  FLINK_ENV_JAVA_OPTS=$(cat /opt/flink/java-opts)
  export FLINK_ENV_JAVA_OPTS
fi
exec "$@"
