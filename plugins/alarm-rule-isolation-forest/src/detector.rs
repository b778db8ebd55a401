//! The rule's logic over a key-value state store: rows are buffered until a
//! window is full, the first windows train, every later one is scored.
//!
//! State layout (JSON values, each well under the host's per-call cap):
//! - `meta`: the keys (variables, in order), the configuration they were
//!   built with, how many windows trained, how many rows and chunks are
//!   buffered ([`Meta`]);
//! - `buf/<i>`: the buffered rows, split into chunks of at most
//!   [`CHUNK_BUDGET`] bytes each; only the last one is read and written
//!   while a window fills, all of them when it is full;
//! - `train/<i>`: the six raw statistics of every variable of training window
//!   `i` (one `[f64; 6]` per variable).
//!
//! Nothing else is stored: the scaler, the kept variables, the forest and the
//! threshold are rebuilt from the training statistics and the seed whenever a
//! window is scored, so they are bit-for-bit the same every time.

use std::collections::BTreeMap;

use nexus_plugin_sdk::{AlarmSignal, PluginError, Series, StateStore};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::{ForestConfig, MAX_KEYS};
use crate::features::{Scale, Stats, fit_scaler, scaled_features, window_stats};
use crate::forest::Forest;

/// Bytes a buffer chunk may reach, by a worst-case estimate (under 48 KiB;
/// the host refuses a value over its 64 KiB per-call cap).
pub const CHUNK_BUDGET: usize = 40_000;
/// Most buffer chunks (so a window's rows stay well within memory and time).
pub const MAX_CHUNKS: usize = 64;

/// Values are clamped to ±this, so that window statistics (variances) stay
/// finite and serializable.
pub const MAX_ABS: f64 = 1e150;
/// The JSON layout version, part of the fingerprint.
const LAYOUT: u32 = 1;
/// Worst-case JSON bytes of one f64 or i64 and its separator.
const NUMBER_BYTES: usize = 25;

/// What the state was built with; a change of any of these starts over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Fingerprint {
    layout: u32,
    window: usize,
    train_windows: usize,
    keys: Option<Vec<String>>,
}

impl Fingerprint {
    fn of(config: &ForestConfig) -> Self {
        Self { layout: LAYOUT, window: config.window, train_windows: config.train_windows, keys: config.keys.clone() }
    }
}

/// The `meta` state value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    fingerprint: Fingerprint,
    /// The variables, in feature order.
    pub keys: Vec<String>,
    /// Windows that trained so far.
    pub trained: usize,
    /// Buffer chunks (`buf/0` .. `buf/{chunks-1}`).
    pub chunks: usize,
    /// Rows in the buffer.
    pub rows: usize,
}

impl Meta {
    fn new(config: &ForestConfig) -> Self {
        Self {
            fingerprint: Fingerprint::of(config),
            keys: config.keys.clone().unwrap_or_default(),
            trained: 0,
            chunks: 0,
            rows: 0,
        }
    }
}

/// A `buf/<i>` state value: rows of the buffer, one value per key (a row
/// shorter than the keys reads as 0.0 for the missing ones).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Chunk {
    ts: Vec<i64>,
    rows: Vec<Vec<f64>>,
}

impl Chunk {
    /// Worst-case JSON bytes with one more row of `width` values.
    fn bytes_with(&self, width: usize) -> usize {
        let row = |len: usize| NUMBER_BYTES * (len + 1) + 2;
        32 + self.rows.iter().map(|r| row(r.len())).sum::<usize>() + row(width)
    }
}

/// The `meta` state key.
pub const META_KEY: &str = "meta";

/// The state key of buffer chunk `i`.
pub fn chunk_key(i: usize) -> String {
    format!("buf/{i}")
}

/// The state key of training window `i`.
pub fn train_key(i: usize) -> String {
    format!("train/{i}")
}

fn clear_buffer<S: StateStore>(store: &mut S, meta: &mut Meta) {
    for i in 0..meta.chunks {
        store.delete(&chunk_key(i));
    }
    meta.chunks = 0;
    meta.rows = 0;
}

fn clear_training<S: StateStore>(store: &mut S, meta: &mut Meta) {
    for i in 0..meta.trained {
        store.delete(&train_key(i));
    }
    meta.trained = 0;
}

/// The model rebuilt from the training statistics.
#[derive(Debug, Clone)]
pub struct Model {
    /// The kept variables and their z-scores.
    pub scaler: Vec<Scale>,
    /// The forest grown on the scaled training features.
    pub forest: Forest,
    /// The highest anomaly score of a training window.
    pub threshold: f64,
}

impl Model {
    /// Fits the scaler, the forest and the threshold on the statistics of the
    /// training windows (`variables` variables).
    pub fn fit(config: &ForestConfig, training: &[Vec<Stats>], variables: usize) -> Self {
        let scaler = fit_scaler(training, variables, config.min_std);
        let data: Vec<Vec<f64>> = training.iter().map(|w| scaled_features(w, &scaler)).collect();
        let forest = Forest::fit(&data, config.trees, config.sample_size, config.seed);
        let threshold = data.iter().map(|x| forest.score(x)).fold(f64::NEG_INFINITY, f64::max);
        Self { scaler, forest, threshold }
    }

    /// The anomaly score of a window's statistics.
    pub fn score(&self, stats: &[Stats]) -> f64 {
        self.forest.score(&scaled_features(stats, &self.scaler))
    }
}

/// The rows of a batch, by distinct timestamp, one value per key (a key
/// without a finite number at that timestamp is 0.0, like the benchmark's
/// NaN; values beyond ±[`MAX_ABS`] are clamped). While the model is still
/// training and `config.keys` is `None`, new keys join `meta.keys`; other
/// series are ignored.
fn gather_rows(
    config: &ForestConfig,
    meta: &mut Meta,
    batch: &[Series],
) -> Result<BTreeMap<i64, Vec<f64>>, PluginError> {
    let learning = config.keys.is_none() && meta.trained < config.train_windows;
    let mut columns = Vec::with_capacity(batch.len());
    for series in batch {
        let index = match meta.keys.iter().position(|k| *k == series.key) {
            Some(index) => index,
            None if learning => {
                if meta.keys.len() >= MAX_KEYS {
                    return Err(PluginError::new(
                        "too-many-keys",
                        format!("more than {MAX_KEYS} keys; list the ones to use in `keys`"),
                    ));
                }
                meta.keys.push(series.key.clone());
                meta.keys.len() - 1
            }
            None => continue,
        };
        columns.push((index, series));
    }
    let width = meta.keys.len();
    let mut rows: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for (index, series) in columns {
        for (i, &ts) in series.ts.iter().enumerate() {
            let value = series.values.number(i).filter(|v| v.is_finite()).unwrap_or(0.0).clamp(-MAX_ABS, MAX_ABS);
            if let Some(slot) = rows.entry(ts).or_insert_with(|| vec![0.0; width]).get_mut(index) {
                *slot = value;
            }
        }
    }
    Ok(rows)
}

/// One full window: its last timestamp and the statistics of every key.
struct Window {
    end: i64,
    stats: Vec<Stats>,
}

/// Reads the whole buffer (the earlier chunks from the store, the last one
/// from `last`), empties it, and returns the window, or `None` when the
/// stored buffer turned out inconsistent (then the rows are dropped).
fn take_window<S: StateStore>(store: &mut S, meta: &mut Meta, last: Chunk) -> Option<Window> {
    let width = meta.keys.len();
    let mut columns = vec![Vec::with_capacity(meta.rows); width];
    let mut last = Some(last);
    let mut end = None;
    let mut complete = true;
    for i in 0..meta.chunks {
        let chunk = if i + 1 == meta.chunks { last.take() } else { store.load::<Chunk>(&chunk_key(i)) };
        let Some(chunk) = chunk.filter(|c| c.ts.len() == c.rows.len()) else {
            complete = false;
            break;
        };
        for row in &chunk.rows {
            for (k, column) in columns.iter_mut().enumerate() {
                column.push(row.get(k).copied().unwrap_or(0.0));
            }
        }
        end = chunk.ts.last().copied().or(end);
    }
    let rows = meta.rows;
    clear_buffer(store, meta);
    if !complete || columns.first().is_some_and(|c| c.len() != rows) {
        return None;
    }
    Some(Window { end: end?, stats: columns.iter_mut().map(|c| window_stats(c)).collect() })
}

/// Loads the statistics of the training windows; `None` if one is missing.
fn load_training<S: StateStore>(store: &mut S, meta: &Meta) -> Option<Vec<Vec<Stats>>> {
    (0..meta.trained).map(|i| store.load::<Vec<Stats>>(&train_key(i))).collect()
}

/// Trains on or scores one full window; a scored window gives a signal.
fn complete_window<S: StateStore>(
    config: &ForestConfig,
    store: &mut S,
    meta: &mut Meta,
    model: &mut Option<Model>,
    device_id: &str,
    window: Window,
) -> Result<Option<AlarmSignal>, PluginError> {
    if meta.trained >= config.train_windows && model.is_none() {
        match load_training(store, meta) {
            Some(training) => *model = Some(Model::fit(config, &training, meta.keys.len())),
            // Lost training data: train again, starting with this window.
            None => clear_training(store, meta),
        }
    }
    let Some(model) = model.as_ref().filter(|_| meta.trained >= config.train_windows) else {
        store.save(&train_key(meta.trained), &window.stats)?;
        meta.trained += 1;
        return Ok(None);
    };
    let score = model.score(&window.stats);
    let details = json!({ "score": score, "threshold": model.threshold, "window_end": window.end });
    Ok(Some(if score > model.threshold {
        AlarmSignal::raise_at(device_id, window.end, &config.alarm_type, config.severity, details)
    } else {
        AlarmSignal::clear_at(device_id, window.end, &config.alarm_type, details)
    }))
}

/// Runs the rule on one batch of a device: buffers its rows, trains on the
/// first `train_windows` full windows and scores each later one, returning a
/// raise (score above every training window's) or a clear per scored window,
/// at the window's last timestamp, in time order. State lives in `store`.
pub fn evaluate<S: StateStore>(
    config: &ForestConfig,
    store: &mut S,
    device_id: &str,
    batch: &[Series],
) -> Result<Vec<AlarmSignal>, PluginError> {
    let (mut meta, reset) = match store.load::<Meta>(META_KEY) {
        Some(meta) if meta.fingerprint == Fingerprint::of(config) => (meta, false),
        Some(mut stale) => {
            clear_buffer(store, &mut stale);
            clear_training(store, &mut stale);
            (Meta::new(config), true)
        }
        None => (Meta::new(config), false),
    };
    let before = meta.clone();
    let rows = gather_rows(config, &mut meta, batch)?;
    let mut last = Chunk::default();
    if meta.chunks > 0 && !rows.is_empty() {
        match store.load::<Chunk>(&chunk_key(meta.chunks - 1)) {
            Some(chunk) => last = chunk,
            None => clear_buffer(store, &mut meta),
        }
    }
    let mut model = None;
    let mut signals = Vec::new();
    let mut last_dirty = false;
    for (ts, row) in rows {
        if !last.rows.is_empty() && last.bytes_with(row.len()) > CHUNK_BUDGET {
            if last_dirty {
                store.save(&chunk_key(meta.chunks - 1), &last)?;
            }
            last = Chunk::default();
        }
        if last.rows.is_empty() {
            if meta.chunks >= MAX_CHUNKS {
                return Err(PluginError::new(
                    "window-too-large",
                    format!("a window of {} rows of {} keys needs over {MAX_CHUNKS} chunks", config.window, row.len()),
                ));
            }
            meta.chunks += 1;
        }
        last.ts.push(ts);
        last.rows.push(row);
        last_dirty = true;
        meta.rows += 1;
        if meta.rows >= config.window {
            let full = std::mem::take(&mut last);
            last_dirty = false;
            if let Some(window) = take_window(store, &mut meta, full) {
                signals.extend(complete_window(config, store, &mut meta, &mut model, device_id, window)?);
            }
        }
    }
    if last_dirty {
        store.save(&chunk_key(meta.chunks - 1), &last)?;
    }
    if meta != before || reset {
        store.save(META_KEY, &meta)?;
    }
    Ok(signals)
}

#[cfg(test)]
mod tests;
