//! 3W replay support for the native harness: reads the gzip-compressed
//! instances of `shared/data/3w` (Petrobras 3W dataset, CC BY 4.0, Vargas et
//! al., J. Pet. Sci. Eng. 181 (2019) 106223) and replays them through a rule
//! the way `nexus eval detect` does: 60-row batches, one series per CSV
//! column, missing values left out, timestamps in ms, state carried across
//! calls through a JSON round trip.

use std::io::Read;
use std::path::{Path, PathBuf};

use nexus_plugin_sdk::{AlarmAction, AlarmSignal, Sample, Series, Value};
use serde::{Serialize, de::DeserializeOwned};

/// Rows per call: one minute of 1 Hz data.
pub const BATCH_ROWS: usize = 60;

/// One instance, column-major.
pub struct Instance {
    pub name: String,
    pub class: u32,
    pub columns: Vec<String>,
    pub ts: Vec<i64>,
    /// One vector per column; NaN where missing.
    pub values: Vec<Vec<f64>>,
    pub labels: Vec<Option<u32>>,
}

impl Instance {
    fn first_abnormal(&self) -> Option<usize> {
        self.labels.iter().position(|l| l.is_some_and(|l| l != 0))
    }

    fn event_start(&self) -> Option<usize> {
        self.labels.iter().position(|l| l.is_some_and(|l| l >= 100)).or_else(|| self.first_abnormal())
    }

    /// The batch of rows `range`: one series per column with any value.
    fn batch(&self, range: std::ops::Range<usize>) -> Vec<Series> {
        let mut batch = Vec::new();
        for (column, key) in self.columns.iter().enumerate() {
            let samples: Vec<Sample> = range
                .clone()
                .filter(|&row| !self.values[column][row].is_nan())
                .map(|row| Sample { ts: self.ts[row], value: Value::Number(self.values[column][row]), quality: 1.0 })
                .collect();
            if !samples.is_empty() {
                batch.push(Series { key: key.clone(), samples });
            }
        }
        batch
    }
}

/// `shared/data/3w` beside the repository, or `$NEXUS_3W_DIR`; `None` (and a
/// note) when it is not there, so the harness skips on machines without it.
pub fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("NEXUS_3W_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/3w"));
    if dir.join("0").is_dir() {
        Some(dir)
    } else {
        println!("3W data not found at {}: harness skipped", dir.display());
        None
    }
}

/// The real (`WELL-*`) instances of a class, sorted by name.
pub fn load_class(root: &Path, class: u32) -> Vec<Instance> {
    let dir = root.join(class.to_string());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("class folder")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("WELL-") && n.ends_with(".csv.gz"))
        })
        .collect();
    files.sort();
    files.iter().map(|f| read(f, class)).collect()
}

fn read(path: &Path, class: u32) -> Instance {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).expect("open instance"))
        .read_to_string(&mut text)
        .expect("gunzip instance");
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().trim_end_matches(".csv.gz").to_string();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    assert_eq!((header[0], header[header.len() - 1]), ("timestamp", "class"), "{name}: header");
    let columns: Vec<String> = header[1..header.len() - 1].iter().map(|s| s.to_string()).collect();
    let mut instance =
        Instance { name, class, values: vec![Vec::new(); columns.len()], columns, ts: Vec::new(), labels: Vec::new() };
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), header.len(), "{}: {line}", instance.name);
        instance.ts.push(parse_timestamp(fields[0]).expect("timestamp"));
        for (column, field) in fields[1..fields.len() - 1].iter().enumerate() {
            instance.values[column].push(field.parse().unwrap_or(f64::NAN));
        }
        let label = fields[fields.len() - 1];
        instance.labels.push(label.parse::<f64>().ok().map(|l| l as u32));
    }
    instance
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC) → ms since the Unix epoch.
fn parse_timestamp(text: &str) -> Option<i64> {
    let (date, time) = text.split_once(' ')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let hms = time.split('.').next()?;
    let mut t = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next()??, t.next()??);
    // Days since 1970-01-01 (H. Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Some((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1000)
}

/// What a rule did on one instance, as `nexus eval detect` scores it.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    pub class: u32,
    pub hours: f64,
    /// Hours before the first abnormal label (all of it for class 0).
    pub normal_hours: f64,
    /// Seconds from the event start to the first raise at or after the first
    /// abnormal label; `None` if there is none.
    pub delay_s: Option<f64>,
    /// Raises before the first abnormal label (all raises for class 0).
    pub false_alarms: usize,
    pub raises: usize,
    pub clears: usize,
    /// Largest state seen, in bytes of JSON.
    pub max_state_bytes: usize,
}

/// Replays `instance` in 60-row batches through `evaluate`, from a default
/// state that goes through JSON between calls, as the host keeps it.
pub fn replay<S, F>(instance: &Instance, mut evaluate: F) -> Outcome
where
    S: Serialize + DeserializeOwned + Default,
    F: FnMut(&mut S, &[Series]) -> Vec<AlarmSignal>,
{
    let n = instance.ts.len();
    let mut stored = serde_json::to_vec(&S::default()).expect("encode state");
    let (mut raises, mut clears, mut max_state_bytes) = (Vec::new(), 0, 0);
    for start in (0..n).step_by(BATCH_ROWS) {
        let batch = instance.batch(start..(start + BATCH_ROWS).min(n));
        let mut state: S = serde_json::from_slice(&stored).expect("decode state");
        for signal in evaluate(&mut state, &batch) {
            match signal.action {
                AlarmAction::Raise => raises.push(signal.ts),
                AlarmAction::Clear => clears += 1,
            }
        }
        stored = serde_json::to_vec(&state).expect("encode state");
        max_state_bytes = max_state_bytes.max(stored.len());
    }
    let abnormal = instance.first_abnormal().map(|i| instance.ts[i]);
    let event = instance.event_start().map(|i| instance.ts[i]);
    let detection = abnormal.and_then(|t| raises.iter().copied().find(|&r| r >= t));
    Outcome {
        name: instance.name.clone(),
        class: instance.class,
        hours: n as f64 / 3600.0,
        normal_hours: instance.first_abnormal().unwrap_or(n) as f64 / 3600.0,
        delay_s: detection.zip(event).map(|(d, e)| (d - e) as f64 / 1000.0),
        false_alarms: raises.iter().filter(|&&r| abnormal.is_none_or(|t| r < t)).count(),
        raises: raises.len(),
        clears,
        max_state_bytes,
    }
}

/// Totals over a set of outcomes.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub instances: usize,
    pub detected: usize,
    /// Median delay as `nexus eval` prints it (the upper median).
    pub median_delay_s: Option<f64>,
    pub false_alarms: usize,
    pub normal_hours: f64,
}

impl Summary {
    pub fn of(outcomes: &[Outcome]) -> Self {
        let mut delays: Vec<f64> = outcomes.iter().filter_map(|o| o.delay_s).collect();
        delays.sort_by(f64::total_cmp);
        Self {
            instances: outcomes.len(),
            detected: delays.len(),
            median_delay_s: delays.get(delays.len() / 2).copied(),
            false_alarms: outcomes.iter().map(|o| o.false_alarms).sum(),
            normal_hours: outcomes.iter().map(|o| o.normal_hours).sum(),
        }
    }

    /// False alarms per 24 h of normal data.
    pub fn false_alarms_per_day(&self) -> f64 {
        if self.normal_hours > 0.0 { self.false_alarms as f64 / self.normal_hours * 24.0 } else { 0.0 }
    }
}

/// Prints a per-instance table and the totals.
pub fn print_table(title: &str, outcomes: &[Outcome]) -> Summary {
    println!("\n## {title}\n");
    println!("| instance | class | hours | detected | delay (s) | false alarms | raises | clears | max state (B) |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for o in outcomes {
        let detected = match (o.class, o.delay_s) {
            (0, _) => "–",
            (_, Some(_)) => "yes",
            (_, None) => "no",
        };
        let delay = o.delay_s.map_or("–".to_string(), |d| format!("{d:.0}"));
        println!(
            "| {} | {} | {:.1} | {detected} | {delay} | {} | {} | {} | {} |",
            o.name, o.class, o.hours, o.false_alarms, o.raises, o.clears, o.max_state_bytes
        );
    }
    let s = Summary::of(outcomes);
    let median = s.median_delay_s.map_or("–".to_string(), |d| format!("{d:.0}"));
    let detected = if outcomes.iter().all(|o| o.class == 0) {
        String::new()
    } else {
        format!("detected {}/{}, median delay {median} s, ", s.detected, s.instances)
    };
    println!(
        "\n{detected}false alarms {} in {:.1} h of normal data ({:.2} / 24 h)",
        s.false_alarms,
        s.normal_hours,
        s.false_alarms_per_day()
    );
    s
}
