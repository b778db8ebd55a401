//! Telemetry in columns: one key's samples as lists of primitives. This is
//! how telemetry crosses the plugin boundary (contract 0.2.0) and moves
//! through the ingest path; rows ([`Reading`]) are for reads and the API.

use serde::{Deserialize, Serialize};

use crate::{DeviceId, Reading, TimestampMs, Value};

/// The values of a series, all of one type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "values", rename_all = "lowercase")]
pub enum Column {
    /// Floating-point numbers.
    Number(Vec<f64>),
    /// Whole numbers.
    Integer(Vec<i64>),
    /// Booleans.
    Boolean(Vec<bool>),
    /// Text (or JSON text).
    Text(Vec<String>),
}

impl Column {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Column::Number(v) => v.len(),
            Column::Integer(v) => v.len(),
            Column::Boolean(v) => v.len(),
            Column::Text(v) => v.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value at `i`.
    pub fn get(&self, i: usize) -> Option<Value> {
        Some(match self {
            Column::Number(v) => Value::Number(*v.get(i)?),
            Column::Integer(v) => Value::Integer(*v.get(i)?),
            Column::Boolean(v) => Value::Boolean(*v.get(i)?),
            Column::Text(v) => Value::Text(v.get(i)?.clone()),
        })
    }

    /// An empty column of the same type as `value`.
    fn empty_like(value: &Value) -> Self {
        match value {
            Value::Number(_) => Column::Number(Vec::new()),
            Value::Integer(_) => Column::Integer(Vec::new()),
            Value::Boolean(_) => Column::Boolean(Vec::new()),
            Value::Text(_) => Column::Text(Vec::new()),
        }
    }

    /// Appends `value` if it has this column's type.
    fn push(&mut self, value: Value) -> Result<(), Value> {
        match (self, value) {
            (Column::Number(v), Value::Number(x)) => v.push(x),
            (Column::Integer(v), Value::Integer(x)) => v.push(x),
            (Column::Boolean(v), Value::Boolean(x)) => v.push(x),
            (Column::Text(v), Value::Text(x)) => v.push(x),
            (_, value) => return Err(value),
        }
        Ok(())
    }

    /// Keeps the values whose index `keep` accepts.
    fn retain_indices(&mut self, keep: &[bool]) {
        fn filter<T>(v: &mut Vec<T>, keep: &[bool]) {
            let mut i = 0;
            v.retain(|_| {
                let k = keep.get(i).copied().unwrap_or(false);
                i += 1;
                k
            });
        }
        match self {
            Column::Number(v) => filter(v, keep),
            Column::Integer(v) => filter(v, keep),
            Column::Boolean(v) => filter(v, keep),
            Column::Text(v) => filter(v, keep),
        }
    }

    /// Appends another column of the same type.
    fn extend(&mut self, other: Column) -> Result<(), Column> {
        match (self, other) {
            (Column::Number(a), Column::Number(b)) => a.extend(b),
            (Column::Integer(a), Column::Integer(b)) => a.extend(b),
            (Column::Boolean(a), Column::Boolean(b)) => a.extend(b),
            (Column::Text(a), Column::Text(b)) => a.extend(b),
            (_, other) => return Err(other),
        }
        Ok(())
    }
}

/// The samples of one key (of one value type) of one device, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Telemetry key.
    pub key: String,
    /// Sample times.
    pub ts: Vec<TimestampMs>,
    /// Sample values.
    pub values: Column,
    /// Sample qualities (0..1); empty means every sample is good.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quality: Vec<f32>,
}

/// What is wrong with a series' shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("series `{key}`: {reason}")]
pub struct ShapeError {
    /// The key.
    pub key: String,
    /// Why.
    pub reason: String,
}

impl Series {
    /// A series of numbers, all of quality 1.
    pub fn numbers(key: impl Into<String>, ts: Vec<TimestampMs>, values: Vec<f64>) -> Self {
        Self { key: key.into(), ts, values: Column::Number(values), quality: Vec::new() }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// Whether it has no samples.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// The quality of sample `i` (1 when qualities are omitted).
    pub fn quality_at(&self, i: usize) -> f32 {
        if self.quality.is_empty() { 1.0 } else { self.quality.get(i).copied().unwrap_or(1.0) }
    }

    /// Checks that the columns have one entry per sample.
    pub fn check_shape(&self) -> Result<(), ShapeError> {
        let bad = |reason: String| Err(ShapeError { key: self.key.clone(), reason });
        if self.values.len() != self.ts.len() {
            return bad(format!("{} timestamps but {} values", self.ts.len(), self.values.len()));
        }
        if !self.quality.is_empty() && self.quality.len() != self.ts.len() {
            return bad(format!("{} timestamps but {} qualities", self.ts.len(), self.quality.len()));
        }
        Ok(())
    }

    /// Keeps the samples whose index `keep` accepts.
    pub fn retain_indices(&mut self, keep: &[bool]) {
        let mut i = 0;
        self.ts.retain(|_| {
            let k = keep.get(i).copied().unwrap_or(false);
            i += 1;
            k
        });
        if !self.quality.is_empty() {
            let mut i = 0;
            self.quality.retain(|_| {
                let k = keep.get(i).copied().unwrap_or(false);
                i += 1;
                k
            });
        }
        self.values.retain_indices(keep);
    }

    /// The samples as rows of `device`.
    pub fn readings<'a>(&'a self, device: &'a DeviceId) -> impl Iterator<Item = Reading> + 'a {
        (0..self.len()).filter_map(move |i| {
            Some(Reading {
                device_id: device.clone(),
                key: self.key.clone(),
                ts: self.ts[i],
                value: self.values.get(i)?,
                quality: self.quality_at(i),
            })
        })
    }

    /// Appends another series of the same key and type.
    fn append(&mut self, other: Series) -> Result<(), Series> {
        if other.key != self.key {
            return Err(other);
        }
        let (self_len, other_len) = (self.len(), other.len());
        let Series { ts, values, quality, key } = other;
        if let Err(values) = self.values.extend(values) {
            return Err(Series { key, ts, values, quality });
        }
        self.ts.extend(ts);
        match (self.quality.is_empty(), quality.is_empty()) {
            (true, true) => {}
            (false, false) => self.quality.extend(quality),
            (false, true) => self.quality.extend(std::iter::repeat_n(1.0, other_len)),
            (true, false) => {
                self.quality = std::iter::repeat_n(1.0, self_len).chain(quality).collect();
            }
        }
        Ok(())
    }
}

/// Groups rows into series: one per (key, value type), keys in first-seen
/// order, samples in the rows' order.
pub fn series_of(readings: &[Reading]) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    for r in readings {
        let slot =
            out.iter_mut().find(|s| s.key == r.key && std::mem::discriminant(&s.values) == discriminant(&r.value));
        let series = match slot {
            Some(series) => series,
            None => {
                out.push(Series {
                    key: r.key.clone(),
                    ts: Vec::new(),
                    values: Column::empty_like(&r.value),
                    quality: Vec::new(),
                });
                out.last_mut().expect("just pushed")
            }
        };
        // Qualities are kept only once one is not 1: filled in behind it.
        if r.quality != 1.0 || !series.quality.is_empty() {
            series.quality.resize(series.ts.len(), 1.0);
            series.quality.push(r.quality);
        }
        series.ts.push(r.ts);
        // The slot was chosen for this value's type.
        let _ = series.values.push(r.value.clone());
    }
    out
}

fn discriminant(value: &Value) -> std::mem::Discriminant<Column> {
    std::mem::discriminant(&Column::empty_like(value))
}

/// Merges series of the same key and type (later batches after earlier
/// ones), keeping the others apart; each result is sorted by time
/// (stable, so equal times keep their order).
pub fn merge_series(batches: impl IntoIterator<Item = Vec<Series>>) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    for batch in batches {
        for series in batch {
            let slot = out.iter_mut().find(|s| {
                s.key == series.key && std::mem::discriminant(&s.values) == std::mem::discriminant(&series.values)
            });
            match slot {
                Some(existing) => {
                    // Same key and type: cannot fail.
                    let _ = existing.append(series);
                }
                None => out.push(series),
            }
        }
    }
    for series in &mut out {
        sort_by_time(series);
    }
    out
}

/// Sorts a series by time if it is not sorted (stable).
pub fn sort_by_time(series: &mut Series) {
    if series.ts.is_sorted() {
        return;
    }
    let mut order: Vec<usize> = (0..series.len()).collect();
    order.sort_by_key(|&i| series.ts[i]);
    let ts = order.iter().map(|&i| series.ts[i]).collect();
    let quality =
        if series.quality.is_empty() { Vec::new() } else { order.iter().map(|&i| series.quality[i]).collect() };
    let values = match &series.values {
        Column::Number(v) => Column::Number(order.iter().map(|&i| v[i]).collect()),
        Column::Integer(v) => Column::Integer(order.iter().map(|&i| v[i]).collect()),
        Column::Boolean(v) => Column::Boolean(order.iter().map(|&i| v[i]).collect()),
        Column::Text(v) => Column::Text(order.iter().map(|&i| v[i].clone()).collect()),
    };
    *series = Series { key: std::mem::take(&mut series.key), ts, values, quality };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(key: &str, ts: i64, value: Value, quality: f32) -> Reading {
        Reading { device_id: "d".into(), key: key.into(), ts, value, quality }
    }

    #[test]
    fn rows_group_into_series_per_key_and_type_and_come_back_out() {
        let rows = vec![
            reading("p", 1, Value::Number(1.5), 1.0),
            reading("flag", 1, Value::Boolean(true), 1.0),
            reading("p", 2, Value::Number(2.5), 0.5),
            reading("p", 3, Value::Text("n/a".into()), 1.0),
        ];
        let series = series_of(&rows);
        assert_eq!(series.len(), 3);
        assert_eq!(
            series[0],
            Series { key: "p".into(), ts: vec![1, 2], values: Column::Number(vec![1.5, 2.5]), quality: vec![1.0, 0.5] }
        );
        assert!(series[1].quality.is_empty(), "all good: qualities omitted");
        let first_bad =
            series_of(&[reading("q", 1, Value::Number(1.0), 0.25), reading("q", 2, Value::Number(2.0), 1.0)]);
        assert_eq!(first_bad[0].quality, [0.25, 1.0]);
        assert!(series.iter().all(|s| s.check_shape().is_ok()));
        let device = DeviceId::new("d");
        let back: Vec<Reading> = series.iter().flat_map(|s| s.readings(&device)).collect();
        assert_eq!(back.len(), 4);
        assert!(back.contains(&rows[2]) && back.contains(&rows[3]));
    }

    #[test]
    fn batches_merge_by_key_and_type_in_time_order() {
        let a = vec![Series::numbers("p", vec![3, 4], vec![3.0, 4.0])];
        let b = vec![
            Series { key: "p".into(), ts: vec![1], values: Column::Number(vec![1.0]), quality: vec![0.25] },
            Series::numbers("q", vec![1], vec![9.0]),
        ];
        let merged = merge_series([a, b]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].ts, [1, 3, 4]);
        assert_eq!(merged[0].values, Column::Number(vec![1.0, 3.0, 4.0]));
        assert_eq!(merged[0].quality, [0.25, 1.0, 1.0]);
    }

    #[test]
    fn shapes_are_checked_and_samples_filtered() {
        let mut s = Series { key: "k".into(), ts: vec![1, 2, 3], values: Column::Integer(vec![1, 2]), quality: vec![] };
        assert!(s.check_shape().is_err());
        s.values = Column::Integer(vec![10, 20, 30]);
        s.quality = vec![1.0, 0.5, 0.0];
        s.retain_indices(&[true, false, true]);
        assert_eq!(
            (s.ts.clone(), s.values.clone(), s.quality.clone()),
            (vec![1, 3], Column::Integer(vec![10, 30]), vec![1.0, 0.0])
        );
    }
}
