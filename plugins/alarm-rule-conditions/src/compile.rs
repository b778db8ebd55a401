//! Compiling conditions written in JSON ([`RawCondition`]) into
//! [`Condition`]s: validation with error messages that name the offending
//! path (e.g. `severities[0].create.all[1]`), operator parsing and key
//! interning (conditions refer to keys by index).

use serde::Deserialize;

use crate::condition::{Condition, MAX_DEPTH, MAX_KEYS, MAX_LIST, MAX_PREDICATES, MAX_TEXT_BYTES, NumOp, Test, TextOp};

/// A condition as written in JSON: exactly one of a predicate (`key` with
/// `op` and `value`, or with `missing_for_ms`), `all`, `any` or `not`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCondition {
    #[serde(default)]
    pub(crate) key: Option<String>,
    #[serde(default)]
    pub(crate) op: Option<String>,
    #[serde(default)]
    pub(crate) value: Option<serde_json::Value>,
    #[serde(default)]
    pub(crate) ignore_case: Option<bool>,
    #[serde(default)]
    pub(crate) missing_for_ms: Option<u64>,
    #[serde(default)]
    pub(crate) all: Option<Vec<RawCondition>>,
    #[serde(default)]
    pub(crate) any: Option<Vec<RawCondition>>,
    #[serde(default)]
    pub(crate) not: Option<Box<RawCondition>>,
}

/// Turns raw conditions into [`Condition`]s, interning key names.
#[derive(Debug, Default)]
pub struct Compiler {
    /// Distinct key names, in order of first use.
    pub keys: Vec<String>,
    /// Predicates compiled so far.
    predicates: usize,
}

impl Compiler {
    /// Compiles `raw`; `path` (e.g. `severities[0].create`) prefixes errors.
    pub fn compile(&mut self, raw: RawCondition, path: &str) -> Result<Condition, String> {
        self.compile_at(raw, path, 1)
    }

    /// Compiles `raw` at nesting `depth`.
    fn compile_at(&mut self, raw: RawCondition, path: &str, depth: usize) -> Result<Condition, String> {
        if depth > MAX_DEPTH {
            return Err(format!("`{path}`: conditions nest deeper than {MAX_DEPTH} levels"));
        }
        let forms = usize::from(raw.key.is_some())
            + usize::from(raw.all.is_some())
            + usize::from(raw.any.is_some())
            + usize::from(raw.not.is_some());
        if forms != 1 {
            return Err(format!(
                "`{path}`: a condition needs exactly one of `key` (a predicate), `all`, `any` or `not`, found {forms}"
            ));
        }
        let predicate_fields =
            raw.op.is_some() || raw.value.is_some() || raw.ignore_case.is_some() || raw.missing_for_ms.is_some();
        let group = |items: Vec<RawCondition>, name: &str, this: &mut Self| -> Result<Vec<Condition>, String> {
            if predicate_fields {
                return Err(format!(
                    "`{path}`: `op`, `value`, `ignore_case` and `missing_for_ms` belong to a predicate with a `key`, not to `{name}`"
                ));
            }
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| this.compile_at(item, &format!("{path}.{name}[{i}]"), depth + 1))
                .collect()
        };
        if let Some(items) = raw.all {
            return Ok(Condition::All(group(items, "all", self)?));
        }
        if let Some(items) = raw.any {
            return Ok(Condition::Any(group(items, "any", self)?));
        }
        if let Some(inner) = raw.not {
            if predicate_fields {
                return Err(format!(
                    "`{path}`: `op`, `value`, `ignore_case` and `missing_for_ms` belong to a predicate with a `key`, not to `not`"
                ));
            }
            return Ok(Condition::Not(Box::new(self.compile_at(*inner, &format!("{path}.not"), depth + 1)?)));
        }
        let name = raw.key.unwrap_or_default();
        self.predicates += 1;
        if self.predicates > MAX_PREDICATES {
            return Err(format!("`{path}`: more than {MAX_PREDICATES} predicates in the configuration"));
        }
        let key = self.intern(&name).map_err(|e| format!("`{path}.key`: {e}"))?;
        if let Some(for_ms) = raw.missing_for_ms {
            if raw.op.is_some() || raw.value.is_some() || raw.ignore_case.is_some() {
                return Err(format!("`{path}`: a `missing_for_ms` predicate takes no `op`, `value` or `ignore_case`"));
            }
            if for_ms == 0 {
                return Err(format!("`{path}.missing_for_ms` must be > 0"));
            }
            let for_ms = i64::try_from(for_ms).map_err(|_| format!("`{path}.missing_for_ms` is too large"))?;
            return Ok(Condition::Missing { key, for_ms });
        }
        let (Some(op), Some(value)) = (raw.op, raw.value) else {
            return Err(format!("`{path}`: a predicate on {name:?} needs `op` and `value` (or `missing_for_ms`)"));
        };
        let test = compile_test(&op, value, raw.ignore_case.unwrap_or(false)).map_err(|e| format!("`{path}`: {e}"))?;
        Ok(Condition::Compare { key, test })
    }

    /// The index of a key name, adding it if new.
    fn intern(&mut self, name: &str) -> Result<usize, String> {
        if name.is_empty() {
            return Err("must not be empty".into());
        }
        if name.len() > MAX_TEXT_BYTES {
            return Err(format!("longer than {MAX_TEXT_BYTES} bytes"));
        }
        if let Some(index) = self.keys.iter().position(|k| k == name) {
            return Ok(index);
        }
        if self.keys.len() == MAX_KEYS {
            return Err(format!("more than {MAX_KEYS} distinct keys in the configuration"));
        }
        self.keys.push(name.to_string());
        Ok(self.keys.len() - 1)
    }
}

/// The operator names accepted (case-insensitive), and what they mean.
enum Op {
    Num(NumOp),
    Text(TextOp),
    In(bool),
}

/// Parses an operator name.
fn parse_op(op: &str) -> Option<Op> {
    Some(match op.trim().to_ascii_lowercase().as_str() {
        "==" | "=" | "eq" | "equal" => Op::Num(NumOp::Eq),
        "!=" | "<>" | "ne" | "not_equal" => Op::Num(NumOp::Ne),
        ">" | "gt" | "greater" => Op::Num(NumOp::Gt),
        "<" | "lt" | "less" => Op::Num(NumOp::Lt),
        ">=" | "ge" | "gte" | "greater_or_equal" => Op::Num(NumOp::Ge),
        "<=" | "le" | "lte" | "less_or_equal" => Op::Num(NumOp::Le),
        "starts_with" => Op::Text(TextOp::StartsWith),
        "ends_with" => Op::Text(TextOp::EndsWith),
        "contains" => Op::Text(TextOp::Contains),
        "not_contains" => Op::Text(TextOp::NotContains),
        "in" => Op::In(false),
        "not_in" => Op::In(true),
        _ => return None,
    })
}

/// Builds the test of a predicate from its operator and value.
fn compile_test(op_name: &str, value: serde_json::Value, ignore_case: bool) -> Result<Test, String> {
    use serde_json::Value as J;
    let op = parse_op(op_name).ok_or_else(|| {
        format!(
            "unknown `op` {op_name:?} (expected ==, !=, >, <, >=, <=, starts_with, ends_with, contains, not_contains, in or not_in)"
        )
    })?;
    let fold = |s: &str| if ignore_case { s.to_lowercase() } else { s.to_string() };
    let check_len = |s: &str| {
        if s.len() > MAX_TEXT_BYTES {
            Err(format!("text values are limited to {MAX_TEXT_BYTES} bytes"))
        } else {
            Ok(())
        }
    };
    if ignore_case && !matches!(value, J::String(_) | J::Array(_)) {
        return Err("`ignore_case` applies to text values only".into());
    }
    match (op, value) {
        (Op::Num(op), J::Number(n)) => {
            let limit = n.as_f64().filter(|v| v.is_finite()).ok_or("`value` must be a finite number")?;
            Ok(Test::Num(op, limit))
        }
        (Op::Num(NumOp::Eq), J::Bool(expected)) => Ok(Test::Bool { expected, equal: true }),
        (Op::Num(NumOp::Ne), J::Bool(expected)) => Ok(Test::Bool { expected, equal: false }),
        (Op::Num(_), J::Bool(_)) => Err(format!("`op` {op_name:?} does not apply to a boolean (use == or !=)")),
        (Op::Num(NumOp::Eq), J::String(s)) => {
            check_len(&s)?;
            Ok(Test::Text { op: TextOp::Eq, value: fold(&s), ignore_case })
        }
        (Op::Num(NumOp::Ne), J::String(s)) => {
            check_len(&s)?;
            Ok(Test::Text { op: TextOp::Ne, value: fold(&s), ignore_case })
        }
        (Op::Num(_), J::String(_)) => Err(format!(
            "`op` {op_name:?} does not apply to text (use ==, !=, starts_with, ends_with, contains or not_contains)"
        )),
        (Op::Text(op), J::String(s)) => {
            check_len(&s)?;
            Ok(Test::Text { op, value: fold(&s), ignore_case })
        }
        (Op::Text(_), _) => Err(format!("`op` {op_name:?} needs a string `value`")),
        (Op::In(negate), J::Array(items)) => {
            if items.is_empty() || items.len() > MAX_LIST {
                return Err(format!("`value` of `in` / `not_in` must list 1 to {MAX_LIST} values"));
            }
            if items.iter().all(J::is_number) && !ignore_case {
                let values = items.iter().filter_map(J::as_f64).filter(|v| v.is_finite()).collect::<Vec<_>>();
                if values.len() != items.len() {
                    return Err("`value` numbers must be finite".into());
                }
                return Ok(Test::InNum { values, negate });
            }
            let values = items
                .iter()
                .map(|item| match item {
                    J::String(s) => check_len(s).map(|()| fold(s)),
                    _ => Err("`value` of `in` / `not_in` must be all numbers or all strings".into()),
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok(Test::InText { values, negate, ignore_case })
        }
        (Op::In(_), _) => Err(format!("`op` {op_name:?} needs an array `value`")),
        (Op::Num(_), _) => Err("`value` must be a number, a boolean or a string".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(json: &str) -> Result<(Condition, Vec<String>), String> {
        let raw: RawCondition = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let mut compiler = Compiler::default();
        let condition = compiler.compile(raw, "c")?;
        Ok((condition, compiler.keys))
    }

    #[test]
    fn invalid_conditions_are_explained() {
        for (json, fragment) in [
            (r#"{}"#, "exactly one"),
            (r#"{"key": "a", "all": []}"#, "exactly one"),
            (r#"{"key": "a", "op": ">"}"#, "needs `op` and `value`"),
            (r#"{"key": "a", "op": "~", "value": 1}"#, "unknown `op`"),
            (r#"{"key": "a", "op": ">", "value": "x"}"#, "does not apply to text"),
            (r#"{"key": "a", "op": ">", "value": true}"#, "does not apply to a boolean"),
            (r#"{"key": "a", "op": "contains", "value": 1}"#, "needs a string"),
            (r#"{"key": "a", "op": "in", "value": 1}"#, "needs an array"),
            (r#"{"key": "a", "op": "in", "value": []}"#, "1 to"),
            (r#"{"key": "a", "op": "in", "value": [1, "x"]}"#, "all numbers or all strings"),
            (r#"{"key": "a", "op": ">", "value": 1, "ignore_case": true}"#, "text values only"),
            (r#"{"key": "a", "missing_for_ms": 0}"#, "must be > 0"),
            (r#"{"key": "a", "missing_for_ms": 5, "op": ">"}"#, "takes no `op`"),
            (r#"{"key": "", "op": ">", "value": 1}"#, "must not be empty"),
            (r#"{"all": [{"key": "a"}]}"#, "c.all[0]"),
            (r#"{"any": [], "op": ">"}"#, "belong to a predicate"),
            (
                r#"{"not": {"not": {"not": {"not": {"not": {"not": {"not": {"not": {"key": "a", "missing_for_ms": 1}}}}}}}}}"#,
                "deeper",
            ),
        ] {
            let err = compile(json).expect_err(json);
            assert!(err.contains(fragment), "{json}: {err}");
        }
    }
}
