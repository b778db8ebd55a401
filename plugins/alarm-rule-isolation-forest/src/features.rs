//! Window features and the z-score scaler of the 3W benchmark 2 (tsfresh's
//! `MinimalFCParameters` without `sum_values` and `length`).
//!
//! Per window and variable, [`window_stats`] gives six statistics of the raw
//! values: median, mean, standard deviation, variance, maximum and minimum
//! (population, ddof 0). Because a z-score x ↦ (x − μ)/σ is affine with a
//! positive slope, the statistics of the *scaled* values follow from the raw
//! ones: median, mean, max and min map to (s − μ)/σ, the standard deviation to
//! std/σ and the variance to var/σ². So only raw statistics are kept, and the
//! scaler itself comes from them: all windows have the same length, so the
//! mean over all training rows is the mean of the window means and the
//! variance is the mean of the window variances plus the variance of the
//! window means (law of total variance), which is exact and stays stable for
//! frozen sensors.

/// How many statistics one variable of one window has.
pub const STATS: usize = 6;

/// Median, mean, standard deviation, variance, maximum and minimum of one
/// variable over one window, on raw values.
pub type Stats = [f64; STATS];

/// The statistics of `values` (reordered in place); all zeros for an empty slice.
pub fn window_stats(values: &mut [f64]) -> Stats {
    let n = values.len();
    if n == 0 {
        return [0.0; STATS];
    }
    let count = n as f64;
    let mean = values.iter().sum::<f64>() / count;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / count;
    values.sort_unstable_by(f64::total_cmp);
    let median = if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 };
    [median, mean, var.sqrt(), var, values[n - 1], values[0]]
}

/// The z-score of one kept variable, fitted on the training rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// Index of the variable.
    pub index: usize,
    /// Mean over all training rows.
    pub mean: f64,
    /// Population standard deviation over all training rows (> `min_std`).
    pub std: f64,
}

/// The scaler of the variables whose standard deviation over all training
/// rows is above `min_std`, from the statistics of the training windows (one
/// `Vec<Stats>` per window, indexed by variable; a variable a window lacks
/// counts as all zeros). `variables` is the number of variables.
pub fn fit_scaler(training: &[Vec<Stats>], variables: usize, min_std: f64) -> Vec<Scale> {
    if training.is_empty() {
        return Vec::new();
    }
    let windows = training.len() as f64;
    let stat = |w: &Vec<Stats>, v: usize| w.get(v).copied().unwrap_or([0.0; STATS]);
    (0..variables)
        .filter_map(|index| {
            let mean = training.iter().map(|w| stat(w, index)[1]).sum::<f64>() / windows;
            let within = training.iter().map(|w| stat(w, index)[3]).sum::<f64>() / windows;
            let between = training.iter().map(|w| (stat(w, index)[1] - mean).powi(2)).sum::<f64>() / windows;
            let std = (within + between).sqrt();
            (std > min_std).then_some(Scale { index, mean, std })
        })
        .collect()
}

/// The feature vector of one window: for each scaled variable, in order, the
/// statistics of its scaled values.
pub fn scaled_features(stats: &[Stats], scaler: &[Scale]) -> Vec<f64> {
    let mut features = Vec::with_capacity(scaler.len() * STATS);
    for s in scaler {
        let [median, mean, std, var, max, min] = stats.get(s.index).copied().unwrap_or([0.0; STATS]);
        features.extend([
            (median - s.mean) / s.std,
            (mean - s.mean) / s.std,
            std / s.std,
            var / (s.std * s.std),
            (max - s.mean) / s.std,
            (min - s.mean) / s.std,
        ]);
    }
    features
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
    }

    #[test]
    fn statistics_are_population_ones() {
        let mut v = [4.0, 1.0, 3.0, 2.0];
        let [median, mean, std, var, max, min] = window_stats(&mut v);
        assert_eq!((median, mean, max, min), (2.5, 2.5, 4.0, 1.0));
        assert!(close(var, 1.25) && close(std, 1.25f64.sqrt()));
        assert_eq!(window_stats(&mut [7.0, -1.0, 3.0])[0], 3.0);
        assert_eq!(window_stats(&mut []), [0.0; STATS]);
    }

    #[test]
    fn a_frozen_sensor_has_zero_spread() {
        let mut v = [1.234_567e7; 180];
        let stats = window_stats(&mut v);
        assert!(stats[2] < 1e-6, "{}", stats[2]);
        let scaler = fit_scaler(&vec![vec![stats]; 9], 1, 0.01);
        assert!(scaler.is_empty());
    }

    #[test]
    fn the_scaler_equals_a_scaler_fitted_on_all_rows() {
        // Three windows of four rows, two variables (the second missing in window 0).
        let rows: Vec<Vec<[f64; 2]>> = vec![
            vec![[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 0.0]],
            vec![[10.0, 5.0], [11.0, 7.0], [12.0, 5.0], [9.0, 6.0]],
            vec![[5.0, 100.0], [5.0, 101.0], [6.0, 99.0], [5.0, 100.0]],
        ];
        let training: Vec<Vec<Stats>> = rows
            .iter()
            .enumerate()
            .map(|(w, window)| {
                let width = if w == 0 { 1 } else { 2 };
                (0..width).map(|v| window_stats(&mut window.iter().map(|r| r[v]).collect::<Vec<_>>())).collect()
            })
            .collect();
        let scaler = fit_scaler(&training, 2, 0.01);
        for v in 0..2 {
            let all: Vec<f64> = rows.iter().flatten().map(|r| r[v]).collect();
            let mean = all.iter().sum::<f64>() / all.len() as f64;
            let std = (all.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / all.len() as f64).sqrt();
            assert_eq!(scaler[v].index, v);
            assert!(close(scaler[v].mean, mean) && close(scaler[v].std, std), "{v}: {:?}", scaler[v]);
        }
    }

    #[test]
    fn scaled_features_are_the_statistics_of_scaled_values() {
        let raw = [3.0, 9.0, 4.0, 8.0, 1.0];
        let scale = Scale { index: 0, mean: 2.0, std: 4.0 };
        let mut scaled: Vec<f64> = raw.iter().map(|x| (x - scale.mean) / scale.std).collect();
        let direct = window_stats(&mut scaled);
        let derived = scaled_features(&[window_stats(&mut raw.clone())], &[scale]);
        assert_eq!(derived.len(), STATS);
        for (d, e) in derived.iter().zip(direct) {
            assert!(close(*d, e), "{derived:?} vs {direct:?}");
        }
    }

    #[test]
    fn variables_at_or_below_min_std_are_dropped() {
        let window = |a: f64, b: f64| vec![window_stats(&mut [a, a + 1.0]), window_stats(&mut [b, b + 0.001])];
        let training = vec![window(0.0, 5.0), window(1.0, 5.0)];
        let scaler = fit_scaler(&training, 2, 0.01);
        assert_eq!(scaler.iter().map(|s| s.index).collect::<Vec<_>>(), vec![0]);
        assert_eq!(scaled_features(&training[0], &scaler).len(), STATS);
    }
}
