//! A curve `y(q)`: a polynomial in `q`, or a table of points linearly
//! interpolated. Pump catalogues give stage curves either way.

use serde::{Deserialize, Serialize};

use crate::{PhysicsError, Result};

/// A function of the rate `q` (bbl/d), such as head per stage (ft) or brake
/// horsepower per stage (hp) at base frequency.
///
/// In JSON: `{"polynomial": [c0, c1, c2]}` or `{"table": [[q0, y0], [q1, y1]]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Curve {
    /// `y = c₀ + c₁·q + c₂·q² + …`, coefficients lowest power first.
    Polynomial(Vec<f64>),
    /// Points `[q, y]` with strictly increasing `q`, linearly interpolated;
    /// outside the table the first or last segment is extended.
    Table(Vec<[f64; 2]>),
}

impl Curve {
    /// The polynomial `c₀ + c₁·q + …` (coefficients lowest power first).
    pub fn polynomial(coefficients: impl Into<Vec<f64>>) -> Self {
        Self::Polynomial(coefficients.into())
    }

    /// The table of `(q, y)` points.
    pub fn table(points: impl IntoIterator<Item = (f64, f64)>) -> Self {
        Self::Table(points.into_iter().map(|(q, y)| [q, y]).collect())
    }

    /// Checks the curve: at least one coefficient, or at least two points
    /// with strictly increasing `q`; everything finite.
    pub fn validate(&self, name: &'static str) -> Result<()> {
        match self {
            Self::Polynomial(c) => {
                if c.is_empty() || c.iter().any(|v| !v.is_finite()) {
                    return Err(PhysicsError::invalid(name, "a polynomial needs finite coefficients"));
                }
            }
            Self::Table(points) => {
                if points.len() < 2 || points.iter().flatten().any(|v| !v.is_finite()) {
                    return Err(PhysicsError::invalid(name, "a table needs at least two finite points"));
                }
                if points.windows(2).any(|w| w[1][0] <= w[0][0]) {
                    return Err(PhysicsError::invalid(name, "table rates must be strictly increasing"));
                }
            }
        }
        Ok(())
    }

    /// `y(q)`.
    pub fn eval(&self, q: f64) -> f64 {
        match self {
            Self::Polynomial(c) => c.iter().rev().fold(0.0, |acc, &ci| acc * q + ci),
            Self::Table(points) => {
                let [q0, y0, q1, y1] = segment(points, q);
                y0 + (y1 - y0) * (q - q0) / (q1 - q0)
            }
        }
    }

    /// `dy/dq` at `q` (for a table, the slope of the segment holding `q`).
    pub fn slope(&self, q: f64) -> f64 {
        match self {
            Self::Polynomial(c) => {
                c.iter().enumerate().skip(1).rev().fold(0.0, |acc, (i, &ci)| acc * q + i as f64 * ci)
            }
            Self::Table(points) => {
                let [q0, y0, q1, y1] = segment(points, q);
                (y1 - y0) / (q1 - q0)
            }
        }
    }

    /// The curve of `q ↦ factor·y(q / scale)`: the same shape stretched along
    /// the rate axis by `scale` and multiplied by `factor`.
    pub fn scaled(&self, scale: f64, factor: f64) -> Self {
        match self {
            Self::Polynomial(c) => {
                Self::Polynomial(c.iter().enumerate().map(|(i, ci)| factor * ci / scale.powi(i as i32)).collect())
            }
            Self::Table(points) => Self::Table(points.iter().map(|[q, y]| [q * scale, y * factor]).collect()),
        }
    }
}

/// The segment `[q0, y0, q1, y1]` of a table (≥ 2 points) to interpolate or
/// extrapolate at `q`.
fn segment(points: &[[f64; 2]], q: f64) -> [f64; 4] {
    let n = points.len();
    let i = points.partition_point(|p| p[0] <= q).clamp(1, n - 1);
    let ([q0, y0], [q1, y1]) = (points[i - 1], points[i]);
    [q0, y0, q1, y1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polynomial_value_and_slope() {
        // 30·(1.35 − 0.35·(q/1500)²) = 40.5 − 4.666…e-6·q².
        let c = Curve::polynomial([40.5, 0.0, -10.5 / 1500.0 / 1500.0]);
        assert!((c.eval(1500.0) - 30.0).abs() < 1e-12);
        assert!((c.slope(1500.0) - (-2.0 * 10.5 / 1500.0)).abs() < 1e-12);
        assert!((c.eval(0.0) - 40.5).abs() < 1e-12);
    }

    #[test]
    fn table_interpolates_and_extrapolates_linearly() {
        let c = Curve::table([(0.0, 40.0), (1000.0, 36.0), (2000.0, 24.0)]);
        assert!((c.eval(500.0) - 38.0).abs() < 1e-12);
        assert!((c.eval(1500.0) - 30.0).abs() < 1e-12);
        assert!((c.eval(2500.0) - 18.0).abs() < 1e-12, "extends the last segment");
        assert!((c.eval(-500.0) - 42.0).abs() < 1e-12, "extends the first segment");
        assert!((c.slope(1000.0) - (-0.012)).abs() < 1e-15, "a point belongs to the segment after it");
    }

    #[test]
    fn scaling_stretches_the_rate_axis() {
        let poly = Curve::polynomial([40.5, 0.01, -4.0e-6]);
        let table = Curve::table([(0.0, 40.0), (1000.0, 36.0), (2000.0, 24.0)]);
        for c in [poly, table] {
            let s = c.scaled(1.2, 0.5);
            for q in [0.0, 700.0, 1800.0] {
                assert!((s.eval(q * 1.2) - 0.5 * c.eval(q)).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn invalid_curves_are_refused() {
        assert!(Curve::polynomial(Vec::new()).validate("head").is_err());
        assert!(Curve::table([(0.0, 1.0)]).validate("head").is_err());
        assert!(Curve::table([(0.0, 1.0), (0.0, 2.0)]).validate("head").is_err());
        assert!(Curve::polynomial([f64::NAN]).validate("head").is_err());
        assert!(Curve::table([(0.0, 1.0), (5.0, 0.0)]).validate("head").is_ok());
    }
}
