//! # forecaster-arps-decline
//!
//! Forecasts a well's oil rate by Arps decline-curve analysis (Arps 1945):
//! the exponential (`b = 0`), harmonic (`b = 1`) and hyperbolic (`0 ≤ b ≤ 1`)
//! curves are fitted by least squares on `ln q` to a year of daily rates
//! (telemetry read through `host.history`) or to the well's tests, the family
//! is chosen by AICc, and the forecast carries a prediction interval by the
//! delta method, averaged over the three families by their Akaike weights,
//! and the EUR to an economic limit.
//!
//! The core is pure: [`fit::fit`] over `(t_days, q)` points,
//! [`forecast::forecast`] of a fit, and the glue [`run`], which takes the
//! history as a closure so native tests feed their own. The component
//! ([`ArpsDecline`]) only adds the host's configuration, clock and log.

pub mod arps;
pub mod config;
pub mod fit;
pub mod forecast;
pub mod input;
pub mod run;
pub mod stats;

pub use config::{Config, Source};
pub use fit::{Family, Fit, FitError, fit};
pub use forecast::{Band, forecast};
pub use run::{Outcome, run};

use nexus_plugin_sdk::{Forecast, PluginError, PluginInfo, WellContext, host};

/// The component.
pub struct ArpsDecline;

impl nexus_plugin_sdk::Forecaster for ArpsDecline {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "forecaster-arps-decline".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Arps decline-curve forecast of a well's oil rate: exponential, harmonic and hyperbolic \
                          fits on ln q to the daily telemetry history or the well tests, chosen by AICc, with \
                          a prediction interval averaging the families' delta-method predictive distributions by their Akaike weights, and the EUR to an economic limit."
                .into(),
            config_schema: config::schema().to_string(),
        }
    }

    fn forecast(context: WellContext) -> Result<Vec<Forecast>, PluginError> {
        let config: Config = host::config()?;
        let outcome = run(&config, &context, host::history, host::now())?;
        if let Some(note) = outcome.note {
            host::info(&format!("well {}: {note}", context.well_id));
        }
        Ok(outcome.forecasts)
    }
}

#[cfg(target_arch = "wasm32")]
nexus_plugin_sdk::export_forecaster!(ArpsDecline);
