"""Produce: where records come from. Synthetic stock trades (the Rust ``lakectl_tradegen`` or Python +
fastavro) and JSON Lines files; a new kind of source is one more class with ``open``.

A source hands out chunks: the records of the chunk encoded and ready to send, plus the rejects
(a line that is not JSON, a record that breaks the schema) bound for the dead-letter topic.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO, Any, Protocol

from lakectl.avro import WireCodec
from lakectl.errors import UsageError
from lakectl.ops.produce.encoder import Encoder, Invalid


@dataclass(frozen=True)
class Reject:
    key: bytes | None
    raw: bytes  # what the dead letter carries: the input line untouched, or the record as JSON
    reason: str
    origin: str  # "file.jsonl:12" or "synthetic"


@dataclass
class Chunk:
    records: list[tuple[bytes | None, bytes]] = field(default_factory=list)  # (key, wire bytes)
    rejects: list[Reject] = field(default_factory=list)

    @property
    def seen(self) -> int:
        """Input records this chunk used up (counted against --count)."""
        return len(self.records) + len(self.rejects)

    def add(self, encoder: Encoder, key: bytes | None, record: Any, *, validate: bool, origin: str,
            raw: bytes | None = None) -> None:
        try:
            self.records.append((key, encoder.encode(record, validate=validate)))
        except Invalid as exc:
            raw = raw if raw is not None else json.dumps(record, default=str).encode()
            self.rejects.append(Reject(key, raw, exc.reason, origin))


Read = Callable[[int], Chunk]  # read(n): the next chunk of up to n records; fewer only when the source is done


class Source(Protocol):
    """Settings of a source, picklable: ``open`` runs in the process that sends (a forked worker)."""

    def open(self, encoder: Encoder) -> Read: ...


@dataclass(frozen=True)
class SyntheticTrades:
    """Endless stock trades with ids ``{prefix}-{n}``, n = index, index + step, ... (workers interleave).

    "rust": lakectl_tradegen builds and encodes a trade in well under a microsecond and returns wire
    bytes, which go straight to librdkafka (nothing to validate: it refuses schemas it cannot fill).
    "python": lakectl.ops.produce.trades + fastavro, about 200k trades/s per core.
    """

    generator: str  # "rust" or "python"
    schema: str
    schema_id: int
    prefix: str
    index: int = 0
    step: int = 1

    def open(self, encoder: Encoder) -> Read:
        if self.generator == "rust":
            from lakectl_tradegen import TradeGenerator

            pairs = TradeGenerator(self.schema, self.schema_id, self.prefix, self.index, self.step).pairs
            return lambda n: Chunk(pairs(n))
        from lakectl.ops.produce.trades import generate

        trades = generate(None, prefix=self.prefix, start=self.index, step=self.step)

        def read(n: int) -> Chunk:
            chunk = Chunk()
            for key, trade in islice(trades, n):
                chunk.add(encoder, key, trade, validate=False, origin="synthetic")
            return chunk

        return read


@dataclass(frozen=True)
class JsonLines:
    """One record per line of a file; each is validated, bad ones go to the dead-letter topic."""

    path: Path
    key_field: str | None

    def open(self, encoder: Encoder) -> Read:
        rows = read_jsonl(self.path, self.key_field, encoder.codec.from_json_line)

        def read(n: int) -> Chunk:
            chunk = Chunk()
            for key, record, raw, origin, parse_error in islice(rows, n):
                if parse_error is not None:
                    chunk.rejects.append(Reject(key, raw, parse_error, origin))
                else:
                    chunk.add(encoder, key, record, validate=True, origin=origin, raw=raw)
            return chunk

        return read


def open_input(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise UsageError(f"input file {path} does not exist") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def read_jsonl(
    path: Path, key_field: str | None, parse: Callable[[bytes], Any] = json.loads
) -> Iterator[tuple[bytes | None, dict | None, bytes, str, str | None]]:
    """Yield (key, record or None, raw line, origin, parse error) for each non-blank line."""
    with open_input(path) as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line:
                continue
            origin = f"{path.name}:{number}"
            try:
                record = parse(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                yield None, None, line, origin, f"not JSON: {exc}"
                continue
            if not isinstance(record, dict):
                yield None, None, line, origin, f"not a JSON object but {type(record).__name__}"
                continue
            key = record.get(key_field) if key_field else None
            yield (str(key).encode() if key is not None else None), record, line, origin, None


def pick_generator(schema: str, schema_id: int) -> str:
    """Which generator makes synthetic trades: "rust" when lakectl_tradegen is installed and fills every
    field of ``schema``, else "python" (fastavro)."""
    try:
        from lakectl_tradegen import TradeGenerator, UnsupportedSchema
    except ImportError:
        return "python"
    try:
        TradeGenerator(schema, schema_id, "check", 0, 1)
    except UnsupportedSchema:
        return "python"
    return "rust"


def check_trades_fit(codec: WireCodec, subject: str) -> None:
    """UsageError unless a synthetic trade conforms to the subject's latest schema."""
    from lakectl.ops.produce.trades import generate

    _, sample = next(generate(1, prefix="check"))
    reason = codec.validation_error(sample)
    if reason:
        raise UsageError(f"synthetic trades do not fit the latest schema of {subject}: {reason}",
                         hint="use --from-file for other schemas")
