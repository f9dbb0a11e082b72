"""Compose vs native in one run on one machine: image builds, warm `up`, RSS per service, the demo's stages.

The baseline is the native runtime; every compose figure that has a native counterpart is reported with
its ratio (compose / native). The Docker engine is the one `make test-compose` uses, handled exactly as
tests/compose/conftest.py does: Debian's docker.io and debootstrap installed when missing, a dockerd of
our own (own data root under <cache>/compose-test-engine, no bridge, no firewall changes), a debootstrap
Debian 12 imported as lakectl/debian:bookworm as the images' base, and the engine ALWAYS stopped at the
end (firewall and links checked). So it needs root (or sudo) and must not run while `make test-compose`
runs (they share the engine); it refuses to start when that engine is already running.

1. Images: `lakectl image build` as found (the first build; with --cold, after every lakectl image, the
   engine's build cache and the staging caches <cache>/images/* were removed - the host's download
   caches are kept), then again with every tag present (warm: tag look-ups only), then
   `image build FAMILY --rebuild` (rebuild from warm staging and Docker's layer cache; --rebuild also
   rebuilds the base, from that cache). Per family: seconds and size; the base's size; the sum of
   unique layers (the base plus what each family adds to it).
2. `up`, warm: one untimed up/down per runtime first (databases created, class-data-sharing archives
   written), then --rounds rounds, each `lakectl down` + timed `lakectl up -o json` natively, then the
   same in compose (never both stacks up at once): wall seconds, when each service was ready, the
   machine's CPU seconds (all cores, from /proc/stat) during the `up`; the median and compose/native.
3. RSS after the last round's `up` and --idle seconds: natively `lakectl status` (rss_mb: the process
   group's RSS); in compose both `docker stats --no-stream` (MemUsage: the container's cgroup memory
   less inactive file cache, what Docker shows) and the RSS of the container's processes read on the
   host as natively (psutil); ratios to native of each, and totals.
4. `lakectl demo --count N` on each runtime (its own `up` on the warm state, stopped by the demo):
   stage_seconds side by side with ratios (skipped with --skip-demo).

Each runtime has its own project dir (own state dir) and ports: native at each service's own + 15000,
compose at + 16000 (tests/compose's). Both are purged (`down --purge`) at the end, then the engine stops.
The download cache is the user's (LAKECTL_CACHE_DIR or ~/.cache/lakectl): run `make demo` first.

Usage: python bench/compose.py [--rounds N] [--count N] [--cold] [--skip-demo] [--idle S] [--family F]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from common import REPO, run_up, save_result

sys.path.insert(0, str(REPO))  # tests.*: the engine, ports and Stack of the test suites
from tests.compose.conftest import COMPOSE_PORTS, Engine, _fresh_module
from tests.conftest import Completed, Stack, native_ports, private_ports

IMAGE_BASE = "lakectl/debian:bookworm"  # the debootstrap base fresh.base_image imports, as tests/compose's
NATIVE_PORTS = private_ports({name: port + 15000 for name, port in native_ports().items()}, 0)
TIMEOUT = 600  # the profile's readiness deadline, as tests/compose's
BASE_BUILT = re.compile(r"built (lakectl/base:\S+) in (\d+(?:\.\d+)?) s")
CONTAINER = re.compile(r"^lakectl-(.+)-\d+$")  # compose's container names: <project>-<service>-<n>
UNITS = {"B": 1, "KB": 1e3, "KIB": 2**10, "MB": 1e6, "MIB": 2**20, "GB": 1e9, "GIB": 2**30, "TB": 1e12, "TIB": 2**40}


def say(message: str) -> None:
    print(f"[compose-bench] {datetime.now():%H:%M:%S} {message}", file=sys.stderr, flush=True)


def ok(stack: Stack, *args: str, timeout: float = 1800) -> Completed:
    done = stack.lakectl(*args, timeout=timeout)
    if done.code != 0:
        raise SystemExit(f"lakectl {' '.join(args)} ({stack.project.name}) exited {done.code}:\n"
                         f"{done.err.strip()[-3000:]}")
    return done


def ratio(compose: float | None, native: float | None) -> float | None:
    return round(compose / native, 2) if compose is not None and native else None


def machine_cpu_s() -> float:
    """CPU seconds the whole machine has been busy (all cores; /proc/stat less idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]  # user nice system idle iowait irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")


def bytes_of(text: str) -> float:
    """'1.5GiB', '300MB', '12kB' -> bytes (docker's human sizes)."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([kKMGT]?i?B)\s*", text)
    if not match:
        raise ValueError(f"not a size: {text!r}")
    return float(match.group(1)) * UNITS[match.group(2).upper()]


def project(kind: str, root: Path, ports: dict[str, int], engine: Engine | None) -> Stack:
    """A project dir whose lakectl.toml profile runs ``kind`` on ``ports`` (nothing started)."""
    directory = root / kind
    directory.mkdir()
    base = f'image_base = "{IMAGE_BASE}"\n' if kind == "compose" else ""
    lines = "\n".join(f'"{k}" = {v}' for k, v in ports.items())
    (directory / "lakectl.toml").write_text(
        f'[profiles.local]\nruntime = "{kind}"\ntimeout = {TIMEOUT}\n{base}\n[profiles.local.ports]\n{lines}\n')
    stack = Stack(directory)
    if engine is not None:
        stack.env.update(engine.env)
    return stack


# ---- 1. images ---------------------------------------------------------------------------------------------

def make_cold(stack: Stack, engine: Engine) -> dict:
    """Every lakectl image and the engine's build cache gone, and the staging caches (not the download caches)."""
    families = [row["family"] for row in ok(stack, "image", "list", "-o", "json").json()["images"]]
    for _ in range(3):  # family images first: the base cannot go while images built on it remain
        rows = [line.split(" ", 1) for line in engine.lines("image", "ls", "--filter", "label=lakectl.image",
                                                                "--format", "{{.ID}} {{.Repository}}:{{.Tag}}")]
        if not rows:
            break
        refs = [ident if "<none>" in ref else ref for ident, ref in rows]
        for ref in sorted(set(refs), key=lambda r: r.startswith("lakectl/base:")):
            engine.docker("image", "rm", "-f", ref)
    engine.docker("image", "prune", "-f")  # the classic builder's dangling intermediate images
    engine.docker("builder", "prune", "-f")
    staging = lakectl_cache() / "images"
    for name in [*families, "base-context"]:
        shutil.rmtree(staging / name, ignore_errors=True)
    left = engine.lines("image", "ls", "-q", "--filter", "label=lakectl.image")
    return {"families_cleared": families, "images_left": len(left)}


def lakectl_cache() -> Path:
    return Path(os.environ.get("LAKECTL_CACHE_DIR") or Path.home() / ".cache" / "lakectl").expanduser()


def build(stack: Stack, *args: str) -> dict:
    """`lakectl image build ARGS`: wall seconds, the base's build seconds when it was built, per family."""
    started = time.perf_counter()
    done = ok(stack, "image", "build", *args, "-o", "json", timeout=7200)
    wall = time.perf_counter() - started
    images = {row["family"]: {"built": row["built"], "seconds": row["seconds"], "size_mb": row["size_mb"],
                              "image": row["image"]} for row in done.json()["images"]}
    base = BASE_BUILT.search(done.err)
    return {"wall_s": round(wall, 1), "base_built_s": float(base.group(2)) if base else None,
            "families_s": round(sum(row["seconds"] for row in images.values()), 1),
            "built": sorted(family for family, row in images.items() if row["built"]), "images": images}


def image_mb(engine: Engine, ref: str) -> float | None:
    done = engine.docker("image", "inspect", "--format", "{{.Size}}", ref)
    return round(int(done.stdout.strip()) / 1e6, 1) if done.returncode == 0 and done.stdout.strip() else None


def engine_images_mb(engine: Engine) -> float | None:
    """All images on the engine as `docker system df` counts them (shared layers once)."""
    done = engine.docker("system", "df", "--format", "{{json .}}")
    for line in done.stdout.splitlines() if done.returncode == 0 else []:
        row = json.loads(line)
        if row.get("Type") == "Images":
            try:
                return round(bytes_of(row["Size"]) / 1e6, 1)
            except ValueError:
                return None
    return None


def measure_images(stack: Stack, engine: Engine, cold: bool, family: str) -> dict:
    result: dict = {"cold": cold}
    if cold:
        say("cold: removing lakectl's images, the build cache and the staging caches")
        result["cleared"] = make_cold(stack, engine)
    say("image build (" + ("cold" if cold else "as found: builds only what is missing") + ")")
    result["first"] = build(stack)
    say("image build again (warm: every tag present)")
    result["warm"] = build(stack)
    say(f"image build {family} --rebuild (rebuild from warm staging)")
    result["rebuild_family"] = {"family": family, **build(stack, family, "--rebuild")}
    from types import SimpleNamespace

    from lakectl.runtime.images import base_tag

    # the tag lakectl computes for this profile's base (it reads only settings.image_base of the stack)
    base = base_tag(SimpleNamespace(settings=SimpleNamespace(image_base=IMAGE_BASE)))
    base_mb = image_mb(engine, base)
    sizes = {name: row["size_mb"] for name, row in result["warm"]["images"].items()}
    result["sizes_mb"] = {"base": base_mb, **sizes}
    if base_mb and all(sizes.values()):  # every family is FROM the base: its own layers are size - base
        result["unique_layers_mb"] = round(base_mb + sum(size - base_mb for size in sizes.values()), 1)
    result["engine_images_mb"] = engine_images_mb(engine)  # the debootstrap base and older tags included
    return result


# ---- 2. up -------------------------------------------------------------------------------------------------

def timed_up(stack: Stack) -> dict:
    """`lakectl up -o json` (all default services): wall seconds, when each service said it was ready, and the
    machine's CPU seconds meanwhile."""
    cpu = machine_cpu_s()
    wall, ready, out = run_up([sys.executable, "-m", "lakectl"], stack.project, stack.env)
    services = [s["name"] for s in json.loads(out)["services"] if s.get("state") == "running"]
    return {"wall_s": round(wall, 1), "machine_cpu_s": round(machine_cpu_s() - cpu, 1), "services": len(services),
            "ready_at_s": ready}


def measure_up(stacks: dict[str, Stack], engine: Engine, rounds: int, idle: float) -> tuple[dict, dict]:
    """Warm `up` of each runtime (rounds interleaved, one stack up at a time), and the RSS after the last."""
    result: dict = {}
    for kind, stack in stacks.items():
        say(f"{kind}: first up/down (state and class-data-sharing archives)")
        first = timed_up(stack)
        ok(stack, "down")
        result[kind] = {"first_up_s": first["wall_s"], "rounds": []}
    memory: dict = {}
    for number in range(1, rounds + 1):
        for kind, stack in stacks.items():
            ok(stack, "down")
            say(f"{kind}: up, round {number}/{rounds}")
            result[kind]["rounds"].append(timed_up(stack))
            if number == rounds:
                say(f"{kind}: idle {idle:.0f} s, then RSS")
                time.sleep(idle)  # JVMs settle after start-up (a measurement pause, not a wait on a service)
                memory[kind] = native_rss(stack) if kind == "native" else compose_memory(engine)
            ok(stack, "down")
    for kind in stacks:
        walls = [r["wall_s"] for r in result[kind]["rounds"]]
        result[kind]["wall_s"] = walls
        result[kind]["median_s"] = round(statistics.median(walls), 1)
        result[kind]["median_machine_cpu_s"] = round(statistics.median(
            r["machine_cpu_s"] for r in result[kind]["rounds"]), 1)
    result["ratio"] = ratio(result["compose"]["median_s"], result["native"]["median_s"])
    result["cpu_ratio"] = ratio(result["compose"]["median_machine_cpu_s"], result["native"]["median_machine_cpu_s"])
    return result, memory


# ---- 3. RSS ------------------------------------------------------------------------------------------------

def native_rss(stack: Stack) -> dict[str, float]:
    done = stack.lakectl("status", "-o", "json")
    if done.code not in (0, 3):  # 3: a started service is unhealthy; its RSS still counts
        raise SystemExit(f"lakectl status exited {done.code}: {done.err.strip()[-2000:]}")
    return {s["name"]: s["rss_mb"] for s in done.json()["services"] if s.get("rss_mb") is not None}


def compose_memory(engine: Engine) -> dict[str, dict[str, float | None]]:
    """Per service: `docker stats` MemUsage, and the RSS of the container's processes as the host sees them."""
    memory: dict[str, dict[str, float | None]] = {}
    for line in engine.lines("stats", "--no-stream", "--format", "{{json .}}"):
        row = json.loads(line)
        match = CONTAINER.match(row.get("Name", ""))
        if not match:
            continue
        usage = bytes_of(row["MemUsage"].split("/")[0])
        pid = engine.docker("inspect", "--format", "{{.State.Pid}}", row["Name"]).stdout.strip()
        memory[match.group(1)] = {"stats_mb": round(usage / 2**20, 1), "rss_mb": process_tree_mb(int(pid or 0))}
    return dict(sorted(memory.items()))


def process_tree_mb(pid: int) -> float | None:
    """RSS of a process and all its descendants (a container's, read on the host: same kernel, as natively)."""
    import psutil

    if pid <= 0:  # not running
        return None
    try:
        top = psutil.Process(pid)
        procs = [top, *top.children(recursive=True)]
    except (ValueError, psutil.Error):
        return None
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return round(total / 2**20, 1)


def rss_table(memory: dict) -> dict:
    native, compose = memory.get("native", {}), memory.get("compose", {})
    rows = {}
    for name in sorted(set(native) | set(compose), key=lambda n: -(native.get(n) or 0)):
        stats = compose.get(name, {}).get("stats_mb")
        rss = compose.get(name, {}).get("rss_mb")
        rows[name] = {"native_mb": native.get(name), "compose_stats_mb": stats, "compose_rss_mb": rss,
                      "stats_ratio": ratio(stats, native.get(name)), "rss_ratio": ratio(rss, native.get(name))}
    totals = {key: round(sum(row[key] or 0 for row in rows.values()), 1)
              for key in ("native_mb", "compose_stats_mb", "compose_rss_mb")}
    for key, ratio_key in (("compose_stats_mb", "stats_ratio"), ("compose_rss_mb", "rss_ratio")):
        both = [row for row in rows.values() if row[key] is not None and row["native_mb"]]  # like for like
        totals[ratio_key] = ratio(sum(row[key] for row in both), sum(row["native_mb"] for row in both))
    return {"services": rows, "total": totals}


# ---- 4. demo -----------------------------------------------------------------------------------------------

def demo(stack: Stack, count: int) -> dict:
    started = time.perf_counter()
    report = ok(stack, "demo", "--count", str(count), "-o", "json", timeout=3600).json()
    complete = report["bronze_iceberg_rows"] == report["bronze_delta_rows"] == report["silver_rows"] == count
    return {"wall_s": round(time.perf_counter() - started, 1), "total_seconds": report["total_seconds"],
            "stage_seconds": report["stage_seconds"], "complete": complete, "gold_rows": report["gold_rows"]}


def measure_demo(stacks: dict[str, Stack], count: int) -> dict:
    result: dict = {"count": count}
    for kind, stack in stacks.items():
        ok(stack, "down")
        say(f"{kind}: demo --count {count}")
        result[kind] = demo(stack, count)
    native, compose = result["native"]["stage_seconds"], result["compose"]["stage_seconds"]
    result["stage_ratio"] = {stage: ratio(compose.get(stage), seconds) for stage, seconds in native.items()}
    result["total_ratio"] = ratio(result["compose"]["total_seconds"], result["native"]["total_seconds"])
    return result


# ---- the run -----------------------------------------------------------------------------------------------

def cell(value) -> str:
    return "-" if value is None else str(value)


def times(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def summary(result: dict) -> str:
    out = []
    images = result.get("images")
    if images:
        out.append(f"images ({'cold' if images['cold'] else 'first build as found'}): "
                   f"first {images['first']['wall_s']} s (built: {', '.join(images['first']['built']) or 'none'}), "
                   f"warm {images['warm']['wall_s']} s, {images['rebuild_family']['family']} --rebuild "
                   f"{images['rebuild_family']['wall_s']} s")
        out.append(f"  {'family':<16}{'first s':>9}{'rebuild s':>11}{'size MB':>10}")
        for family, row in images["first"]["images"].items():
            rebuilt = images["rebuild_family"]["images"].get(family, {}).get("seconds")
            out.append(f"  {family:<16}{row['seconds']:>9}{cell(rebuilt):>11}{cell(row['size_mb']):>10}")
        out.append(f"  base {cell(images['sizes_mb']['base'])} MB, unique layers "
                   f"{cell(images.get('unique_layers_mb'))} MB, engine's images {cell(images['engine_images_mb'])} MB")
    up = result.get("up")
    if up:
        out.append(f"up (warm, median of {len(up['native']['wall_s'])}): native {up['native']['median_s']} s "
                   f"{up['native']['wall_s']}, compose {up['compose']['median_s']} s {up['compose']['wall_s']}: "
                   f"{times(up['ratio'])}; machine CPU {up['native']['median_machine_cpu_s']} vs "
                   f"{up['compose']['median_machine_cpu_s']} s: {times(up['cpu_ratio'])}")
    rss = result.get("rss")
    if rss:
        out.append("RSS after up (MiB): native (process group) | compose: docker stats, its processes' RSS")
        out.append(f"  {'service':<28}{'native':>8}{'stats':>8}{'ratio':>7}{'rss':>8}{'ratio':>7}")
        for name, row in [*rss["services"].items(), ("total", rss["total"])]:
            out.append(f"  {name:<28}{cell(row['native_mb']):>8}{cell(row['compose_stats_mb']):>8}"
                       f"{times(row['stats_ratio']):>7}{cell(row['compose_rss_mb']):>8}{times(row['rss_ratio']):>7}")
    run = result.get("demo")
    if run:
        out.append(f"demo --count {run['count']}: native {run['native']['total_seconds']} s, compose "
                   f"{run['compose']['total_seconds']} s: {times(run['total_ratio'])}")
        out.append(f"  {'stage':<12}{'native':>8}{'compose':>9}{'ratio':>7}")
        for stage, seconds in run["native"]["stage_seconds"].items():
            out.append(f"  {stage:<12}{seconds:>8}{cell(run['compose']['stage_seconds'].get(stage)):>9}"
                       f"{times(run['stage_ratio'][stage]):>7}")
    if result.get("error"):
        out.append(f"FAILED: {result['error'][:500]}")
    return "\n".join(out)


def purge(stacks: dict[str, Stack], result: dict) -> None:
    for kind, stack in stacks.items():
        say(f"{kind}: down --purge")
        try:
            purged = stack.lakectl("down", "--purge", timeout=600)
        except subprocess.TimeoutExpired:
            purged = Completed(124, "", "timed out")
        if purged.code != 0:
            result.setdefault("cleanup_errors", []).append(f"{kind}: {purged.err.strip()[-500:]}")


def _terminate(signum, frame) -> None:
    raise SystemExit(128 + signum)  # a kill must still purge the stacks and stop the engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="timed warm `up`s per runtime (default 2)")
    parser.add_argument("--count", type=int, default=20_000, help="trades the demo produces (default 20000)")
    parser.add_argument("--cold", action="store_true", help="first remove lakectl's images, the engine's build "
                        "cache and the staging caches, so the first build is a cold one")
    parser.add_argument("--skip-demo", action="store_true", help="leave out the demo")
    parser.add_argument("--idle", type=float, default=30, help="seconds after `up` before RSS is read (default 30)")
    parser.add_argument("--family", default="kafka", help="the family rebuilt with --rebuild (default kafka)")
    args = parser.parse_args()
    if os.geteuid() != 0 and shutil.which("sudo") is None:
        sys.exit("starting dockerd needs root")
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    fresh = _fresh_module()
    root = lakectl_cache() / "compose-test-engine"
    if subprocess.run(["pgrep", "-f", str(root)], capture_output=True).stdout:
        sys.exit(f"an engine on {root} is running (make test-compose?): run the benchmark after it")
    fresh.ensure_host_tools()
    result: dict = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
                    "rounds": args.rounds, "native_ports": "own + 15000", "compose_ports": "own + 16000"}
    with tempfile.TemporaryDirectory(prefix="lakectl-compose-bench-") as scratch:
        try:
            with fresh.Engine(root) as inner:  # as tests/compose/conftest.py's engine fixture
                engine = Engine(inner)
                stacks = {"native": project("native", Path(scratch), NATIVE_PORTS, None),
                          "compose": project("compose", Path(scratch), COMPOSE_PORTS, engine)}
                try:
                    fresh.base_image(inner, lakectl_cache() / "fresh")
                    result["engine"] = engine.docker("version", "--format", "{{.Server.Version}}").stdout.strip()
                    result["images"] = measure_images(stacks["compose"], engine, args.cold, args.family)
                    result["up"], memory = measure_up(stacks, engine, args.rounds, args.idle)
                    result["rss"] = rss_table(memory)
                    if not args.skip_demo:
                        result["demo"] = measure_demo(stacks, args.count)
                except (Exception, SystemExit, KeyboardInterrupt) as exc:
                    result["error"] = str(exc) or type(exc).__name__
                finally:
                    purge(stacks, result)  # the compose stack while its engine still runs
        except (Exception, SystemExit, KeyboardInterrupt) as exc:  # the engine's start or stop
            result["error"] = (result.get("error", "") + f"\nengine: {exc}").strip()
        result["engine_stopped"] = not subprocess.run(["pgrep", "-f", str(root)], capture_output=True).stdout
    save_result("compose", result)
    print(summary(result), file=sys.stderr)
    if result.get("error") or not result["engine_stopped"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
