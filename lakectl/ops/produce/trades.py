"""Synthetic stock trades: a random walk per symbol, unique trade ids, event time = now.

Prices move in ticks of 0.0001 and are Decimals, matching ``schemas/trade.avsc`` (decimal(18,6)).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

SYMBOLS = {
    "AAPL": 189.50, "MSFT": 415.20, "NVDA": 875.30, "AMZN": 178.10, "GOOGL": 151.70,
    "META": 492.40, "TSLA": 175.90, "JPM": 196.30, "V": 276.80, "XOM": 118.60,
    "BRK.B": 408.10, "UNH": 492.00, "JNJ": 151.90, "WMT": 60.30, "PG": 160.40, "MA": 467.20,
}
EXCHANGES = ("XNAS", "XNYS", "BATS", "ARCX", "IEXG")
SIDES = ("BUY", "SELL")
TICKS_PER_UNIT = 10_000


def run_prefix() -> str:
    """A fresh prefix per run so trade ids never collide across runs."""
    return uuid.uuid4().hex[:12]


def generate(count: int | None, *, prefix: str, start: int = 0, step: int = 1, seed: int | None = None
             ) -> Iterator[tuple[bytes, dict]]:
    """Yield (key, trade) pairs; ids are ``{prefix}-{n}`` for n = start, start+step, ... (workers interleave)."""
    rng = random.Random(seed)
    symbols = list(SYMBOLS)
    keys = {s: s.encode() for s in symbols}
    ticks = {s: int(p * TICKS_PER_UNIT) for s, p in SYMBOLS.items()}
    decimals: dict[int, Decimal] = {}  # tick -> Decimal: building Decimals is the slow part
    n = start
    produced = 0
    choice, randint, rand = rng.choice, rng.randint, rng.random
    while count is None or produced < count:
        symbol = choice(symbols)
        tick = ticks[symbol] + randint(-25, 25)
        if tick < TICKS_PER_UNIT:
            tick = TICKS_PER_UNIT
        ticks[symbol] = tick
        price = decimals.get(tick)
        if price is None:
            price = decimals[tick] = Decimal(tick).scaleb(-4)
        yield keys[symbol], {
            "trade_id": f"{prefix}-{n}",
            "symbol": symbol,
            "price": price,
            "size": randint(1, 50) * 100 if rand() < 0.8 else randint(1, 99),
            "side": SIDES[n & 1],
            "exchange": EXCHANGES[n % 5],
            "event_time": int(time.time() * 1000),
        }
        n += step
        produced += 1
