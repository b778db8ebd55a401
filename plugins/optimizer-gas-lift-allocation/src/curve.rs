//! Gas-lift performance curves (GLPC): oil rate (STB/d) against lift-gas
//! injection (Mscf/d). Four forms: three parametric ones fitted by least
//! squares ([`crate::fit`]) and a piecewise-linear table through the tests.
//!
//! Every curve is evaluated clamped at ≥ 0 ([`Curve::oil`]): a fitted form
//! may dip below zero outside its data, a well cannot.

use serde_json::{Value, json};

/// A well's gas-lift performance curve.
#[derive(Debug, Clone, PartialEq)]
pub enum Curve {
    /// `f = a + b·g + c·g²`, valid with `c < 0`.
    Quadratic {
        /// Oil without lift gas, STB/d.
        a: f64,
        /// Linear term, STB/d per Mscf/d.
        b: f64,
        /// Quadratic term, STB/d per (Mscf/d)².
        c: f64,
    },
    /// `f = c1 + c2·g + c3·g² + c4·ln(g + 1)` (the form commonly attributed
    /// to Alarcón, Torres & Gómez 2002).
    QuadLog {
        /// Constant, STB/d.
        c1: f64,
        /// Linear term.
        c2: f64,
        /// Quadratic term.
        c3: f64,
        /// Logarithmic term.
        c4: f64,
    },
    /// `f = q0 + A·(1 − e^(−β·g))` with `A > 0`, `β > 0` (saturates, never falls).
    SaturatingExp {
        /// Oil without lift gas, STB/d.
        q0: f64,
        /// Gain at saturation, STB/d.
        a: f64,
        /// Rate constant, 1/(Mscf/d).
        beta: f64,
    },
    /// Piecewise linear through `(g, f)` points sorted by `g`, starting at
    /// `g = 0`; flat beyond the last point.
    Table {
        /// The points, strictly increasing in `g`.
        points: Vec<(f64, f64)>,
    },
}

impl Curve {
    /// The curve's formula at `g` (not clamped).
    pub fn raw(&self, g: f64) -> f64 {
        match self {
            Curve::Quadratic { a, b, c } => a + g * (b + c * g),
            Curve::QuadLog { c1, c2, c3, c4 } => c1 + g * (c2 + c3 * g) + c4 * (g + 1.0).ln(),
            Curve::SaturatingExp { q0, a, beta } => q0 + a * (-(-beta * g).exp_m1()),
            Curve::Table { points } => table_at(points, g),
        }
    }

    /// Oil rate at injection `g`, STB/d, clamped at ≥ 0.
    pub fn oil(&self, g: f64) -> f64 {
        let q = self.raw(g);
        if q.is_finite() { q.max(0.0) } else { 0.0 }
    }

    /// The model's name as reported (`quadratic`, `quadratic_log`,
    /// `saturating_exponential`, `table`).
    pub fn model(&self) -> &'static str {
        match self {
            Curve::Quadratic { .. } => "quadratic",
            Curve::QuadLog { .. } => "quadratic_log",
            Curve::SaturatingExp { .. } => "saturating_exponential",
            Curve::Table { .. } => "table",
        }
    }

    /// Number of fitted parameters (for a table, its points).
    pub fn parameter_count(&self) -> usize {
        match self {
            Curve::Quadratic { .. } | Curve::SaturatingExp { .. } => 3,
            Curve::QuadLog { .. } => 4,
            Curve::Table { points } => points.len(),
        }
    }

    /// The coefficients as a JSON object (a table: its points).
    pub fn coefficients(&self) -> Value {
        match self {
            Curve::Quadratic { a, b, c } => json!({ "a": a, "b": b, "c": c }),
            Curve::QuadLog { c1, c2, c3, c4 } => json!({ "c1": c1, "c2": c2, "c3": c3, "c4": c4 }),
            Curve::SaturatingExp { q0, a, beta } => json!({ "q0": q0, "a": a, "beta": beta }),
            Curve::Table { points } => json!({ "points": points.iter().map(|(g, q)| [*g, *q]).collect::<Vec<_>>() }),
        }
    }

    /// A short formula for people, e.g. `quadratic 200 + 0.4·g − 0.0002·g²`.
    pub fn describe(&self) -> String {
        match self {
            Curve::Quadratic { a, b, c } => format!("quadratic {a:.4} + {b:.6}·g + {c:.4e}·g²"),
            Curve::QuadLog { c1, c2, c3, c4 } => {
                format!("quadratic+log {c1:.4} + {c2:.6}·g + {c3:.4e}·g² + {c4:.4}·ln(g+1)")
            }
            Curve::SaturatingExp { q0, a, beta } => {
                format!("saturating exponential {q0:.4} + {a:.4}·(1 − e^(−{beta:.4e}·g))")
            }
            Curve::Table { points } => format!("table of {} points", points.len()),
        }
    }
}

/// Piecewise-linear interpolation; flat outside the points.
fn table_at(points: &[(f64, f64)], g: f64) -> f64 {
    let Some(&(x0, y0)) = points.first() else { return 0.0 };
    if g <= x0 {
        return y0;
    }
    let i = points.partition_point(|p| p.0 <= g);
    if i >= points.len() {
        return points[points.len() - 1].1;
    }
    let (xa, ya) = points[i - 1];
    let (xb, yb) = points[i];
    if xb > xa { ya + (yb - ya) * (g - xa) / (xb - xa) } else { yb }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_evaluate_and_clamp() {
        let q = Curve::Quadratic { a: 200.0, b: 0.4, c: -2.0e-4 };
        assert!((q.oil(1000.0) - 400.0).abs() < 1e-9);
        assert_eq!(q.oil(1.0e5), 0.0);
        let s = Curve::SaturatingExp { q0: 10.0, a: 100.0, beta: 1.0e-3 };
        assert!((s.oil(1000.0) - (10.0 + 100.0 * (1.0 - (-1.0f64).exp()))).abs() < 1e-9);
        let t = Curve::Table { points: vec![(0.0, 0.0), (100.0, 0.0), (200.0, 50.0)] };
        assert_eq!(t.oil(50.0), 0.0);
        assert!((t.oil(150.0) - 25.0).abs() < 1e-12);
        assert_eq!(t.oil(500.0), 50.0);
    }
}
