"""Readiness: the one loop that brings services up, for the native and the compose runtime alike.

Modelled on testcontainers' wait strategies (one strategy for a process or a container, and a
target that exited before it was ready fails at once). One ``Deadline`` covers the whole ``up``:

- a service starts once what it ``starts_after`` is ready (the runtime's ``start_service``);
- every started service is probed, all in parallel, so a slow probe never delays another start;
- a service counts as ready only when its probe passes AND everything it ``depends_on`` is ready;
  then its ``after_ready`` runs;
- one that is gone before it is ready (its process, its container) fails at once;
- on timeout, the error names the service, its probe, the last thing the probe saw and its log.

This loop keeps its own ``Deadline`` rounds instead of ``polling.poll_until`` because its timeout
message names whichever service is still pending, not one fixed ``what``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from lakectl.errors import ServiceUnavailable
from lakectl.polling import Deadline
from lakectl.runtime.base import Runtime, ServiceEvent, ServiceSpec

POLL_INTERVAL_S = 0.2
# a probe gets at most this long per round (less when the deadline is nearer)
PROBE_BUDGET_S = 2.0


def bring_up(target: Runtime, services: Sequence[ServiceSpec], timeout: float,
             progress: Callable[[str], None]) -> None:
    """Start ``services`` (dependencies first, as resolve_order lists them) and return once every one
    is ready; ServiceUnavailable when one exits before, or the deadline passes first. The runtime
    supplies the parts that differ: ``start_service``, ``exited`` and ``log_location``.

    ``progress`` hears a ``ServiceEvent`` (a str: "kafka ready") for every service as it goes from
    waiting to starting to ready (or failed), with the seconds since this ``up`` began."""
    deadline = Deadline(timeout)  # one deadline for the whole stack, shared by every probe

    def event(spec: ServiceSpec, state: str, detail: str = "") -> None:
        progress(ServiceEvent(spec.name, state, deadline.seconds - deadline.remaining(), detail))

    pending = list(services)
    for spec in pending:
        event(spec, "waiting")
    started: set[str] = set()
    ready: set[str] = set()
    last_seen: dict[str, str] = {}
    try:
        _rounds(target, deadline, pending, started, ready, last_seen, event)
    except ServiceUnavailable as exc:
        for spec in pending:
            event(spec, "failed", exc.one_line())
        raise


def _rounds(target: Runtime, deadline: Deadline, pending: list[ServiceSpec], started: set[str], ready: set[str],
            last_seen: dict[str, str], event: Callable[..., None]) -> None:
    stack = target.stack
    while pending:
        for spec in pending:
            if spec.name not in started and all(dep in ready for dep in spec.start_dependencies):
                if target.start_service(spec):
                    event(spec, "starting")
                started.add(spec.name)
        # answering is not enough: what a service depends on must be ready before it counts as ready
        probing = [spec for spec in pending if spec.name in started and all(dep in ready for dep in spec.depends_on)]
        budget = min(PROBE_BUDGET_S, max(0.2, deadline.remaining()))
        with ThreadPoolExecutor(max_workers=max(1, len(probing))) as pool:
            results = list(pool.map(lambda spec, t=budget: spec.probe(stack)(t), probing))
        for spec, result in zip(probing, results, strict=True):
            last_seen[spec.name] = result.detail
            if result.ok:
                if spec.after_ready:
                    spec.after_ready(stack)
                ready.add(spec.name)
                pending.remove(spec)
                event(spec, "ready")
        waiting = [spec for spec in pending if spec.name in started]
        gone = target.exited(waiting) if waiting else {}
        if gone:
            name = next(spec.name for spec in waiting if spec.name in gone)
            raise ServiceUnavailable(gone[name])
        if pending and deadline.expired:
            spec = pending[0]
            waiting_on = [d for d in spec.depends_on if d not in ready]
            observed = last_seen.get(spec.name, f"not started, waiting for {', '.join(waiting_on)}")
            raise ServiceUnavailable(
                f"{spec.name} not ready after {deadline.seconds:.0f}s "
                f"(probe: {spec.probe(stack).description}; last: {observed}; log: {target.log_location(spec)})"
            )
        if pending:
            time.sleep(min(POLL_INTERVAL_S, max(0.01, deadline.remaining())))  # the poll interval
