"""`lakectl --help` must not import heavy or service-client modules (P5: fast start)."""

import subprocess
import sys

HEAVY = ["pyflink", "dbt", "pandas", "trino", "confluent_kafka", "fastavro", "python_on_whales",
         "pydantic_settings", "httpx", "psutil", "pyarrow", "superset", "selenium", "playwright", "yaml",
         "lakectl.runtime.services.superset", "kubernetes", "urllib3"]


def test_help_imports_no_heavy_module():
    code = (
        "import sys\n"
        "from lakectl.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n"
        f"loaded = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print('LOADED', loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Usage: lakectl" in done.stdout


def test_subcommand_help_is_light_too():
    code = (
        "import sys\nfrom lakectl.cli.main import main\n"
        "for args in (['produce', '--help'], ['schema', 'check', '--help'], ['up', '--help']):\n"
        "    try:\n        main(args)\n    except SystemExit:\n        pass\n"
        f"loaded = [m for m in {HEAVY!r} if m in sys.modules]\nsys.exit(1 if loaded else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
