//! The encoding of a chunk's samples (see [`crate::chunks`]) in one blob.
//!
//! Version 2, written since chunks stay chunks: a version byte, the sample
//! count (`u32`, little-endian), then per sample in time order
//! - a tag byte: the value's type in bits 0–1 (number, integer, boolean,
//!   text), bit 2 set when the quality is the previous sample's (the first
//!   sample's previous quality is 1.0), and a boolean's value in bit 3;
//! - the stamp as the difference from the previous one (the first from 0),
//!   zigzag-encoded as a LEB128 varint: one or two bytes for a steady rate;
//! - the quality (`f32`), unless bit 2 says it is the previous one;
//! - the value: a number as its 8 bytes, an integer as a zigzag varint, a
//!   text as a varint length and its UTF-8 (a boolean is in the tag).
//!
//! So a number at a steady rate with an unchanged quality takes 10–11
//! bytes, against 21 in version 1 (stamp `i64`, quality `f32`, a type byte
//! and the value, every sample), which is still read: chunks written
//! before stay as they are.

use nexus_model::{Column, Value};
use nexus_storage::{Result, StorageError};

/// The version the encoder writes.
const VERSION: u8 = 2;
/// The first version, still decoded.
const VERSION_1: u8 = 1;

/// Tag bit: the quality is the previous sample's.
const SAME_QUALITY: u8 = 0b100;
/// Tag bit: a boolean's value.
const TRUE: u8 = 0b1000;

/// A value to encode, borrowed.
#[derive(Clone, Copy)]
pub(crate) enum ValueRef<'a> {
    Number(f64),
    Integer(i64),
    Boolean(bool),
    Text(&'a str),
}

impl<'a> ValueRef<'a> {
    /// Sample `i` of a column.
    pub(crate) fn of(column: &'a Column, i: usize) -> Self {
        match column {
            Column::Number(v) => Self::Number(v[i]),
            Column::Integer(v) => Self::Integer(v[i]),
            Column::Boolean(v) => Self::Boolean(v[i]),
            Column::Text(v) => Self::Text(&v[i]),
        }
    }

    pub(crate) fn from_value(value: &'a Value) -> Self {
        match value {
            Value::Number(n) => Self::Number(*n),
            Value::Integer(i) => Self::Integer(*i),
            Value::Boolean(b) => Self::Boolean(*b),
            Value::Text(t) => Self::Text(t),
        }
    }
}

/// A chunk being encoded.
pub(crate) struct Encoder {
    data: Vec<u8>,
    count: u32,
    ts: i64,
    quality: f32,
}

impl Encoder {
    pub(crate) fn with_capacity(samples: usize) -> Self {
        let mut data = Vec::with_capacity(5 + samples * 11);
        data.push(VERSION);
        data.extend_from_slice(&0u32.to_le_bytes());
        Self { data, count: 0, ts: 0, quality: 1.0 }
    }

    /// Adds a sample; samples come in time order.
    pub(crate) fn push(&mut self, ts: i64, quality: f32, value: ValueRef<'_>) {
        let same = quality.to_bits() == self.quality.to_bits();
        let flags = if same { SAME_QUALITY } else { 0 };
        let tag = match value {
            ValueRef::Number(_) => 0,
            ValueRef::Integer(_) => 1,
            ValueRef::Boolean(b) => 2 | if b { TRUE } else { 0 },
            ValueRef::Text(_) => 3,
        };
        self.data.push(tag | flags);
        varint(&mut self.data, zigzag(ts.wrapping_sub(self.ts)));
        if !same {
            self.data.extend_from_slice(&quality.to_le_bytes());
        }
        match value {
            ValueRef::Number(n) => self.data.extend_from_slice(&n.to_le_bytes()),
            ValueRef::Integer(i) => varint(&mut self.data, zigzag(i)),
            ValueRef::Boolean(_) => {}
            ValueRef::Text(t) => {
                varint(&mut self.data, t.len() as u64);
                self.data.extend_from_slice(t.as_bytes());
            }
        }
        (self.ts, self.quality) = (ts, quality);
        self.count += 1;
    }

    /// The blob.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.data[1..5].copy_from_slice(&self.count.to_le_bytes());
        self.data
    }
}

/// A stored sample: stamp, value, quality.
pub(crate) type Sample = (i64, Value, f32);

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Appends `v` as a LEB128 varint.
fn varint(data: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        data.push((v as u8) | 0x80);
        v >>= 7;
    }
    data.push(v as u8);
}

fn cut_short() -> StorageError {
    StorageError::Corrupt("telemetry chunk cut short".into())
}

/// A blob being read.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    /// The next `N` bytes.
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.data.get(self.at..self.at + N).ok_or_else(cut_short)?;
        self.at += N;
        Ok(bytes.try_into().unwrap_or([0; N]))
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take::<1>()?[0])
    }

    /// The next LEB128 varint (at most ten bytes).
    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = self.byte()?;
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(v);
            }
        }
        Err(StorageError::Corrupt("telemetry chunk varint too long".into()))
    }

    fn text(&mut self, len: usize) -> Result<Value> {
        let bytes = self.data.get(self.at..self.at.saturating_add(len)).ok_or_else(cut_short)?;
        self.at += len;
        String::from_utf8(bytes.to_vec()).map(Value::Text).map_err(|e| StorageError::Corrupt(e.to_string()))
    }
}

/// The samples of a chunk's blob, in time order.
pub(crate) fn decode(data: &[u8]) -> Result<Vec<Sample>> {
    let mut r = Reader { data, at: 1 };
    let version = data.first().copied();
    let count = u32::from_le_bytes(r.take()?) as usize;
    let mut samples = Vec::with_capacity(count.min(data.len() / 10));
    match version {
        Some(VERSION) => {
            let (mut ts, mut quality) = (0i64, 1.0f32);
            for _ in 0..count {
                let tag = r.byte()?;
                ts = ts.wrapping_add(unzigzag(r.varint()?));
                if tag & SAME_QUALITY == 0 {
                    quality = f32::from_le_bytes(r.take()?);
                }
                let value = match tag & 0b11 {
                    0 => Value::Number(f64::from_le_bytes(r.take()?)),
                    1 => Value::Integer(unzigzag(r.varint()?)),
                    2 => Value::Boolean(tag & TRUE != 0),
                    _ => {
                        let len = usize::try_from(r.varint()?).map_err(|_| cut_short())?;
                        r.text(len)?
                    }
                };
                samples.push((ts, value, quality));
            }
        }
        Some(VERSION_1) => {
            for _ in 0..count {
                let ts = i64::from_le_bytes(r.take()?);
                let quality = f32::from_le_bytes(r.take()?);
                let value = match r.byte()? {
                    0 => Value::Number(f64::from_le_bytes(r.take()?)),
                    1 => Value::Integer(i64::from_le_bytes(r.take()?)),
                    2 => Value::Boolean(r.byte()? != 0),
                    3 => {
                        let len = u32::from_le_bytes(r.take()?) as usize;
                        r.text(len)?
                    }
                    other => return Err(StorageError::Corrupt(format!("telemetry chunk value of type {other}"))),
                };
                samples.push((ts, value, quality));
            }
        }
        other => return Err(StorageError::Corrupt(format!("telemetry chunk of version {other:?}"))),
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Sample> {
        vec![
            (i64::MIN + 1, Value::Number(-0.0), 1.0),
            (-5, Value::Integer(i64::MIN), 1.0),
            (0, Value::Boolean(true), 0.5),
            (1_000, Value::Boolean(false), 0.5),
            (2_000, Value::Text("ünïcode ✓".into()), f32::NAN),
            (2_000, Value::Text(String::new()), 0.0),
            (1_700_000_000_000, Value::Number(f64::MAX), 0.0),
            (1_700_000_001_000, Value::Integer(i64::MAX), 1.0),
            (i64::MAX, Value::Number(f64::INFINITY), 1.0),
        ]
    }

    fn encode(samples: &[Sample]) -> Vec<u8> {
        let mut encoder = Encoder::with_capacity(samples.len());
        for (ts, value, quality) in samples {
            encoder.push(*ts, *quality, ValueRef::from_value(value));
        }
        encoder.finish()
    }

    /// Compares samples bit for bit (NaN quality included).
    fn same(a: &[Sample], b: &[Sample]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|((t1, v1, q1), (t2, v2, q2))| {
                t1 == t2 && q1.to_bits() == q2.to_bits() && format!("{v1:?}") == format!("{v2:?}")
            })
    }

    #[test]
    fn every_type_stamp_and_quality_comes_back_as_written() {
        let samples = samples();
        assert!(same(&decode(&encode(&samples)).expect("decodes"), &samples));
    }

    #[test]
    fn a_steady_number_takes_about_ten_bytes_a_sample() {
        let samples: Vec<Sample> =
            (0..100).map(|i| (1_700_000_000_000 + i * 1000, Value::Number(i as f64), 1.0)).collect();
        let blob = encode(&samples);
        // The first stamp in full (6 bytes), then a tag, two stamp bytes and 8 value bytes each.
        assert!(blob.len() <= 5 + 100 * 11 + 5, "{} bytes", blob.len());
        assert!(same(&decode(&blob).expect("decodes"), &samples));
    }

    #[test]
    fn version_1_chunks_still_decode() {
        let mut blob = vec![VERSION_1];
        blob.extend_from_slice(&3u32.to_le_bytes());
        for (ts, tag, value) in
            [(10i64, 0u8, 2.5f64.to_le_bytes().to_vec()), (11, 1, 7i64.to_le_bytes().to_vec()), (12, 2, vec![1])]
        {
            blob.extend_from_slice(&ts.to_le_bytes());
            blob.extend_from_slice(&0.75f32.to_le_bytes());
            blob.push(tag);
            blob.extend_from_slice(&value);
        }
        let want =
            vec![(10, Value::Number(2.5), 0.75), (11, Value::Integer(7), 0.75), (12, Value::Boolean(true), 0.75)];
        assert!(same(&decode(&blob).expect("decodes"), &want));
    }

    #[test]
    fn a_cut_or_unknown_blob_is_corrupt_not_a_panic() {
        let blob = encode(&samples());
        for end in 0..blob.len() {
            assert!(decode(&blob[..end]).is_err(), "cut at {end}");
        }
        let mut unknown = blob.clone();
        unknown[0] = 9;
        assert!(decode(&unknown).is_err());
    }
}
