//! Telemetry in columns (contract 0.2.0): reading a [`Series`] sample by
//! sample or as numbers, and building series from samples
//! ([`SeriesBuilder`]) — what decoders, transforms and tests need.

use crate::{Column, Reading, Series, Value};

/// One sample of a series: a reading without its device and key.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Time of measurement, ms since the Unix epoch.
    pub ts: i64,
    /// The value.
    pub value: Value,
    /// Quality from 0 (bad) to 1 (good).
    pub quality: f32,
}

impl Sample {
    /// A sample of quality 1.
    pub fn new(ts: i64, value: impl Into<Value>) -> Self {
        Self { ts, value: value.into(), quality: 1.0 }
    }

    /// The sample's value as a number, if it is numeric (see [`Value::as_f64`]).
    pub fn as_f64(&self) -> Option<f64> {
        self.value.as_f64()
    }
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

    /// The value at `i` as a number (booleans count as 0/1; text is `None`).
    pub fn number(&self, i: usize) -> Option<f64> {
        match self {
            Column::Number(v) => v.get(i).copied(),
            Column::Integer(v) => v.get(i).map(|&x| x as f64),
            Column::Boolean(v) => v.get(i).map(|&b| f64::from(u8::from(b))),
            Column::Text(_) => None,
        }
    }
}

impl Series {
    /// A series of `key` from samples that all have one value type (the
    /// first's). For samples of mixed types use [`SeriesBuilder`].
    ///
    /// # Panics
    /// When a sample's value type differs from the first's.
    pub fn from_samples(key: &str, samples: impl IntoIterator<Item = Sample>) -> Series {
        let mut builder = SeriesBuilder::new();
        for sample in samples {
            builder.push(key, sample.ts, sample.value, sample.quality);
        }
        let mut series = builder.build();
        assert!(series.len() <= 1, "Series::from_samples: samples of `{key}` have more than one value type");
        series.pop().unwrap_or_else(|| Series {
            key: key.into(),
            ts: Vec::new(),
            values: Column::Number(Vec::new()),
            quality: Vec::new(),
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// The quality of sample `i` (1 when the series omits qualities).
    pub fn quality_at(&self, i: usize) -> f32 {
        if self.quality.is_empty() { 1.0 } else { self.quality.get(i).copied().unwrap_or(1.0) }
    }

    /// Sample `i`.
    pub fn sample(&self, i: usize) -> Option<Sample> {
        Some(Sample { ts: *self.ts.get(i)?, value: self.values.get(i)?, quality: self.quality_at(i) })
    }

    /// The samples, oldest first (text values are cloned).
    pub fn samples(&self) -> Vec<Sample> {
        (0..self.len()).filter_map(|i| self.sample(i)).collect()
    }

    /// `(ts, value)` of every numeric sample, without allocating: the fast
    /// path for rules on numbers (booleans count as 0/1; text is skipped).
    pub fn numbers(&self) -> Numbers<'_> {
        let values = match &self.values {
            Column::Number(v) => NumberColumn::Number(v.iter()),
            Column::Integer(v) => NumberColumn::Integer(v.iter()),
            Column::Boolean(v) => NumberColumn::Boolean(v.iter()),
            Column::Text(_) => NumberColumn::None,
        };
        Numbers { ts: self.ts.iter(), values }
    }

    /// `(ts, value, quality)` of every numeric sample, as [`Series::numbers`].
    pub fn numbers_with_quality(&self) -> impl Iterator<Item = (i64, f64, f32)> + '_ {
        self.ts.iter().enumerate().filter_map(|(i, &ts)| Some((ts, self.values.number(i)?, self.quality_at(i))))
    }
}

/// The numeric samples of a series as `(ts, value)`: [`Series::numbers`].
/// Walks the timestamp and value columns side by side, with no bounds
/// check or value conversion per sample beyond the column's own.
#[derive(Debug, Clone)]
pub struct Numbers<'a> {
    ts: std::slice::Iter<'a, i64>,
    values: NumberColumn<'a>,
}

#[derive(Debug, Clone)]
enum NumberColumn<'a> {
    Number(std::slice::Iter<'a, f64>),
    Integer(std::slice::Iter<'a, i64>),
    Boolean(std::slice::Iter<'a, bool>),
    None,
}

impl Iterator for Numbers<'_> {
    type Item = (i64, f64);

    #[inline]
    fn next(&mut self) -> Option<(i64, f64)> {
        let value = match &mut self.values {
            NumberColumn::Number(v) => *v.next()?,
            NumberColumn::Integer(v) => *v.next()? as f64,
            NumberColumn::Boolean(v) => f64::from(u8::from(*v.next()?)),
            NumberColumn::None => return None,
        };
        Some((*self.ts.next()?, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self.values {
            NumberColumn::None => (0, Some(0)),
            _ => (0, Some(self.ts.len())),
        }
    }
}

/// Collects samples into series: one per (key, value type), keys in the
/// order first seen, samples in push order (sorted by time at the end).
#[derive(Debug, Default)]
pub struct SeriesBuilder {
    series: Vec<Series>,
}

impl SeriesBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a sample of `key`.
    pub fn push(&mut self, key: &str, ts: i64, value: Value, quality: f32) {
        let slot = self.series.iter().position(|s| s.key == key && same_type(&s.values, &value));
        let i = match slot {
            Some(i) => i,
            None => {
                self.series.push(Series {
                    key: key.to_string(),
                    ts: Vec::new(),
                    values: empty_like(&value),
                    quality: Vec::new(),
                });
                self.series.len() - 1
            }
        };
        let series = &mut self.series[i];
        // Qualities are kept only once one is not 1: filled in behind it.
        if quality != 1.0 || !series.quality.is_empty() {
            series.quality.resize(series.ts.len(), 1.0);
            series.quality.push(quality);
        }
        series.ts.push(ts);
        match (&mut series.values, value) {
            (Column::Number(v), Value::Number(x)) => v.push(x),
            (Column::Integer(v), Value::Integer(x)) => v.push(x),
            (Column::Boolean(v), Value::Boolean(x)) => v.push(x),
            (Column::Text(v), Value::Text(x)) => v.push(x),
            // The slot was chosen for the value's type.
            _ => {}
        }
    }

    /// Number of samples pushed.
    pub fn len(&self) -> usize {
        self.series.iter().map(Series::len).sum()
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The series, each sorted by time (stable).
    pub fn build(self) -> Vec<Series> {
        self.series.into_iter().map(sorted).collect()
    }
}

fn same_type(column: &Column, value: &Value) -> bool {
    matches!(
        (column, value),
        (Column::Number(_), Value::Number(_))
            | (Column::Integer(_), Value::Integer(_))
            | (Column::Boolean(_), Value::Boolean(_))
            | (Column::Text(_), Value::Text(_))
    )
}

fn empty_like(value: &Value) -> Column {
    match value {
        Value::Number(_) => Column::Number(Vec::new()),
        Value::Integer(_) => Column::Integer(Vec::new()),
        Value::Boolean(_) => Column::Boolean(Vec::new()),
        Value::Text(_) => Column::Text(Vec::new()),
    }
}

fn sorted(series: Series) -> Series {
    if series.ts.is_sorted() {
        return series;
    }
    let mut order: Vec<usize> = (0..series.len()).collect();
    order.sort_by_key(|&i| series.ts[i]);
    let values = match &series.values {
        Column::Number(v) => Column::Number(order.iter().map(|&i| v[i]).collect()),
        Column::Integer(v) => Column::Integer(order.iter().map(|&i| v[i]).collect()),
        Column::Boolean(v) => Column::Boolean(order.iter().map(|&i| v[i]).collect()),
        Column::Text(v) => Column::Text(order.iter().map(|&i| v[i].clone()).collect()),
    };
    Series {
        ts: order.iter().map(|&i| series.ts[i]).collect(),
        quality: if series.quality.is_empty() {
            Vec::new()
        } else {
            order.iter().map(|&i| series.quality[i]).collect()
        },
        values,
        key: series.key,
    }
}

/// The series of `key` in a batch (the first, if the key's values come in
/// more than one type).
pub fn series<'a>(batch: &'a [Series], key: &str) -> Option<&'a Series> {
    batch.iter().find(|s| s.key == key)
}

/// Every sample of `key` in a batch, of any value type, oldest first;
/// `None` when there is none.
pub fn samples(batch: &[Series], key: &str) -> Option<Vec<Sample>> {
    let mut out: Vec<Sample> = batch.iter().filter(|s| s.key == key).flat_map(Series::samples).collect();
    if out.is_empty() {
        return None;
    }
    if !out.is_sorted_by_key(|s| s.ts) {
        out.sort_by_key(|s| s.ts);
    }
    Some(out)
}

/// Flattens a batch into readings of `device_id`, sorted by `ts` (equal
/// times keep the batch's order). For code that prefers rows to columns.
pub fn readings(device_id: &str, batch: &[Series]) -> Vec<Reading> {
    let mut rows = Vec::with_capacity(batch.iter().map(Series::len).sum());
    for series in batch {
        rows.extend(series.samples().into_iter().map(|s| Reading {
            device_id: device_id.to_string(),
            key: series.key.clone(),
            ts: s.ts,
            value: s.value,
            quality: s.quality,
        }));
    }
    if !rows.is_sorted_by_key(|r| r.ts) {
        rows.sort_by_key(|r| r.ts);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_group_by_key_and_type_and_sort_by_time() {
        let mut b = SeriesBuilder::new();
        b.push("p", 3, Value::Number(3.0), 1.0);
        b.push("flag", 1, Value::Boolean(true), 1.0);
        b.push("p", 1, Value::Number(1.0), 0.5);
        b.push("p", 2, Value::Text("n/a".into()), 1.0);
        assert_eq!(b.len(), 4);
        let batch = b.build();
        assert_eq!(batch.len(), 3);
        assert_eq!((batch[0].ts.clone(), batch[0].values.clone()), (vec![1, 3], Column::Number(vec![1.0, 3.0])));
        assert_eq!(batch[0].quality, [0.5, 1.0]);
        assert!(batch[1].quality.is_empty());
        let mut first_bad = SeriesBuilder::new();
        first_bad.push("q", 1, Value::Number(1.0), 0.25);
        first_bad.push("q", 2, Value::Number(2.0), 1.0);
        assert_eq!(first_bad.build()[0].quality, [0.25, 1.0]);
        assert_eq!(series(&batch, "flag").map(|s| s.numbers().collect::<Vec<_>>()), Some(vec![(1, 1.0)]));
        let p = samples(&batch, "p").expect("samples");
        assert_eq!(p.iter().map(|s| s.ts).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(p[1].value, Value::Text("n/a".into()));
        assert!(samples(&batch, "q").is_none());
        let rows = readings("dev", &batch);
        assert_eq!(rows.iter().map(|r| r.ts).collect::<Vec<_>>(), [1, 1, 2, 3]);
    }

    #[test]
    fn numbers_walk_every_numeric_column_and_skip_text() {
        let of = |values: Column| Series { key: "k".into(), ts: vec![1, 2, 3], values, quality: Vec::new() };
        let numbers = |s: &Series| s.numbers().collect::<Vec<_>>();
        assert_eq!(numbers(&of(Column::Number(vec![1.5, 2.5, 3.5]))), vec![(1, 1.5), (2, 2.5), (3, 3.5)]);
        assert_eq!(numbers(&of(Column::Integer(vec![7, 8, 9]))), vec![(1, 7.0), (2, 8.0), (3, 9.0)]);
        assert_eq!(numbers(&of(Column::Boolean(vec![true, false, true]))), vec![(1, 1.0), (2, 0.0), (3, 1.0)]);
        assert!(numbers(&of(Column::Text(vec!["a".into(), "b".into(), "c".into()]))).is_empty());
        // A value column shorter than the timestamps ends the walk, as
        // `number(i)` would.
        assert_eq!(numbers(&of(Column::Number(vec![1.0]))), vec![(1, 1.0)]);
        let short_ts = Series { key: "k".into(), ts: vec![1], values: Column::Number(vec![1.0, 2.0]), quality: vec![] };
        assert_eq!(numbers(&short_ts), vec![(1, 1.0)]);
    }

    #[test]
    fn from_samples_builds_one_series() {
        let s = Series::from_samples("t", [Sample::new(2, 20.0), Sample::new(1, 10.0)]);
        assert_eq!((s.ts.clone(), s.len()), (vec![1, 2], 2));
        assert_eq!(s.sample(0), Some(Sample::new(1, 10.0)));
        assert!(Series::from_samples("e", []).is_empty());
    }
}
