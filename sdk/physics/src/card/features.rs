//! The normalised card and its shape features.
//!
//! **Normalisation.** The loop is rotated to start at its lowest position
//! and split at its highest into two halves; the one with the higher mean
//! load is the upstroke (so the loop may be listed either way round). Each half
//! is resampled by linear interpolation on [`GRID`] equally spaced positions
//! `x = 0, 0.01, …, 1` of the unit stroke (`x = (position − min)/stroke`),
//! then smoothed by a 5-point running median (keeps sharp edges, removes
//! noise). The **upper level** (the upstroke fluid-load line) is the largest
//! smoothed upstroke load over `x ∈ [0.05, 0.94]`, the **lower level** (the
//! downstroke load line) the smallest smoothed downstroke load over
//! `x ∈ [0.06, 0.95]` — both away from the stroke's ends, where tagging
//! spikes are. Loads are then `n = (load − lower)/(upper − lower)`: 0 on the
//! downstroke line, 1 on the fluid-load line.

use serde::{Deserialize, Serialize};

use super::{Card, CardError, min_max};

/// Points of the resampling grid over the unit stroke.
pub const GRID: usize = 101;

/// A card resampled on the unit stroke.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    /// Upstroke loads at `x = i/(GRID−1)`, normalised, running-median smoothed.
    pub up: Vec<f64>,
    /// Downstroke loads on the same grid, normalised, smoothed.
    pub down: Vec<f64>,
    /// Upstroke loads, normalised, not smoothed.
    pub up_raw: Vec<f64>,
    /// Downstroke loads, normalised, not smoothed.
    pub down_raw: Vec<f64>,
    /// The upper level (fluid-load line), lbf.
    pub upper_lbf: f64,
    /// The lower level (downstroke load line), lbf.
    pub lower_lbf: f64,
    /// Stroke, in.
    pub stroke_in: f64,
}

/// Shape features of a card; positions are fractions of the stroke from the
/// bottom, loads fractions of the span between the two levels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Features {
    /// Pump fillage: where the downstroke, from the top, first falls below
    /// 0.5 (1 when it starts below, 0 when it never does).
    pub fillage: f64,
    /// Stroke, in.
    pub stroke_in: f64,
    /// Upper level (upstroke fluid-load line), lbf.
    pub upper_load_lbf: f64,
    /// Lower level (downstroke load line), lbf.
    pub lower_load_lbf: f64,
    /// `upper − lower`, lbf.
    pub span_lbf: f64,
    /// Sharpness of the downstroke drop: stroke between the first falls,
    /// from the top, below 0.85 and below 0.15 (small: sharp).
    pub drop_width: f64,
    /// Position where the upstroke first reaches 0.5.
    pub rise_position: f64,
    /// Stroke between the upstroke's first reaching 0.15 and 0.85 (loading).
    pub rise_width: f64,
    /// `1 −` mean upstroke load over `x ∈ [0.80, 0.92]`: load lost towards
    /// the top of the upstroke.
    pub top_droop: f64,
    /// Mean downstroke load over `x ∈ [0.04, 0.14]`: load picked up before
    /// the bottom of the downstroke.
    pub bottom_lift: f64,
    /// How far the raw downstroke dips below the lower level at `x ≤ 0.08`.
    pub bottom_spike: f64,
    /// How far the raw upstroke rises above the upper level at `x ≥ 0.92`.
    pub top_spike: f64,
    /// Area of the card over the area of the ideal rectangle (span × stroke).
    pub area_ratio: f64,
    /// Least-squares slope of the upstroke over `x ∈ [0.3, 0.7]`, per stroke.
    pub upstroke_slope: f64,
    /// Least-squares slope of the downstroke over `x ∈ [0.3, 0.7]`, per stroke.
    pub downstroke_slope: f64,
}

/// Position of grid point `i`.
fn x_at(i: usize) -> f64 {
    i as f64 / (GRID - 1) as f64
}

/// Grid indices of `x ∈ [a, b]`.
fn range(a: f64, b: f64) -> std::ops::RangeInclusive<usize> {
    let n = (GRID - 1) as f64;
    ((a * n).ceil() as usize)..=((b * n).floor() as usize).min(GRID - 1)
}

/// Resamples `(x, load)` points (any order) on the grid by linear
/// interpolation, constant beyond the ends.
fn resample(mut points: Vec<(f64, f64)>) -> Vec<f64> {
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = Vec::with_capacity(GRID);
    let mut j = 0;
    for i in 0..GRID {
        let x = x_at(i);
        while j + 1 < points.len() && points[j + 1].0 < x {
            j += 1;
        }
        let (x0, y0) = points[j];
        let value = match points.get(j + 1) {
            Some(&(x1, y1)) if x >= x0 && x1 > x0 => y0 + (y1 - y0) * ((x - x0) / (x1 - x0)).min(1.0),
            Some(&(_, y1)) if x >= x0 => y1,
            _ => y0,
        };
        out.push(value);
    }
    out
}

/// 5-point running median (shorter windows at the ends).
fn running_median(values: &[f64]) -> Vec<f64> {
    (0..values.len())
        .map(|i| {
            let mut w: Vec<f64> = values[i.saturating_sub(2)..(i + 3).min(values.len())].to_vec();
            w.sort_by(f64::total_cmp);
            w[w.len() / 2]
        })
        .collect()
}

/// The card rotated, split, resampled and normalised (see the module documentation).
pub fn normalize(card: &Card) -> Result<Normalized, CardError> {
    card.validate()?;
    let n = card.position.len();
    let (pmin, pmax) = min_max(&card.position);
    let stroke = pmax - pmin;
    let start = (0..n).min_by(|&a, &b| card.position[a].total_cmp(&card.position[b])).unwrap_or(0);
    let order: Vec<usize> = (0..=n).map(|k| (start + k) % n).collect();
    let top = (0..=n).max_by(|&a, &b| card.position[order[a]].total_cmp(&card.position[order[b]])).unwrap_or(0);
    let point = |k: usize| ((card.position[order[k]] - pmin) / stroke, card.load[order[k]]);
    let mut up = resample((0..=top).map(point).collect());
    let mut down = resample((top..=n).map(point).collect());
    // A pump lifts on the upstroke: the half with the higher mean load is
    // the upstroke, whichever way round the loop is listed.
    if mean(up.iter().copied()) < mean(down.iter().copied()) {
        std::mem::swap(&mut up, &mut down);
    }
    let (up_s, down_s) = (running_median(&up), running_median(&down));
    let upper = range(0.05, 0.94).map(|i| up_s[i]).fold(f64::NEG_INFINITY, f64::max);
    let lower = range(0.06, 0.95).map(|i| down_s[i]).fold(f64::INFINITY, f64::min);
    let span = upper - lower;
    if span.is_nan() || span <= 0.0 {
        return Err(CardError::FlatLoad);
    }
    let scale = |v: &Vec<f64>| v.iter().map(|l| (l - lower) / span).collect::<Vec<f64>>();
    Ok(Normalized {
        up: scale(&up_s),
        down: scale(&down_s),
        up_raw: scale(&up),
        down_raw: scale(&down),
        upper_lbf: upper,
        lower_lbf: lower,
        stroke_in: stroke,
    })
}

/// Position where `values`, scanned from the top (`x = 1`) down, first
/// falls below `level`, interpolated; 1 when it starts below, 0 when never.
fn first_fall_from_top(values: &[f64], level: f64) -> f64 {
    if values[GRID - 1] < level {
        return 1.0;
    }
    for i in (0..GRID - 1).rev() {
        if values[i] < level {
            let (a, b) = (values[i + 1], values[i]);
            return x_at(i) + (x_at(i + 1) - x_at(i)) * (level - b) / (a - b);
        }
    }
    0.0
}

/// Position where `values`, scanned from the bottom, first reaches `level`;
/// 0 when it starts there, 1 when never.
fn first_rise_from_bottom(values: &[f64], level: f64) -> f64 {
    if values[0] >= level {
        return 0.0;
    }
    for i in 1..GRID {
        if values[i] >= level {
            let (a, b) = (values[i - 1], values[i]);
            return x_at(i - 1) + (x_at(i) - x_at(i - 1)) * (level - a) / (b - a);
        }
    }
    1.0
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { 0.0 } else { s / n as f64 }
}

/// Least-squares slope of `values` over the grid indices `r`.
fn slope(values: &[f64], r: std::ops::RangeInclusive<usize>) -> f64 {
    let xs: Vec<f64> = r.clone().map(x_at).collect();
    let mx = mean(xs.iter().copied());
    let my = mean(r.clone().map(|i| values[i]));
    let sxy: f64 = r.clone().map(|i| (x_at(i) - mx) * (values[i] - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    if sxx > 0.0 { sxy / sxx } else { 0.0 }
}

/// The features of a card.
pub fn features(card: &Card) -> Result<Features, CardError> {
    let n = normalize(card)?;
    let fillage = first_fall_from_top(&n.down, 0.5);
    let drop_width = (first_fall_from_top(&n.down, 0.85) - first_fall_from_top(&n.down, 0.15)).max(0.0);
    let rise_width = (first_rise_from_bottom(&n.up, 0.85) - first_rise_from_bottom(&n.up, 0.15)).max(0.0);
    let area_ratio = mean((0..GRID).map(|i| n.up[i] - n.down[i]));
    Ok(Features {
        fillage,
        stroke_in: n.stroke_in,
        upper_load_lbf: n.upper_lbf,
        lower_load_lbf: n.lower_lbf,
        span_lbf: n.upper_lbf - n.lower_lbf,
        drop_width,
        rise_position: first_rise_from_bottom(&n.up, 0.5),
        rise_width,
        top_droop: 1.0 - mean(range(0.80, 0.92).map(|i| n.up[i])),
        bottom_lift: mean(range(0.04, 0.14).map(|i| n.down[i])),
        bottom_spike: (-range(0.0, 0.08).map(|i| n.down_raw[i]).fold(f64::INFINITY, f64::min)).max(0.0),
        top_spike: (range(0.92, 1.0).map(|i| n.up_raw[i]).fold(f64::NEG_INFINITY, f64::max) - 1.0).max(0.0),
        area_ratio,
        upstroke_slope: slope(&n.up, range(0.3, 0.7)),
        downstroke_slope: slope(&n.down, range(0.3, 0.7)),
    })
}
