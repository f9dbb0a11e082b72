"""Runs a PyFlink job file for PythonDriver and keeps the reason it failed.

Flink's REST API answers a failed PyFlink program with "Python process exits with code: 1"; the
traceback only reaches the JobManager's log. lakectl submits ``launch.py ERROR_FILE JOB ARGS...``
instead of the job itself: this runs JOB as ``__main__`` and, if it fails, writes the one line a
person needs into ERROR_FILE, which ``lakectl job submit`` prints.

Standalone on purpose: it runs in the Flink virtualenv, where lakectl is not installed, and it lives
in its own directory so that nothing next to it shadows the job's imports.
"""

import runpy
import sys
import traceback
from pathlib import Path


def reason(exc: BaseException) -> str:
    java = getattr(exc, "java_exception", None)  # py4j.protocol.Py4JJavaError: the Java side's message
    if java is not None:
        text = str(java.toString())
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        return " ".join(lines[:2])
    return "".join(traceback.format_exception_only(exc)).strip().splitlines()[-1]


class _Tail:
    """Passes writes through to stderr and keeps the last line (argparse explains itself there)."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.last = ""

    def write(self, text: str) -> int:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if lines:
            self.last = lines[-1].strip()
        return self.stream.write(text)

    def __getattr__(self, name):
        return getattr(self.stream, name)


def main() -> None:
    error_file, job, *args = sys.argv[1:]
    error_path = Path(error_file)
    error_path.unlink(missing_ok=True)
    sys.argv = [job, *args]
    sys.path.insert(0, str(Path(job).resolve().parent))
    sys.stderr = tail = _Tail(sys.stderr)
    try:
        runpy.run_path(job, run_name="__main__")
    except SystemExit as exc:
        if exc.code not in (0, None):
            said = exc.code if isinstance(exc.code, str) else tail.last or f"exit code {exc.code}"
            error_path.write_text(said)
        raise
    except BaseException as exc:
        error_path.write_text(reason(exc))
        raise


if __name__ == "__main__":
    main()
