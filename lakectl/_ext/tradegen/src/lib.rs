//! Synthetic stock trades generated and Avro-encoded in Rust (Confluent wire format), for `lakectl produce`.
//!
//! The Python generator (`lakectl/trades.py`) costs ~13 µs a record to build and encode with fastavro; this
//! one costs well under 1 µs, so the producer loop only hands bytes to librdkafka. Values follow the same
//! distributions as `lakectl/trades.py` (a random walk per symbol in ticks of 0.0001, round lots 80% of the
//! time, side and exchange from the sequence number) and the bytes equal fastavro's for the same record.
//!
//! apache-avro parses the schema, resolves its names and encodes the defaults of fields outside the trade
//! once; the trade fields are then written straight into the buffer by a plan made per schema (one step a
//! field, union branch indexes and fixed strings pre-encoded), with no per-record `Value` tree to build.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use apache_avro::schema::{InnerDecimalSchema, NamesRef, RecordField, ResolvedSchema};
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::Schema;
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

create_exception!(
    lakectl_tradegen,
    UnsupportedSchema,
    PyValueError,
    "The schema has a field this generator cannot fill (Python's fastavro path may still handle it)."
);

const SYMBOLS: [(&str, f64); 16] = [
    ("AAPL", 189.50), ("MSFT", 415.20), ("NVDA", 875.30), ("AMZN", 178.10), ("GOOGL", 151.70),
    ("META", 492.40), ("TSLA", 175.90), ("JPM", 196.30), ("V", 276.80), ("XOM", 118.60),
    ("BRK.B", 408.10), ("UNH", 492.00), ("JNJ", 151.90), ("WMT", 60.30), ("PG", 160.40), ("MA", 467.20),
];
const EXCHANGES: [&str; 5] = ["XNAS", "XNYS", "BATS", "ARCX", "IEXG"];
const SIDES: [&str; 2] = ["BUY", "SELL"];
const TICKS_PER_UNIT: i64 = 10_000;
const TICK_DECIMALS: usize = 4; // a tick is 0.0001
const MAGIC: u8 = 0;

/// Where a string-valued trade field takes its value from.
#[derive(Clone, Copy)]
enum Source {
    Symbol,
    Exchange,
    Side,
}

/// Where an integer trade field takes its value from.
#[derive(Clone, Copy)]
enum Number {
    Size,
    EventTime,
}

/// One field's encoding step. `lead` is the union branch index (empty when the field is no union).
enum Step {
    TradeId { lead: Vec<u8> },
    /// the complete encoding of each possible value, in the order of the source list
    Choice { source: Source, encoded: Vec<Vec<u8>> },
    /// decimal: the unscaled value is the tick times 10^(scale - 4); `fixed` is the size of a fixed decimal
    Price { lead: Vec<u8>, factor: i128, precision: usize, fixed: Option<usize> },
    Integer { lead: Vec<u8>, number: Number },
    /// a field outside the trade, written with its default (encoded once by apache-avro)
    Constant(Vec<u8>),
}

/// Avro's zig-zag varint, for int and long alike (an int's bytes equal the same long's).
fn write_long(buffer: &mut Vec<u8>, value: i64) {
    let mut z = ((value << 1) ^ (value >> 63)) as u64;
    while z >= 0x80 {
        buffer.push((z as u8) | 0x80);
        z >>= 7;
    }
    buffer.push(z as u8);
}

fn lead(branch: Option<usize>) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(index) = branch {
        write_long(&mut bytes, index as i64);
    }
    bytes
}

/// xoshiro256++ seeded through splitmix64: fast, and good enough for synthetic data.
struct Rng {
    s: [u64; 4],
}

impl Rng {
    fn new(seed: u64) -> Self {
        let mut state = seed;
        let mut split = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Self { s: [split(), split(), split(), split()] }
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in 0..n (Lemire's multiply-shift; the bias is below 2^-58 for these n).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in a..=b, like Python's random.randint.
    fn randint(&mut self, a: i64, b: i64) -> i64 {
        a + self.below((b - a + 1) as u64) as i64
    }

    /// Uniform in [0, 1), like Python's random.random.
    fn random(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// The mutable part of a generator: the random walk and the sequence.
struct Walk {
    rng: Rng,
    ticks: [i64; SYMBOLS.len()],
    prefix: String,
    next: u64,
    step: u64,
}

/// One trade's raw values, before they are shaped for the schema.
struct Trade {
    n: u64,
    symbol: usize,
    tick: i64,
    size: i64,
    event_time: i64,
}

impl Walk {
    fn next_trade(&mut self, event_time: i64) -> Trade {
        let symbol = self.rng.below(SYMBOLS.len() as u64) as usize;
        let tick = (self.ticks[symbol] + self.rng.randint(-25, 25)).max(TICKS_PER_UNIT);
        self.ticks[symbol] = tick;
        let size = if self.rng.random() < 0.8 { self.rng.randint(1, 50) * 100 } else { self.rng.randint(1, 99) };
        let n = self.next;
        self.next += self.step;
        Trade { n, symbol, tick, size, event_time }
    }
}

fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A decimal's unscaled value as fastavro writes it: minimal big-endian two's complement (bytes, with
/// the length first) or sign-extended to the size of a fixed. Returns false when it does not fit the fixed.
fn write_unscaled(buffer: &mut Vec<u8>, value: i128, fixed: Option<usize>) -> bool {
    let bytes = value.to_be_bytes();
    let mut start = 0;
    while start < bytes.len() - 1 {
        let (byte, next) = (bytes[start], bytes[start + 1]);
        if (byte == 0x00 && next & 0x80 == 0) || (byte == 0xFF && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    let minimal = &bytes[start..];
    match fixed {
        None => {
            write_long(buffer, minimal.len() as i64);
            buffer.extend_from_slice(minimal);
        }
        Some(size) => {
            if minimal.len() > size {
                return false;
            }
            let sign = if value < 0 { 0xFF } else { 0x00 };
            buffer.extend(std::iter::repeat_n(sign, size - minimal.len()));
            buffer.extend_from_slice(minimal);
        }
    }
    true
}

fn digits(mut value: i128) -> usize {
    value = value.abs();
    let mut count = 1;
    while value >= 10 {
        value /= 10;
        count += 1;
    }
    count
}

fn unsupported(message: String) -> PyErr {
    UnsupportedSchema::new_err(message)
}

/// Follow a named reference to the schema it names.
fn deref<'a>(schema: &'a Schema, names: &'a NamesRef<'a>) -> &'a Schema {
    match schema {
        Schema::Ref { name } => names.get(name).copied().unwrap_or(schema),
        other => other,
    }
}

const TRADE_FIELDS: [&str; 7] = ["trade_id", "symbol", "price", "size", "side", "exchange", "event_time"];

fn symbol_names() -> Vec<&'static str> {
    SYMBOLS.iter().map(|(s, _)| *s).collect()
}

/// The encoding of each value of a string-valued field: an Avro string, or an index into an enum that
/// has every one of the values.
fn choice_step(source: Source, schema: &Schema, lead: &[u8]) -> Option<Step> {
    let symbols = symbol_names();
    let values: &[&str] = match source {
        Source::Symbol => &symbols,
        Source::Exchange => &EXCHANGES,
        Source::Side => &SIDES,
    };
    let encoded = values
        .iter()
        .map(|value| {
            let mut bytes = lead.to_vec();
            match schema {
                Schema::String => {
                    write_long(&mut bytes, value.len() as i64);
                    bytes.extend_from_slice(value.as_bytes());
                }
                Schema::Enum(e) => write_long(&mut bytes, e.symbols.iter().position(|s| s == value)? as i64),
                _ => return None,
            }
            Some(bytes)
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Step::Choice { source, encoded })
}

/// How to write a trade field whose (non-union) schema is `schema`; None when the type does not fit.
fn trade_step(name: &str, schema: &Schema, branch: Option<usize>) -> Option<Step> {
    let lead = lead(branch);
    match name {
        "trade_id" => matches!(schema, Schema::String).then_some(Step::TradeId { lead }),
        "symbol" => choice_step(Source::Symbol, schema, &lead),
        "exchange" => choice_step(Source::Exchange, schema, &lead),
        "side" => choice_step(Source::Side, schema, &lead),
        "price" => match schema {
            Schema::Decimal(d) if d.scale >= TICK_DECIMALS && d.scale - TICK_DECIMALS <= 30 => Some(Step::Price {
                lead,
                factor: 10i128.pow((d.scale - TICK_DECIMALS) as u32),
                precision: d.precision,
                fixed: match &d.inner {
                    InnerDecimalSchema::Bytes => None,
                    InnerDecimalSchema::Fixed(f) => Some(f.size),
                },
            }),
            _ => None,
        },
        "size" => matches!(schema, Schema::Long | Schema::Int).then_some(Step::Integer { lead, number: Number::Size }),
        "event_time" => matches!(schema, Schema::Long | Schema::TimestampMillis | Schema::LocalTimestampMillis)
            .then_some(Step::Integer { lead, number: Number::EventTime }),
        _ => None,
    }
}

fn plan_field(field: &RecordField, root: &Schema, names: &NamesRef<'_>) -> PyResult<Step> {
    let schema = deref(&field.schema, names);
    if TRADE_FIELDS.contains(&field.name.as_str()) {
        // a union takes the value in its first branch that fits (fastavro picks the first that validates)
        let step = match schema {
            Schema::Union(union) => union
                .variants()
                .iter()
                .enumerate()
                .find_map(|(i, branch)| trade_step(&field.name, deref(branch, names), Some(i))),
            other => trade_step(&field.name, other, None),
        };
        return step.ok_or_else(|| {
            unsupported(format!(
                "field {:?} has a type the trade generator cannot fill: {}",
                field.name,
                serde_json::to_string(&field.schema).unwrap_or_default()
            ))
        });
    }
    let Some(default) = &field.default else {
        return Err(unsupported(format!("field {:?} is required (no default) and is not a trade field", field.name)));
    };
    let cannot = |e: apache_avro::Error| unsupported(format!("default of field {:?} does not fit its type: {e}", field.name));
    let value = Value::try_from(default.clone()).and_then(|v| v.resolve_with_names(&field.schema, names)).map_err(cannot)?;
    let resolved = ResolvedSchema::new(root).map_err(cannot)?;
    let writer = GenericDatumWriter::builder(&field.schema).resolved_schemata(resolved).build().map_err(cannot)?;
    Ok(Step::Constant(writer.write_value_to_vec(value).map_err(cannot)?))
}

/// Synthetic trades for one Avro schema, as (key, Confluent-framed value) pairs.
///
/// ids are `{prefix}-{n}` for n = start, start+step, ...; the key is the symbol (as in lakectl/trades.py).
#[pyclass(module = "lakectl_tradegen")]
struct TradeGenerator {
    plan: Vec<Step>,
    header: [u8; 5],
    walk: Walk,
}

impl TradeGenerator {
    fn encode(&self, trade: &Trade, buffer: &mut Vec<u8>, scratch: &mut String) -> PyResult<()> {
        buffer.extend_from_slice(&self.header);
        for step in &self.plan {
            match step {
                Step::TradeId { lead } => {
                    buffer.extend_from_slice(lead);
                    scratch.clear();
                    let _ = write!(scratch, "{}-{}", self.walk.prefix, trade.n);
                    write_long(buffer, scratch.len() as i64);
                    buffer.extend_from_slice(scratch.as_bytes());
                }
                Step::Choice { source, encoded } => {
                    let index = match source {
                        Source::Symbol => trade.symbol,
                        Source::Exchange => (trade.n % 5) as usize,
                        Source::Side => (trade.n & 1) as usize,
                    };
                    buffer.extend_from_slice(&encoded[index]);
                }
                Step::Price { lead, factor, precision, fixed } => {
                    if digits(i128::from(trade.tick)) > *precision {
                        return Err(PyValueError::new_err(format!(
                            "price tick {} has more digits than the schema's precision {precision}",
                            trade.tick
                        )));
                    }
                    buffer.extend_from_slice(lead);
                    if !write_unscaled(buffer, i128::from(trade.tick) * factor, *fixed) {
                        return Err(PyValueError::new_err("price does not fit the schema's fixed decimal size"));
                    }
                }
                Step::Integer { lead, number } => {
                    buffer.extend_from_slice(lead);
                    write_long(buffer, match number {
                        Number::Size => trade.size,
                        Number::EventTime => trade.event_time,
                    });
                }
                Step::Constant(bytes) => buffer.extend_from_slice(bytes),
            }
        }
        Ok(())
    }
}

#[pymethods]
impl TradeGenerator {
    #[new]
    #[pyo3(signature = (schema_json, schema_id, prefix, start=0, step=1, seed=None))]
    fn new(schema_json: &str, schema_id: u32, prefix: String, start: u64, step: u64, seed: Option<u64>) -> PyResult<Self> {
        if step == 0 {
            return Err(PyValueError::new_err("step must be at least 1"));
        }
        let schema = Schema::parse_str(schema_json)
            .map_err(|e| unsupported(format!("not a schema apache-avro can parse: {e}")))?;
        let resolved = ResolvedSchema::new(&schema)
            .map_err(|e| unsupported(format!("cannot resolve the schema's names: {e}")))?;
        let names = resolved.get_names();
        let Schema::Record(record) = deref(&schema, names) else {
            return Err(unsupported("the schema is not a record".to_owned()));
        };
        let plan = record.fields.iter().map(|f| plan_field(f, &schema, names)).collect::<PyResult<Vec<_>>>()?;
        let mut header = [MAGIC, 0, 0, 0, 0];
        header[1..].copy_from_slice(&schema_id.to_be_bytes());
        let seed = seed.unwrap_or_else(|| {
            let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
            nanos ^ (u64::from(std::process::id()) << 32) ^ start
        });
        let ticks = SYMBOLS.map(|(_, price)| (price * TICKS_PER_UNIT as f64) as i64);
        Ok(Self { plan, header, walk: Walk { rng: Rng::new(seed), ticks, prefix, next: start, step } })
    }

    /// The next `count` trades as a list of (key, value) bytes pairs: key = symbol, value = wire format.
    fn pairs<'py>(&mut self, py: Python<'py>, count: usize) -> PyResult<Bound<'py, PyList>> {
        let keys: Vec<Bound<'py, PyBytes>> = SYMBOLS.iter().map(|(s, _)| PyBytes::new(py, s.as_bytes())).collect();
        let list = PyList::empty(py);
        let mut buffer: Vec<u8> = Vec::with_capacity(256);
        let mut scratch = String::with_capacity(self.walk.prefix.len() + 21);
        for _ in 0..count {
            let trade = self.walk.next_trade(now_millis());
            buffer.clear();
            self.encode(&trade, &mut buffer, &mut scratch)?;
            let value = PyBytes::new(py, &buffer);
            list.append(PyTuple::new(py, [keys[trade.symbol].clone().into_any(), value.into_any()])?)?;
        }
        Ok(list)
    }

    /// The sequence number the next trade gets.
    #[getter]
    fn next_n(&self) -> u64 {
        self.walk.next
    }
}

#[pymodule]
fn lakectl_tradegen(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("UnsupportedSchema", m.py().get_type::<UnsupportedSchema>())?;
    m.add_class::<TradeGenerator>()?;
    Ok(())
}
