//! Conditions: predicates on the latest value of a key, "missing for"
//! predicates, and `all` / `any` / `not` groups of them.
//!
//! A predicate is `{"key": "k", "op": ">", "value": 10}`; the type of
//! `value` chooses the operator family:
//!
//! | `value`            | operators                                                            | sample values compared as |
//! |--------------------|----------------------------------------------------------------------|---------------------------|
//! | number             | `==` `!=` `>` `<` `>=` `<=` (or ThingsBoard's `EQUAL`, `GREATER`, …) | numbers (booleans 0/1, numeric text parsed) |
//! | `true` / `false`   | `==` `!=`                                                            | booleans (numbers ≠ 0, text `"true"`/`"false"`) |
//! | string             | `==` `!=` `starts_with` `ends_with` `contains` `not_contains`        | text (numbers and booleans as their JSON text) |
//! | array of numbers or of strings | `in` `not_in`                                        | as above                  |
//!
//! `"ignore_case": true` makes text comparisons case-insensitive. A key that
//! has no value yet, or whose value cannot be read as the operator's type,
//! makes the predicate false, whatever the operator (also `!=`, `not_in`).
//!
//! `{"key": "k", "missing_for_ms": 60000}` is true when no sample of `k` has
//! been seen for at least that long (a key never seen counts from the first
//! time the rule saw the device).
//!
//! Parsing and validation of the JSON form live in [`crate::compile`].

use std::borrow::Cow;

use nexus_plugin_sdk::Value;
use serde::{Deserialize, Serialize};

/// Longest text value kept, in bytes: longer sample texts are cut (at a
/// character boundary) before they are compared or stored.
pub const MAX_TEXT_BYTES: usize = 256;
/// Most distinct keys a configuration may reference (bounds the state).
pub const MAX_KEYS: usize = 64;
/// Deepest nesting of `all` / `any` / `not` groups.
pub const MAX_DEPTH: usize = 8;
/// Most predicates in one configuration.
pub const MAX_PREDICATES: usize = 256;
/// Most entries of an `in` / `not_in` list.
pub const MAX_LIST: usize = 64;

/// A value of a key as the rule keeps it (and as it is stored in the state:
/// a JSON number, boolean or string).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stored {
    /// A boolean sample.
    Bool(bool),
    /// A numeric sample (integers are kept as `f64`).
    Num(f64),
    /// A text sample, cut to [`MAX_TEXT_BYTES`].
    Text(String),
}

impl Stored {
    /// Converts a sample value; non-finite numbers are not values.
    pub fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Number(n) if n.is_finite() => Some(Self::Num(*n)),
            Value::Number(_) => None,
            Value::Integer(i) => Some(Self::Num(*i as f64)),
            Value::Boolean(b) => Some(Self::Bool(*b)),
            Value::Text(t) => Some(Self::Text(truncate(t).to_string())),
        }
    }

    /// The value as a number, if it reads as one.
    fn as_number(&self) -> Option<f64> {
        match self {
            Self::Num(n) => Some(*n),
            Self::Bool(b) => Some(f64::from(u8::from(*b))),
            Self::Text(t) => t.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
        }
    }

    /// The value as a boolean, if it reads as one.
    fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            Self::Num(n) => Some(*n != 0.0),
            Self::Text(t) if t.trim().eq_ignore_ascii_case("true") => Some(true),
            Self::Text(t) if t.trim().eq_ignore_ascii_case("false") => Some(false),
            Self::Text(_) => None,
        }
    }

    /// The value as text.
    fn as_text(&self) -> Cow<'_, str> {
        match self {
            Self::Text(t) => Cow::Borrowed(t),
            Self::Num(n) => Cow::Owned(n.to_string()),
            Self::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        }
    }

    /// The value as JSON, for signal details.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Bool(b) => serde_json::Value::Bool(*b),
            Self::Num(n) => serde_json::json!(n),
            Self::Text(t) => serde_json::Value::String(t.clone()),
        }
    }
}

/// `text` cut to at most [`MAX_TEXT_BYTES`] at a character boundary.
fn truncate(text: &str) -> &str {
    if text.len() <= MAX_TEXT_BYTES {
        return text;
    }
    let mut end = MAX_TEXT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The latest value of a key and the time of its sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latest {
    /// Time of the sample.
    pub ts: i64,
    /// Its value.
    pub value: Stored,
}

/// A numeric comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `<`
    Lt,
    /// `>=`
    Ge,
    /// `<=`
    Le,
}

/// A text comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Starts with.
    StartsWith,
    /// Ends with.
    EndsWith,
    /// Contains.
    Contains,
    /// Does not contain.
    NotContains,
}

/// The test a predicate applies to the latest value of its key.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// Compare as a number.
    Num(NumOp, f64),
    /// Compare as a boolean: `value == expected` (or `!=` when `equal` is false).
    Bool {
        /// The configured value.
        expected: bool,
        /// `==` (true) or `!=` (false).
        equal: bool,
    },
    /// Compare as text (`value` is lower-cased when `ignore_case`).
    Text {
        /// Operator.
        op: TextOp,
        /// The configured value.
        value: String,
        /// Case-insensitive comparison.
        ignore_case: bool,
    },
    /// Membership in a list of numbers.
    InNum {
        /// The list.
        values: Vec<f64>,
        /// `not_in`.
        negate: bool,
    },
    /// Membership in a list of strings (lower-cased when `ignore_case`).
    InText {
        /// The list.
        values: Vec<String>,
        /// `not_in`.
        negate: bool,
        /// Case-insensitive comparison.
        ignore_case: bool,
    },
}

impl Test {
    /// Applies the test to a value; `None` when the value cannot be read as
    /// the test's type.
    fn apply(&self, value: &Stored) -> Option<bool> {
        Some(match self {
            Test::Num(op, limit) => {
                let v = value.as_number()?;
                match op {
                    NumOp::Eq => v == *limit,
                    NumOp::Ne => v != *limit,
                    NumOp::Gt => v > *limit,
                    NumOp::Lt => v < *limit,
                    NumOp::Ge => v >= *limit,
                    NumOp::Le => v <= *limit,
                }
            }
            Test::Bool { expected, equal } => (value.as_bool()? == *expected) == *equal,
            Test::Text { op, value: pattern, ignore_case } => {
                let text = fold(value.as_text(), *ignore_case);
                match op {
                    TextOp::Eq => *text == **pattern,
                    TextOp::Ne => *text != **pattern,
                    TextOp::StartsWith => text.starts_with(pattern.as_str()),
                    TextOp::EndsWith => text.ends_with(pattern.as_str()),
                    TextOp::Contains => text.contains(pattern.as_str()),
                    TextOp::NotContains => !text.contains(pattern.as_str()),
                }
            }
            Test::InNum { values, negate } => {
                let v = value.as_number()?;
                values.contains(&v) != *negate
            }
            Test::InText { values, negate, ignore_case } => {
                let text = fold(value.as_text(), *ignore_case);
                values.iter().any(|candidate| **candidate == *text) != *negate
            }
        })
    }
}

/// Lower-cases `text` when `ignore_case`.
fn fold(text: Cow<'_, str>, ignore_case: bool) -> Cow<'_, str> {
    if ignore_case { Cow::Owned(text.to_lowercase()) } else { text }
}

/// A validated condition; keys are indices into the configuration's key table.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// All of them hold (an empty list holds).
    All(Vec<Condition>),
    /// At least one holds (an empty list does not).
    Any(Vec<Condition>),
    /// The inner condition does not hold.
    Not(Box<Condition>),
    /// A test on the latest value of a key.
    Compare {
        /// Key index.
        key: usize,
        /// The test.
        test: Test,
    },
    /// No sample of the key for at least `for_ms`.
    Missing {
        /// Key index.
        key: usize,
        /// How long, ms.
        for_ms: i64,
    },
}

impl Condition {
    /// Whether the condition holds at `t` given the latest value of each key
    /// (`values[key]`); `first_seen` stands for the last sample of a key never seen.
    pub fn holds(&self, values: &[Option<Latest>], t: i64, first_seen: i64) -> bool {
        match self {
            Condition::All(items) => items.iter().all(|c| c.holds(values, t, first_seen)),
            Condition::Any(items) => items.iter().any(|c| c.holds(values, t, first_seen)),
            Condition::Not(inner) => !inner.holds(values, t, first_seen),
            Condition::Compare { key, test } => {
                values.get(*key).and_then(Option::as_ref).and_then(|latest| test.apply(&latest.value)).unwrap_or(false)
            }
            Condition::Missing { key, for_ms } => {
                let last = values.get(*key).and_then(Option::as_ref).map_or(first_seen, |latest| latest.ts);
                t.saturating_sub(last) >= *for_ms
            }
        }
    }

    /// Adds the indices of the keys the condition reads to `out` (no duplicates).
    pub fn keys(&self, out: &mut Vec<usize>) {
        match self {
            Condition::All(items) | Condition::Any(items) => items.iter().for_each(|c| c.keys(out)),
            Condition::Not(inner) => inner.keys(out),
            Condition::Compare { key, .. } | Condition::Missing { key, .. } => {
                if !out.contains(key) {
                    out.push(*key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{Compiler, RawCondition};

    fn compile(json: &str) -> Result<(Condition, Vec<String>), String> {
        let raw: RawCondition = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let mut compiler = Compiler::default();
        let condition = compiler.compile(raw, "c")?;
        Ok((condition, compiler.keys))
    }

    fn latest(value: Stored) -> Option<Latest> {
        Some(Latest { ts: 0, value })
    }

    fn check(json: &str, value: Stored) -> bool {
        let (condition, _) = compile(json).expect(json);
        condition.holds(&[latest(value)], 0, 0)
    }

    #[test]
    fn numeric_operators() {
        let n = |v: f64| Stored::Num(v);
        assert!(check(r#"{"key": "p", "op": ">", "value": 10}"#, n(10.5)));
        assert!(!check(r#"{"key": "p", "op": "GREATER", "value": 10}"#, n(10.0)));
        assert!(check(r#"{"key": "p", "op": "greater_or_equal", "value": 10}"#, n(10.0)));
        assert!(check(r#"{"key": "p", "op": "<", "value": 10}"#, n(9.0)));
        assert!(check(r#"{"key": "p", "op": "<=", "value": 10}"#, n(10.0)));
        assert!(check(r#"{"key": "p", "op": "==", "value": 3}"#, n(3.0)));
        assert!(check(r#"{"key": "p", "op": "NOT_EQUAL", "value": 3}"#, n(4.0)));
        assert!(check(r#"{"key": "p", "op": ">", "value": 1}"#, Stored::Text(" 2.5 ".into())), "numeric text");
        assert!(!check(r#"{"key": "p", "op": "!=", "value": 1}"#, Stored::Text("n/a".into())), "unreadable is false");
        assert!(check(r#"{"key": "p", "op": "in", "value": [1, 2, 3]}"#, n(2.0)));
        assert!(check(r#"{"key": "p", "op": "not_in", "value": [1, 2, 3]}"#, n(4.0)));
    }

    #[test]
    fn boolean_and_text_operators() {
        let t = |s: &str| Stored::Text(s.into());
        assert!(check(r#"{"key": "f", "op": "==", "value": true}"#, Stored::Bool(true)));
        assert!(check(r#"{"key": "f", "op": "!=", "value": true}"#, Stored::Num(0.0)));
        assert!(check(r#"{"key": "f", "op": "==", "value": false}"#, t("FALSE")));
        assert!(check(r#"{"key": "s", "op": "==", "value": "RUN"}"#, t("RUN")));
        assert!(!check(r#"{"key": "s", "op": "==", "value": "RUN"}"#, t("run")));
        assert!(check(r#"{"key": "s", "op": "==", "value": "RUN", "ignore_case": true}"#, t("run")));
        assert!(check(r#"{"key": "s", "op": "starts_with", "value": "E-"}"#, t("E-42")));
        assert!(check(r#"{"key": "s", "op": "ends_with", "value": "42"}"#, t("E-42")));
        assert!(check(r#"{"key": "s", "op": "contains", "value": "trip"}"#, t("UL trip 3")));
        assert!(check(r#"{"key": "s", "op": "not_contains", "value": "trip"}"#, t("running")));
        assert!(check(r#"{"key": "s", "op": "in", "value": ["a", "B"], "ignore_case": true}"#, t("b")));
        assert!(!check(r#"{"key": "s", "op": "not_in", "value": ["a", "b"]}"#, t("b")));
        assert!(check(r#"{"key": "s", "op": "==", "value": "12"}"#, Stored::Num(12.0)), "numbers as text");
    }

    #[test]
    fn groups_missing_and_absent_keys() {
        let (c, keys) = compile(
            r#"{"any": [{"all": [{"key": "a", "op": ">", "value": 1}, {"not": {"key": "b", "op": "==", "value": true}}]},
                        {"key": "c", "missing_for_ms": 1000}]}"#,
        )
        .expect("valid");
        assert_eq!(keys, ["a", "b", "c"]);
        let mut values = vec![latest(Stored::Num(2.0)), latest(Stored::Bool(false)), latest(Stored::Num(0.0))];
        assert!(c.holds(&values, 500, 0));
        values[1] = latest(Stored::Bool(true));
        assert!(!c.holds(&values, 500, 0));
        assert!(c.holds(&values, 1000, 0), "c missing for 1000 ms");
        values[2] = None;
        assert!(c.holds(&values, 1500, 500), "never seen counts from first_seen");
        assert!(!c.holds(&values, 1499, 500));
        // A key without a value makes even `!=` false.
        let (ne, _) = compile(r#"{"key": "x", "op": "!=", "value": 1}"#).expect("valid");
        assert!(!ne.holds(&[None], 0, 0));
        let mut used = Vec::new();
        c.keys(&mut used);
        assert_eq!(used, [0, 1, 2]);
    }

    #[test]
    fn long_texts_are_cut_at_a_char_boundary() {
        let long = "é".repeat(200);
        let Some(Stored::Text(kept)) = Stored::from_value(&Value::Text(long)) else { panic!("text") };
        assert!(kept.len() <= MAX_TEXT_BYTES && kept.len() >= MAX_TEXT_BYTES - 1);
        assert!(kept.chars().all(|c| c == 'é'));
        assert_eq!(Stored::from_value(&Value::Number(f64::NAN)), None);
        assert_eq!(Stored::from_value(&Value::Integer(7)), Some(Stored::Num(7.0)));
    }

    #[test]
    fn stored_values_round_trip_as_plain_json() {
        let values = vec![Stored::Bool(true), Stored::Num(1.5), Stored::Text("x".into())];
        let text = serde_json::to_string(&values).expect("encode");
        assert_eq!(text, r#"[true,1.5,"x"]"#);
        let back: Vec<Stored> = serde_json::from_str(&text).expect("decode");
        assert_eq!(back, values);
    }
}
