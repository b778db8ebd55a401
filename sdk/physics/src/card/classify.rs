//! The classifier: ordered rules on [`Features`], the first that holds
//! names the class.
//!
//! | # | class | rule (normalised units, see [`Features`]) |
//! |---|---|---|
//! | 1 | `RodPart` | `span_lbf < rod_part_span_lbf` (only with that option) |
//! | 2 | `PumpTagging` | `max(bottom_spike, top_spike) > 0.2` |
//! | 3 | `GasLock` | `rise_position > 0.2` and `area_ratio < 0.5` |
//! | 4 | `StandingValveLeak` | `bottom_lift > 0.1` |
//! | 5 | `TravelingValveLeak` | `top_droop > 0.1` |
//! | 6 | `TubingMovement` | `rise_width > 0.09` and `drop_width > 0.09` |
//! | 7 | `FullPump` | `fillage ≥ 0.9` |
//! | 8 | `FluidPound` | `drop_width ≤ 0.08` |
//! | 9 | `GasInterference` | otherwise |
//!
//! **Confidence** = `0.5 + 0.5·min(1, m)`, with `m` the smallest margin of
//! every rule evaluated (the one that held and each before it that did not):
//! a condition's margin is `|value − threshold| / scale` (scale = the
//! threshold, 0.1 for fillage), an AND's the margin of its condition that
//! decides. 0.5 is a card on a rule's edge, 1 a card far from every edge.

use serde::{Deserialize, Serialize};

use super::{Card, CardClass, CardError, Features, features};

/// The rules of the table above, for documentation and logs.
pub const RULES: [(CardClass, &str); 9] = [
    (CardClass::RodPart, "span_lbf < rod_part_span_lbf"),
    (CardClass::PumpTagging, "max(bottom_spike, top_spike) > 0.2"),
    (CardClass::GasLock, "rise_position > 0.2 and area_ratio < 0.5"),
    (CardClass::StandingValveLeak, "bottom_lift > 0.1"),
    (CardClass::TravelingValveLeak, "top_droop > 0.1"),
    (CardClass::TubingMovement, "rise_width > 0.09 and drop_width > 0.09"),
    (CardClass::FullPump, "fillage >= 0.9"),
    (CardClass::FluidPound, "drop_width <= 0.08"),
    (CardClass::GasInterference, "otherwise"),
];

/// The rules of the table above.
pub fn rules() -> &'static [(CardClass, &'static str)] {
    &RULES
}

/// What the classifier knows beyond the card.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassifyOptions {
    /// A card whose span (upper − lower level) is below this is a rod part,
    /// lbf. A rod part is a collapse of the absolute load, which the shape
    /// alone cannot tell from a small pump: set it per well (e.g. a quarter
    /// of the design fluid load). `None`: rod part is not classified.
    pub rod_part_span_lbf: Option<f64>,
}

/// The classifier's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    /// The class.
    pub class: CardClass,
    /// Confidence, 0.5–1 (see the module documentation).
    pub confidence: f64,
    /// Pump fillage, 0–1.
    pub fillage: f64,
    /// The features the rules read.
    pub features: Features,
}

/// A condition's signed margin: positive when it holds.
fn above(value: f64, threshold: f64, scale: f64) -> f64 {
    (value - threshold) / scale
}

/// Classifies a card without options (no rod-part rule).
pub fn classify(card: &Card) -> Result<Classification, CardError> {
    classify_with(card, &ClassifyOptions::default())
}

/// Classifies a card by the rules of the module documentation.
pub fn classify_with(card: &Card, options: &ClassifyOptions) -> Result<Classification, CardError> {
    let f = features(card)?;
    let candidates: [(CardClass, f64); 8] = [
        (
            CardClass::RodPart,
            match options.rod_part_span_lbf {
                Some(limit) if limit > 0.0 => above(limit, f.span_lbf, limit),
                _ => f64::NEG_INFINITY,
            },
        ),
        (CardClass::PumpTagging, above(f.bottom_spike.max(f.top_spike), 0.2, 0.2)),
        (CardClass::GasLock, above(f.rise_position, 0.2, 0.2).min(above(0.5, f.area_ratio, 0.5))),
        (CardClass::StandingValveLeak, above(f.bottom_lift, 0.1, 0.1)),
        (CardClass::TravelingValveLeak, above(f.top_droop, 0.1, 0.1)),
        (CardClass::TubingMovement, above(f.rise_width, 0.09, 0.09).min(above(f.drop_width, 0.09, 0.09))),
        (CardClass::FullPump, above(f.fillage, 0.9, 0.1)),
        (CardClass::FluidPound, above(0.08, f.drop_width, 0.08)),
    ];
    let mut margin = f64::INFINITY;
    let mut class = CardClass::GasInterference;
    for (candidate, m) in candidates {
        if m.is_finite() {
            margin = margin.min(m.abs());
        }
        if m >= 0.0 {
            class = candidate;
            break;
        }
    }
    let confidence = 0.5 + 0.5 * margin.min(1.0);
    Ok(Classification { class, confidence, fillage: f.fillage, features: f })
}
