//! 3W instances: `timestamp,P-PDG,P-TPT,T-TPT,P-MON-CKP,T-JUS-CKP,P-JUS-CKGL,T-JUS-CKGL,QGL,class`
//! at 1 Hz, gzip-compressed. Data: Petrobras 3W dataset
//! (<https://github.com/petrobras/3W>), CC BY 4.0 (Vargas et al., J. Pet.
//! Sci. Eng. 181 (2019) 106223).
//!
//! Two places: the subset of 21 real instances in this crate's `data/3w`
//! ([`bundled_dir`], with its README, attribution and manifest), which the
//! tests always have, and the full dataset wherever `NEXUS_3W_DIR` points
//! ([`full_dir`]), which the full-benchmark tests need.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::EvalError;

/// One instance: a table of 1 Hz rows.
#[derive(Debug, Clone)]
pub struct Instance {
    /// File name without `.csv.gz`.
    pub name: String,
    /// Event class of the folder (0 normal, 1..8).
    pub class: u32,
    /// Variable names, in column order.
    pub variables: Vec<String>,
    /// Row timestamps, ms since the Unix epoch (UTC).
    pub ts: Vec<i64>,
    /// Row values, one per variable; NaN where missing.
    pub values: Vec<Vec<f64>>,
    /// Row labels: 0 normal, k steady state, 100+k transient; `None` unlabeled.
    pub labels: Vec<Option<u32>>,
}

impl Instance {
    /// Whether this is a real instance (not simulated or hand-drawn).
    pub fn is_real(&self) -> bool {
        self.name.starts_with("WELL-")
    }

    /// Index of the first row whose label is abnormal (not 0, not missing).
    pub fn first_abnormal(&self) -> Option<usize> {
        self.labels.iter().position(|l| l.is_some_and(|l| l != 0))
    }

    /// Index of the first transient row (`100+k`), else the first abnormal one.
    pub fn event_start(&self) -> Option<usize> {
        self.labels.iter().position(|l| l.is_some_and(|l| l >= 100)).or_else(|| self.first_abnormal())
    }

    /// Hours covered by the rows.
    pub fn hours(&self) -> f64 {
        self.ts.len() as f64 / 3600.0
    }
}

/// The environment variable that points at the full 3W dataset.
pub const FULL_DATA_VAR: &str = "NEXUS_3W_DIR";

/// The subset of the 3W data shipped with the repository (`host/eval/data/3w`).
pub fn bundled_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/3w")
}

/// The full 3W dataset, if `NEXUS_3W_DIR` names a directory.
pub fn full_dir() -> Option<PathBuf> {
    std::env::var_os(FULL_DATA_VAR).map(PathBuf::from).filter(|dir| dir.is_dir())
}

/// Where `nexus eval` reads 3W data by default: `$NEXUS_3W_DIR`, else the
/// bundled subset.
pub fn default_dir() -> PathBuf {
    full_dir().unwrap_or_else(bundled_dir)
}

/// Reads the instances of the given classes under `root` (only the real
/// `WELL-*` ones with `real_only`), sorted by class and name.
pub fn read_classes(root: &Path, classes: &[u32], real_only: bool) -> Result<Vec<Instance>, EvalError> {
    list(root, classes, real_only)?.iter().map(|path| read(path)).collect()
}

/// The instance files of the given classes under `root`, sorted.
pub fn list(root: &Path, classes: &[u32], real_only: bool) -> Result<Vec<PathBuf>, EvalError> {
    let mut files = Vec::new();
    for class in classes {
        let dir = root.join(class.to_string());
        let entries = std::fs::read_dir(&dir).map_err(|e| data_error(&dir, e))?;
        for entry in entries {
            let path = entry.map_err(|e| data_error(&dir, e))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.ends_with(".csv.gz") && (!real_only || name.starts_with("WELL-")) {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

fn data_error(path: &Path, reason: impl std::fmt::Display) -> EvalError {
    EvalError::Data { path: path.display().to_string(), reason: reason.to_string() }
}

/// Reads one `<class>/<name>.csv.gz` instance.
pub fn read(path: &Path) -> Result<Instance, EvalError> {
    let file = std::fs::File::open(path).map_err(|e| data_error(path, e))?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(file).read_to_string(&mut text).map_err(|e| data_error(path, e))?;
    let class = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| data_error(path, "the parent folder must be the class number"))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().trim_end_matches(".csv.gz").to_string();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or_else(|| data_error(path, "empty file"))?.split(',').collect();
    if header.len() < 3 || header[0] != "timestamp" || header[header.len() - 1] != "class" {
        return Err(data_error(path, "expected a header `timestamp,<variables>,class`"));
    }
    let variables: Vec<String> = header[1..header.len() - 1].iter().map(|s| s.to_string()).collect();
    let mut instance = Instance { name, class, variables, ts: Vec::new(), values: Vec::new(), labels: Vec::new() };
    for (n, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != header.len() {
            return Err(data_error(
                path,
                format!("line {}: {} fields, expected {}", n + 2, fields.len(), header.len()),
            ));
        }
        let ts =
            parse_timestamp(fields[0]).ok_or_else(|| data_error(path, format!("line {}: bad timestamp", n + 2)))?;
        let values = fields[1..fields.len() - 1].iter().map(|f| f.parse().unwrap_or(f64::NAN)).collect();
        let label = fields[fields.len() - 1];
        let label = if label.is_empty() { None } else { label.parse::<f64>().ok().map(|l| l as u32) };
        instance.ts.push(ts);
        instance.values.push(values);
        instance.labels.push(label);
    }
    Ok(instance)
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC) → ms since the Unix epoch.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let (date, time) = text.split_once(' ')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next()??, t.next()??);
    let micros: i64 = format!("{frac:0<6}")[..6].parse().ok()?;
    Some((days_from_civil(y, m, day) * 86_400 + hh * 3600 + mm * 60 + ss) * 1000 + micros / 1000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_ms() {
        assert_eq!(parse_timestamp("1970-01-01 00:00:01.000000"), Some(1000));
        assert_eq!(parse_timestamp("2017-02-01 02:02:07.000000"), Some(1_485_914_527_000));
        assert_eq!(parse_timestamp("2000-02-29 12:00:00"), Some(951_825_600_000));
        assert_eq!(parse_timestamp("nonsense"), None);
    }
}
