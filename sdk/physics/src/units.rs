//! Unit constants and conversions in oilfield units.
//!
//! Derived from exact definitions: 1 bbl = 42 US gal = 5.614 583 ft³,
//! 1 hp = 550 ft·lbf/s = 0.745 699 872 kW, 1 psi = 144 lbf/ft².

/// Pressure gradient of fresh water (specific gravity 1), psi/ft.
pub const WATER_GRADIENT_PSI_PER_FT: f64 = 0.433;

/// Cubic feet in one barrel (42 US gallons of 231 in³).
pub const CUBIC_FEET_PER_BARREL: f64 = 42.0 * 231.0 / 1728.0;

/// Seconds in one day.
pub const SECONDS_PER_DAY: f64 = 86_400.0;

/// Kilowatts in one (mechanical) horsepower.
pub const KW_PER_HP: f64 = 0.745_699_872;

/// Converts a rate in bbl/d to ft³/s.
pub fn bbl_per_day_to_cubic_feet_per_second(rate_bpd: f64) -> f64 {
    rate_bpd * CUBIC_FEET_PER_BARREL / SECONDS_PER_DAY
}

/// Hydraulic horsepower of `rate_bpd` raised by `pressure_psi`:
/// `q·Δp / 58 775` (from 1 bbl/d = 6.498 4e-5 ft³/s, 144 lbf/ft² per psi,
/// 550 ft·lbf/s per hp).
pub fn hydraulic_horsepower(rate_bpd: f64, pressure_psi: f64) -> f64 {
    bbl_per_day_to_cubic_feet_per_second(rate_bpd) * pressure_psi * 144.0 / 550.0
}

/// Specific gravity (water = 1) of a liquid with the given gradient.
pub fn specific_gravity(gradient_psi_per_ft: f64) -> f64 {
    gradient_psi_per_ft / WATER_GRADIENT_PSI_PER_FT
}

/// Mean velocity, ft/s, of `rate_bpd` through the annulus between a pipe of
/// inner diameter `outer_id_in` and a body of outer diameter `inner_od_in`
/// (inches). Not finite when the annulus has no area.
pub fn annular_velocity_ft_per_s(rate_bpd: f64, outer_id_in: f64, inner_od_in: f64) -> f64 {
    let area_ft2 = std::f64::consts::PI / 4.0 * (outer_id_in.powi(2) - inner_od_in.powi(2)) / 144.0;
    bbl_per_day_to_cubic_feet_per_second(rate_bpd) / area_ft2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hydraulic_horsepower_matches_the_handbook_constant() {
        // Handbooks quote HHP = q[bbl/d]·Δp[psi] / 58 771 (with 5.615 ft³/bbl);
        // with the exact barrel the divisor is 58 775.
        let hhp = hydraulic_horsepower(58_771.0, 1.0);
        assert!((hhp - 1.0).abs() < 2e-4, "{hhp}");
    }

    #[test]
    fn velocity_in_a_seven_inch_casing() {
        // 7 in 26 lb/ft casing (6.276 in ID) around a 5.62 in motor: annulus
        // 0.042 56 ft²; 1300 bbl/d = 0.084 48 ft³/s → 1.985 ft/s (by hand).
        let v = annular_velocity_ft_per_s(1300.0, 6.276, 5.62);
        assert!((v - 1.985).abs() < 1e-3, "{v}");
    }
}
