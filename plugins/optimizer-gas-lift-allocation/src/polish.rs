//! The continuous polish of an allocation on the true curves and the DP
//! safeguard on a grid of the gas limit.

use crate::allocate::WellInput;
use crate::fit::golden_min;

/// Step of the numerical slopes, Mscf/d.
const H: f64 = 1.0e-3;
/// Smallest oil gain a move must bring, STB/d.
const MIN_GAIN: f64 = 1.0e-12;

/// Improves `gas` in place by pairwise transfers: the well with the highest
/// up-slope gets gas from the well with the lowest down-slope, the amount
/// found by golden-section search on a small interval (a few sample steps of
/// the two wells); gas a well is better without (negative down-slope) is
/// released, and slack under the limit goes to the well with the highest
/// positive up-slope. Moves are accepted only if they raise the true total;
/// a well at zero with `lo > 0` (shut in) and a well at `lo` stay on their
/// side of the gap (that choice is the discrete stages').
pub fn polish(wells: &[WellInput], gas: &mut [f64], limit: Option<f64>, sample_steps: &[f64]) {
    let n = wells.len();
    if n == 0 {
        return;
    }
    let window: Vec<f64> = sample_steps.iter().map(|s| (8.0 * s).max(1.0e-6)).collect();
    let mut up: Vec<f64> = (0..n).map(|i| up_slope(&wells[i], gas[i])).collect();
    let mut down: Vec<f64> = (0..n).map(|i| down_slope(&wells[i], gas[i])).collect();
    for _ in 0..(200 * n + 1000) {
        // Gas a well is better without (past its peak) is released first.
        if let Some(j) = (0..n).filter(|&j| down[j] < 0.0).min_by(|&a, &b| down[a].total_cmp(&down[b])) {
            let v = &wells[j];
            let reach = (gas[j] - v.lo).min(window[j]).max(0.0);
            let base = v.curve.oil(gas[j]);
            let t = best_step(|t| v.curve.oil(gas[j] - t), reach);
            if v.curve.oil(gas[j] - t) > base + MIN_GAIN {
                gas[j] -= t;
                up[j] = up_slope(v, gas[j]);
                down[j] = down_slope(v, gas[j]);
                continue;
            }
        }
        let Some(i) = (0..n).filter(|&i| up[i].is_finite()).max_by(|&a, &b| up[a].total_cmp(&up[b])) else {
            break;
        };
        let slack = limit.map_or(f64::INFINITY, |g| g - gas.iter().sum::<f64>());
        let w = &wells[i];
        if slack > 1.0e-9 && up[i] > 0.0 {
            let reach = slack.min(w.hi - gas[i]).min(window[i]);
            let base = w.curve.oil(gas[i]);
            let t = best_step(|t| w.curve.oil(gas[i] + t), reach);
            if w.curve.oil(gas[i] + t) > base + MIN_GAIN {
                gas[i] += t;
                up[i] = up_slope(w, gas[i]);
                down[i] = down_slope(w, gas[i]);
                continue;
            }
        }
        let Some(j) = (0..n).filter(|&j| j != i && down[j].is_finite()).min_by(|&a, &b| down[a].total_cmp(&down[b]))
        else {
            break;
        };
        if up[i] <= down[j] + 1.0e-12 {
            break;
        }
        let v = &wells[j];
        let reach = (w.hi - gas[i]).min(gas[j] - v.lo).min(window[i].max(window[j])).max(0.0);
        let (gi, gj) = (gas[i], gas[j]);
        let pair = |t: f64| w.curve.oil(gi + t) + v.curve.oil(gj - t);
        let base = pair(0.0);
        let t = best_step(pair, reach);
        if pair(t) <= base + MIN_GAIN {
            break;
        }
        gas[i] = gi + t;
        gas[j] = gj - t;
        for k in [i, j] {
            up[k] = up_slope(&wells[k], gas[k]);
            down[k] = down_slope(&wells[k], gas[k]);
        }
    }
}

/// The step in `[0, reach]` maximising `f` (golden section, then the end).
fn best_step(f: impl Fn(f64) -> f64, reach: f64) -> f64 {
    if reach <= 0.0 {
        return 0.0;
    }
    let t = golden_min(|t| -f(t), 0.0, reach, 1.0e-12 * reach.max(1.0));
    if f(reach) >= f(t) { reach } else { t }
}

/// Slope of moving up from `g`; −∞ when the well cannot move up continuously.
fn up_slope(w: &WellInput, g: f64) -> f64 {
    if !w.has_interval() || g < w.lo - 1.0e-9 || g >= w.hi - 1.0e-12 {
        return f64::NEG_INFINITY;
    }
    let h = H.min(w.hi - g);
    (w.curve.oil(g + h) - w.curve.oil(g)) / h
}

/// Slope of moving down from `g`; +∞ when the well cannot move down continuously.
fn down_slope(w: &WellInput, g: f64) -> f64 {
    if !w.has_interval() || g <= w.lo + 1.0e-12 || g > w.hi + 1.0e-9 {
        return f64::INFINITY;
    }
    let h = H.min(g - w.lo);
    (w.curve.oil(g) - w.curve.oil(g - h)) / h
}

/// The DP safeguard: the best allocation with every injection on a grid of
/// `limit / steps` (plus each well's `lo` and `hi`, charged the grid units
/// above them), exact on that grid; `None` when the wells' smallest
/// injections do not fit.
pub fn dp(wells: &[WellInput], limit: f64, steps: usize) -> Option<Vec<f64>> {
    let steps = steps.max(1);
    if limit <= 0.0 {
        return None;
    }
    let d = limit / steps as f64;
    let units = |g: f64| (g / d - 1.0e-9).ceil().max(0.0) as usize;
    let options: Vec<Vec<(usize, f64, f64)>> = wells
        .iter()
        .map(|w| {
            let mut o = Vec::new();
            if w.allow_zero || !w.has_interval() {
                o.push((0, 0.0, w.curve.oil(0.0)));
            }
            if w.has_interval() {
                let mut gs = vec![w.lo];
                let first = (w.lo / d).floor() as usize + 1;
                let mut k = first;
                while (k as f64) * d < w.hi && k <= steps {
                    gs.push(k as f64 * d);
                    k += 1;
                }
                if w.hi > w.lo {
                    gs.push(w.hi);
                }
                for g in gs {
                    let u = units(g);
                    if u <= steps {
                        o.push((u, g, w.curve.oil(g)));
                    }
                }
            }
            o
        })
        .collect();
    let mut best = vec![0.0f64; steps + 1];
    let mut choice: Vec<Vec<u32>> = Vec::with_capacity(wells.len());
    for opts in &options {
        let mut next = vec![f64::NEG_INFINITY; steps + 1];
        let mut pick = vec![u32::MAX; steps + 1];
        for u in 0..=steps {
            for (o, &(cost, _, q)) in opts.iter().enumerate() {
                if cost <= u {
                    let v = best[u - cost] + q;
                    if v > next[u] {
                        next[u] = v;
                        pick[u] = o as u32;
                    }
                }
            }
        }
        best = next;
        choice.push(pick);
    }
    if !best[steps].is_finite() {
        return None;
    }
    let mut gas = vec![0.0; wells.len()];
    let mut u = steps;
    for w in (0..wells.len()).rev() {
        let o = choice[w][u];
        if o == u32::MAX {
            return None;
        }
        let (cost, g, _) = options[w][o as usize];
        gas[w] = g;
        u -= cost;
    }
    Some(gas)
}
