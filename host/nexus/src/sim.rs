//! A small ESP well model for the demo: frequency, motor current,
//! pump-intake pressure, motor temperature, vibration and flow, with
//! injected overheating and underload events.
//!
//! Flow follows the affinity law (Q ∝ f), intake pressure the straight-line
//! inflow (PIP = p_res − Q/PI), motor load rises with f³ (BHP ∝ f³).

/// A deterministic xorshift generator (no dependency, repeatable runs).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// Uniform in [0, 1).
    pub(crate) fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Roughly normal, mean 0, std 1 (sum of uniforms).
    pub(crate) fn noise(&mut self) -> f64 {
        (0..6).map(|_| self.next()).sum::<f64>() - 3.0
    }
}

/// What is going wrong with a well, and for how many more steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Event {
    Normal,
    Overheating { left: u32 },
    Underload { left: u32 },
}

/// One simulated ESP well.
pub(crate) struct EspWell {
    pub(crate) frequency_hz: f64,
    reservoir_psi: f64,
    pi_bpd_per_psi: f64,
    rated_flow_bpd: f64,
    nameplate_current_a: f64,
    motor_temp_c: f64,
    pub(crate) event: Event,
    rng: Rng,
}

impl EspWell {
    pub(crate) fn new(seed: u64, frequency_hz: f64) -> Self {
        let mut rng = Rng::new(seed);
        Self {
            frequency_hz,
            reservoir_psi: 1750.0 + 100.0 * rng.next(),
            pi_bpd_per_psi: 1.1 + 0.2 * rng.next(),
            rated_flow_bpd: 1500.0,
            nameplate_current_a: 50.0,
            motor_temp_c: 90.0,
            event: Event::Normal,
            rng,
        }
    }

    /// Starts an event unless one is running.
    pub(crate) fn inject(&mut self, event: Event) {
        if self.event == Event::Normal {
            self.event = event;
        }
    }

    /// Advances one step and returns the telemetry as `(key, value)` pairs.
    pub(crate) fn step(&mut self) -> Vec<(&'static str, f64)> {
        let ratio = self.frequency_hz / 60.0;
        let underload = matches!(self.event, Event::Underload { .. });
        let overheating = matches!(self.event, Event::Overheating { .. });
        // Gas or a pumped-off well: little liquid, low load.
        let liquid = if underload { 0.35 } else { 1.0 };
        let flow = self.rated_flow_bpd * ratio * liquid * (1.0 + 0.01 * self.rng.noise());
        let intake = (self.reservoir_psi - flow / self.pi_bpd_per_psi) * (1.0 + 0.005 * self.rng.noise());
        let load = (0.3 + 0.55 * ratio.powi(3)) * if underload { 0.45 } else { 1.0 };
        let current = self.nameplate_current_a * load * (1.0 + 0.01 * self.rng.noise());
        // Temperature relaxes toward a load-dependent level; overheating
        // (lost cooling flow) drives it up fast.
        let target = if overheating { 150.0 } else { 80.0 + 30.0 * load };
        self.motor_temp_c += (target - self.motor_temp_c) * if overheating { 0.25 } else { 0.3 };
        let temperature = self.motor_temp_c + 0.3 * self.rng.noise();
        let vibration = (0.12 + if underload { 0.15 } else { 0.0 }) * (1.0 + 0.1 * self.rng.noise());
        self.event = match self.event {
            Event::Overheating { left: 0 } | Event::Underload { left: 0 } => Event::Normal,
            Event::Overheating { left } => Event::Overheating { left: left - 1 },
            Event::Underload { left } => Event::Underload { left: left - 1 },
            Event::Normal => Event::Normal,
        };
        vec![
            ("frequency", self.frequency_hz),
            ("motor_current", current),
            ("intake_pressure", intake),
            ("motor_temperature", temperature),
            ("vibration", vibration.max(0.0)),
            ("flow_rate", flow.max(0.0)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overheating_drives_temperature_over_the_demo_limit_and_back() {
        let mut well = EspWell::new(7, 52.0);
        let temperature =
            |values: &[(&str, f64)]| values.iter().find(|(k, _)| *k == "motor_temperature").map(|(_, v)| *v);
        for _ in 0..20 {
            well.step();
        }
        let normal = temperature(&well.step()).unwrap();
        assert!(normal < 110.0, "normal temperature {normal}");
        well.inject(Event::Overheating { left: 15 });
        let hot = (0..15).filter_map(|_| temperature(&well.step())).fold(0.0, f64::max);
        assert!(hot > 130.0, "peak temperature {hot}");
        for _ in 0..20 {
            well.step();
        }
        assert!(temperature(&well.step()).unwrap() < 110.0);
    }

    #[test]
    fn intake_pressure_falls_when_frequency_rises() {
        let pip = |f: f64| {
            let mut well = EspWell::new(3, f);
            let n = 50;
            (0..n).map(|_| well.step()[2].1).sum::<f64>() / f64::from(n)
        };
        assert!(pip(58.0) < pip(50.0) - 50.0);
    }
}
