//! The 3W anomaly-detection benchmark (benchmark 2 of Vargas et al. 2019,
//! demo-2 notebook): per real instance of classes 1, 2, 5, 6, 7, 8 with at
//! least 20 min of normal data, 180-row windows; the earliest 60 % of up to
//! 15 normal windows train the detector, the rest of the normal windows and
//! as many transient and steady-state windows are the balanced test set;
//! the score is the accuracy on it.
//!
//! A detector is an alarm rule fed one window per call: the training windows
//! first, then the test windows. A test window counts as flagged when the
//! rule's alarm is open after the call (its last signal was a raise).

use serde::Serialize;

use crate::EvalError;
use crate::dataset::Instance;
use crate::replay::{self, Rule};

/// Rows per window.
pub const WINDOW: usize = 180;
/// Most windows taken from one period.
pub const MAX_PER_PERIOD: usize = 15;
/// Fewest normal rows for an instance to be scored.
pub const MIN_NORMAL_ROWS: usize = 1200;
/// The classes of benchmark 2.
pub const CLASSES: [u32; 6] = [1, 2, 5, 6, 7, 8];

/// Window start rows of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Windows {
    /// Training windows (normal).
    pub train: Vec<usize>,
    /// Normal test windows.
    pub normal: Vec<usize>,
    /// Transient test windows.
    pub transient: Vec<usize>,
    /// Steady-state test windows.
    pub steady: Vec<usize>,
}

fn first_last(labels: &[Option<u32>], code: u32) -> Option<(usize, usize)> {
    let first = labels.iter().position(|l| *l == Some(code))?;
    let last = labels.iter().rposition(|l| *l == Some(code))?;
    Some((first, last))
}

/// Python's `(max - 1) // 14` for the step between windows.
fn step(max: i64) -> usize {
    ((max - 1).div_euclid(MAX_PER_PERIOD as i64 - 1)).max(0) as usize
}

/// The windows of an instance, or `None` when the benchmark skips it.
pub fn windows(instance: &Instance) -> Option<Windows> {
    let labels = &instance.labels;
    let w = WINDOW as i64;
    let normal_rows = labels.iter().filter(|l| **l == Some(0)).count();
    if normal_rows < MIN_NORMAL_ROWS {
        return None;
    }
    let (first, last) = first_last(labels, 0)?;
    let max_normal = last as i64 - first as i64 + 1 - w;
    if max_normal <= 0 {
        return None;
    }
    let n = (MAX_PER_PERIOD as i64).min(max_normal) as usize;
    let n_train = (0.6 * n as f64) as usize;
    let n_test = n - n_train;
    let normal_step = if n <= 1 { 1 } else { step(max_normal).min(WINDOW) };
    let normal: Vec<usize> = (0..n).map(|j| last + 1 - WINDOW - (n - 1 - j) * normal_step).collect();

    let class = instance.class;
    let period = |code: u32, extend_end: bool| -> (usize, i64) {
        match first_last(labels, code) {
            Some((f, l)) => {
                let f = f.saturating_sub(WINDOW - 1);
                let l = if extend_end { (l + WINDOW - 1).min(labels.len() - 1) } else { l };
                (f, l as i64 - f as i64 + 1 - w)
            }
            None => (0, 0),
        }
    };
    let (f_transient, max_transient) = period(class + 100, false);
    let (f_steady, max_steady) = period(class, true);
    let (max_transient, max_steady) = (max_transient.max(0) as usize, max_steady.max(0) as usize);
    let mut n_transient = n_test.div_ceil(2);
    let mut n_steady = n_test - n_transient;
    if n_steady > max_steady {
        n_steady = max_steady;
        n_transient = (n_test - n_steady).min(max_transient);
    } else if n_transient > max_transient {
        n_transient = max_transient;
        n_steady = (n_test - n_transient).min(max_steady);
    }
    let transient_step = step(max_transient as i64);
    let steady_step = step(max_steady as i64).min(WINDOW);
    Some(Windows {
        train: normal[..n_train].to_vec(),
        normal: normal[n_train..].to_vec(),
        transient: (0..n_transient).map(|j| f_transient + j * transient_step).collect(),
        steady: (0..n_steady).map(|j| f_steady + j * steady_step).collect(),
    })
}

/// The score of one instance.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceScore {
    /// Instance name.
    pub instance: String,
    /// Event class.
    pub class: u32,
    /// Accuracy on the balanced test set.
    pub score: f64,
    /// Abnormal windows flagged.
    pub true_positives: usize,
    /// Normal windows not flagged.
    pub true_negatives: usize,
    /// Test windows.
    pub tests: usize,
}

/// Trains and tests a detector on one instance (NaN replaced by 0, as the
/// benchmark does); `None` when the benchmark skips the instance.
pub fn score(instance: &Instance, rule: &mut dyn Rule) -> Result<Option<InstanceScore>, EvalError> {
    let Some(windows) = windows(instance) else { return Ok(None) };
    rule.reset();
    let mut call = |start: usize| -> Result<bool, EvalError> {
        let readings = replay::rows(instance, start..start + WINDOW, Some(0.0));
        let now = instance.ts[start + WINDOW - 1];
        let signals = rule.evaluate(now, &readings).map_err(|reason| EvalError::Rule {
            instance: instance.name.clone(),
            ts: now,
            reason,
        })?;
        Ok(replay::open_after(false, &signals))
    };
    for &start in &windows.train {
        call(start)?;
    }
    let mut true_negatives = 0;
    for &start in &windows.normal {
        true_negatives += usize::from(!call(start)?);
    }
    let mut true_positives = 0;
    for &start in windows.transient.iter().chain(&windows.steady) {
        true_positives += usize::from(call(start)?);
    }
    let tests = windows.normal.len() + windows.transient.len() + windows.steady.len();
    Ok(Some(InstanceScore {
        instance: instance.name.clone(),
        class: instance.class,
        score: (true_positives + true_negatives) as f64 / tests.max(1) as f64,
        true_positives,
        true_negatives,
        tests,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(class: u32, labels: Vec<Option<u32>>) -> Instance {
        let n = labels.len();
        Instance {
            name: "WELL-TEST".into(),
            class,
            variables: vec!["x".into()],
            ts: (0..n as i64).map(|i| i * 1000).collect(),
            values: vec![vec![0.0]; n],
            labels,
        }
    }

    #[test]
    fn short_normal_periods_are_skipped() {
        let labels = [vec![Some(0); 1199], vec![Some(102); 500], vec![Some(2); 500]].concat();
        assert_eq!(windows(&instance(2, labels)), None);
    }

    #[test]
    fn windows_follow_the_notebook() {
        let labels = [vec![Some(0); 3000], vec![Some(102); 600], vec![Some(2); 2000]].concat();
        let w = windows(&instance(2, labels)).expect("scored");
        assert_eq!((w.train.len(), w.normal.len(), w.transient.len(), w.steady.len()), (9, 6, 3, 3));
        // The last normal window ends at the last normal row (2999).
        assert_eq!(w.normal.last().copied(), Some(3000 - WINDOW));
        // Step min(180, (2821 - 1) // 14 = 201) = 180.
        assert_eq!(w.train[1] - w.train[0], 180);
        // Transient windows start 179 rows before the first transient row,
        // step (max - 1) // 14 with max = 600 + 179 - 180 + 1.
        assert_eq!(w.transient[0], 3000 - 179);
        assert_eq!(w.transient[1] - w.transient[0], (600 + 179 - 180) / 14);
        assert!(w.train.windows(2).all(|p| p[0] < p[1]));
    }

    #[test]
    fn a_short_transient_gives_its_quota_to_the_steady_state() {
        let labels = [vec![Some(0); 3000], vec![Some(102); 1], vec![Some(2); 2000]].concat();
        let w = windows(&instance(2, labels)).expect("scored");
        assert_eq!(w.transient.len() + w.steady.len(), 6);
        assert!(w.transient.len() <= 1);
    }
}
