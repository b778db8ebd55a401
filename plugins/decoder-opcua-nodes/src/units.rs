//! The unit conversions an entry may ask for: pressure (psi, kPa, bar, MPa),
//! temperature (°C, °F, K) and volume rate (bbl/d, m3/d).

/// A unit of the conversion table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Pound-force per square inch.
    Psi,
    /// Kilopascal.
    KPa,
    /// Bar (100 kPa).
    Bar,
    /// Megapascal.
    MPa,
    /// Degree Celsius.
    Celsius,
    /// Degree Fahrenheit.
    Fahrenheit,
    /// Kelvin.
    Kelvin,
    /// Oil-field barrels per day.
    BblPerDay,
    /// Cubic metres per day.
    M3PerDay,
}

/// What a unit measures; only units of one dimension convert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// psi, kPa, bar, MPa.
    Pressure,
    /// °C, °F, K.
    Temperature,
    /// bbl/d, m3/d.
    VolumeRate,
}

/// kPa in one psi (0.45359237 kg × 9.80665 m/s² per (0.0254 m)²).
const KPA_PER_PSI: f64 = 6.894_757_293_168_361;
/// m³ in one oil barrel (42 US gallons).
const M3_PER_BBL: f64 = 0.158_987_294_928;

/// The names a unit is written with (matched ignoring ASCII case).
const NAMES: [(&str, Unit); 15] = [
    ("psi", Unit::Psi),
    ("kPa", Unit::KPa),
    ("bar", Unit::Bar),
    ("MPa", Unit::MPa),
    ("°C", Unit::Celsius),
    ("degC", Unit::Celsius),
    ("C", Unit::Celsius),
    ("°F", Unit::Fahrenheit),
    ("degF", Unit::Fahrenheit),
    ("F", Unit::Fahrenheit),
    ("K", Unit::Kelvin),
    ("bbl/d", Unit::BblPerDay),
    ("bpd", Unit::BblPerDay),
    ("m3/d", Unit::M3PerDay),
    ("m³/d", Unit::M3PerDay),
];

/// The accepted names, for messages and the schema.
pub fn names() -> impl Iterator<Item = &'static str> {
    NAMES.iter().map(|(name, _)| *name)
}

impl Unit {
    /// The unit written `name` (ASCII case ignored), if it is in the table.
    pub fn parse(name: &str) -> Option<Self> {
        NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, unit)| *unit)
    }

    /// What the unit measures.
    pub fn dimension(self) -> Dimension {
        match self {
            Self::Psi | Self::KPa | Self::Bar | Self::MPa => Dimension::Pressure,
            Self::Celsius | Self::Fahrenheit | Self::Kelvin => Dimension::Temperature,
            Self::BblPerDay | Self::M3PerDay => Dimension::VolumeRate,
        }
    }

    /// `value` in this unit expressed in its dimension's base unit (kPa, °C, m3/d).
    fn to_base(self, value: f64) -> f64 {
        match self {
            Self::Psi => value * KPA_PER_PSI,
            Self::KPa | Self::Celsius | Self::M3PerDay => value,
            Self::Bar => value * 100.0,
            Self::MPa => value * 1000.0,
            Self::Fahrenheit => (value - 32.0) * 5.0 / 9.0,
            Self::Kelvin => value - 273.15,
            Self::BblPerDay => value * M3_PER_BBL,
        }
    }

    /// `value` in the base unit expressed in this unit.
    fn of_base(self, value: f64) -> f64 {
        match self {
            Self::Psi => value / KPA_PER_PSI,
            Self::KPa | Self::Celsius | Self::M3PerDay => value,
            Self::Bar => value / 100.0,
            Self::MPa => value / 1000.0,
            Self::Fahrenheit => value * 9.0 / 5.0 + 32.0,
            Self::Kelvin => value + 273.15,
            Self::BblPerDay => value / M3_PER_BBL,
        }
    }
}

/// A checked conversion between two units of one dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conversion {
    /// The unit of the value as read.
    pub from: Unit,
    /// The unit stored.
    pub to: Unit,
}

impl Conversion {
    /// The conversion, if both units measure the same thing.
    pub fn new(from: Unit, to: Unit) -> Option<Self> {
        (from.dimension() == to.dimension()).then_some(Self { from, to })
    }

    /// `value` in `from` expressed in `to` (the same value when they are equal).
    pub fn apply(self, value: f64) -> f64 {
        if self.from == self.to { value } else { self.to.of_base(self.from.to_base(value)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(value: f64, from: &str, to: &str) -> f64 {
        let from = Unit::parse(from).expect("from");
        let to = Unit::parse(to).expect("to");
        Conversion::new(from, to).expect("same dimension").apply(value)
    }

    fn near(got: f64, expected: f64) {
        assert!((got - expected).abs() <= 1e-9 * expected.abs().max(1.0), "{got} != {expected}");
    }

    #[test]
    fn pressures() {
        near(convert(1.0, "psi", "kPa"), 6.894_757_293_168_361);
        near(convert(100.0, "psi", "bar"), 6.894_757_293_168_361);
        near(convert(1.0, "bar", "kPa"), 100.0);
        near(convert(1.0, "MPa", "psi"), 145.037_737_730_209_2);
        near(convert(101.325, "kPa", "psi"), 14.695_948_775_513_45);
        near(convert(350.0, "psi", "psi"), 350.0);
    }

    #[test]
    fn temperatures() {
        near(convert(212.0, "°F", "°C"), 100.0);
        near(convert(-40.0, "degF", "degC"), -40.0);
        near(convert(37.0, "C", "F"), 98.6);
        near(convert(0.0, "°C", "K"), 273.15);
        near(convert(300.0, "K", "°F"), 80.33);
    }

    #[test]
    fn volume_rates() {
        near(convert(1000.0, "bbl/d", "m3/d"), 158.987_294_928);
        near(convert(1.0, "m³/d", "bpd"), 6.289_810_770_432_105);
    }

    #[test]
    fn round_trips_are_exact_to_rounding() {
        for name in names() {
            let unit = Unit::parse(name).expect("listed");
            for other in names().filter_map(Unit::parse).filter(|u| u.dimension() == unit.dimension()) {
                let there = Conversion { from: unit, to: other }.apply(123.4);
                near(Conversion { from: other, to: unit }.apply(there), 123.4);
            }
        }
    }

    #[test]
    fn names_ignore_ascii_case_and_dimensions_must_match() {
        assert_eq!(Unit::parse("KPA"), Some(Unit::KPa));
        assert_eq!(Unit::parse("BBL/D"), Some(Unit::BblPerDay));
        assert_eq!(Unit::parse("atm"), None);
        assert_eq!(Unit::parse(""), None);
        assert_eq!(Conversion::new(Unit::Psi, Unit::Celsius), None);
        assert_eq!(Conversion::new(Unit::BblPerDay, Unit::Bar), None);
    }
}
