//! The baseline of the expected gain: the well's own forecast when one is
//! stored. A frequency step raises the rate by a fraction of what the well
//! makes; while the well declines that increment declines with it, so the
//! gain is stated as the mean over `gain_horizon_days` of the increment on
//! the forecast baseline: Δoil now × (mean forecast over the horizon ÷
//! forecast now). Without a forecast the baseline is the current rate and
//! the gain is Δoil now, as the details say.

use nexus_plugin_sdk::Forecast;
use serde_json::{Value, json};

/// One day, ms.
const DAY_MS: i64 = 86_400_000;

/// A forecast read as the baseline of the gain.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    /// The key forecast.
    pub key: String,
    /// The forecast rate now.
    pub now: f64,
    /// Its mean over the horizon.
    pub mean: f64,
    /// The horizon, days.
    pub horizon_days: u32,
    /// The fitted model, as the forecaster stated it.
    pub model: Value,
}

impl Baseline {
    /// The forecast's value at `now_ms` and its daily mean over the next
    /// `horizon_days`, interpolated in ln(rate) between points (before the
    /// first point, along the first two; after the last, held). `None`
    /// when the forecast has no usable point.
    pub fn from_forecast(forecast: &Forecast, now_ms: i64, horizon_days: u32) -> Option<Self> {
        let points: Vec<(i64, f64)> = forecast
            .points
            .iter()
            .filter(|p| p.value.is_finite() && p.value > 0.0)
            .map(|p| (p.ts, p.value.ln()))
            .collect();
        if points.is_empty() || horizon_days == 0 {
            return None;
        }
        let at = |ts: i64| -> f64 {
            let ln = match points.iter().position(|&(t, _)| t >= ts) {
                Some(0) if points.len() > 1 => {
                    let ((t0, v0), (t1, v1)) = (points[0], points[1]);
                    v0 + (v1 - v0) * (ts - t0) as f64 / (t1 - t0).max(1) as f64
                }
                Some(0) => points[0].1,
                Some(i) => {
                    let ((t0, v0), (t1, v1)) = (points[i - 1], points[i]);
                    v0 + (v1 - v0) * (ts - t0) as f64 / (t1 - t0).max(1) as f64
                }
                None => points[points.len() - 1].1,
            };
            ln.exp()
        };
        let now = at(now_ms);
        let mean =
            (1..=horizon_days).map(|d| at(now_ms + i64::from(d) * DAY_MS)).sum::<f64>() / f64::from(horizon_days);
        (now.is_finite() && now > 0.0 && mean.is_finite()).then(|| Self {
            key: forecast.key.clone(),
            now,
            mean,
            horizon_days,
            model: forecast.model_json(),
        })
    }

    /// The share of today's increment left on average over the horizon.
    pub fn factor(&self) -> f64 {
        self.mean / self.now
    }

    /// The details' `baseline` member.
    pub fn details(&self, delta_oil_now: f64) -> Value {
        json!({
            "source": "forecast",
            "key": self.key,
            "rate_now_bbl_d": self.now,
            "mean_bbl_d": self.mean,
            "horizon_days": self.horizon_days,
            "factor": self.factor(),
            "delta_oil_now_bbl_d": delta_oil_now,
            "model": self.model,
        })
    }
}

/// The details' `baseline` member without a forecast.
pub fn current_rate(key: &str) -> Value {
    json!({ "source": "current rate", "reason": format!("no stored forecast of `{key}`") })
}

/// Small helper so the model text of a forecast reads as JSON.
trait ModelJson {
    fn model_json(&self) -> Value;
}

impl ModelJson for Forecast {
    fn model_json(&self) -> Value {
        serde_json::from_str(&self.model).unwrap_or(Value::Null)
    }
}
