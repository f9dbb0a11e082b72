"""``lakectl produce``: schema-checked Avro records into Kafka; rejects to ``<topic>.dlq``.

sources.py (synthetic trades, JSON Lines; synthetic.py: records of any schema) -> encoder.py (validate,
Confluent wire format) -> sender.py (one producer + the dead-letter topic), driven by loop.py (pacing,
deadline, stop on a signal, worker processes); run.py is the use case and sums the workers' results.
"""

from lakectl.ops.produce.loop import STOP, default_workers, stop_on_signals
from lakectl.ops.produce.run import ProduceResult, produce

__all__ = ["STOP", "ProduceResult", "default_workers", "produce", "stop_on_signals"]
