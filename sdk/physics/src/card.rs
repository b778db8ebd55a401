//! Dynamometer cards of sucker-rod pumps: pump fillage and a transparent
//! rule-based classifier of the card's shape.
//!
//! A card is one stroke of load (lbf) against position (in) as a closed loop.
//! The **surface** card is the polished-rod load; the **downhole** (pump)
//! card comes from it by Gibbs's damped wave equation (Gibbs 1963, JPT;
//! Everitt & Jennings 1992, SPE Prod. Eng. 7(1):121, by finite differences).
//! Pump-off controllers usually report the downhole card, which is what this
//! module expects. A surface card is accepted through
//! [`Card::from_surface`], a stated and crude approximation: the buoyant rod
//! weight is subtracted and the loop is left otherwise as it is (no wave
//! equation, so rod stretch, inertia and damping stay in the shape; the
//! features are normalised in position, so no rescaling of the stroke is
//! needed).
//!
//! * [`fillage`]: the standard definition — on the downstroke, the position
//!   `x_tv` where the load first drops through the midpoint between the
//!   upstroke fluid-load line and the downstroke load line (the traveling
//!   valve opens); fillage = `(x_tv − x_min)/(x_max − x_min)`.
//! * [`features()`](features::features): the card normalised to a unit
//!   square and resampled on a fixed grid, and the shape measures the
//!   classifier reads (see [`Features`]).
//! * [`classify`]: nine classes ([`CardClass`]) by ordered rules on the
//!   features, with a margin-based confidence (see [`classify`] for the rules).
//! * [`synthetic`]: parameterised templates of every class with noise, for
//!   tests and demos, seeded by [`crate::sim::SplitMix64`].

mod classify;
pub mod features;
pub mod synthetic;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use classify::{Classification, ClassifyOptions, RULES, classify, classify_with, rules};
pub use features::{Features, Normalized, features, normalize};

/// Fewest points of a card.
pub const MIN_POINTS: usize = 20;

/// Why a card cannot be used.
#[derive(Debug, Clone, PartialEq)]
pub enum CardError {
    /// Fewer than [`MIN_POINTS`] points.
    TooFewPoints(usize),
    /// `position` and `load` differ in length.
    LengthMismatch {
        /// Number of positions.
        position: usize,
        /// Number of loads.
        load: usize,
    },
    /// A value is NaN or infinite.
    NotFinite {
        /// Index of the point.
        index: usize,
    },
    /// All positions are equal: there is no stroke.
    NoStroke,
    /// All loads are equal: there is no card.
    FlatLoad,
    /// The rod weight of a surface card is not a finite number.
    InvalidRodWeight(f64),
}

impl fmt::Display for CardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooFewPoints(n) => write!(f, "a card needs at least {MIN_POINTS} points, got {n}"),
            Self::LengthMismatch { position, load } => {
                write!(f, "`position` has {position} values but `load` has {load}")
            }
            Self::NotFinite { index } => write!(f, "point {index} is not a finite number"),
            Self::NoStroke => write!(f, "all positions are equal: no stroke"),
            Self::FlatLoad => write!(f, "all loads are equal: no card"),
            Self::InvalidRodWeight(w) => write!(f, "the buoyant rod weight must be a finite number, got {w}"),
        }
    }
}

impl std::error::Error for CardError {}

/// One stroke of a dynamometer card as a closed loop: `position[i]` (in)
/// and `load[i]` (lbf) are point `i`; the loop may start anywhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Card {
    /// Positions, inches.
    pub position: Vec<f64>,
    /// Loads, lbf.
    pub load: Vec<f64>,
}

impl Card {
    /// A checked card (see [`Card::validate`]).
    pub fn new(position: Vec<f64>, load: Vec<f64>) -> Result<Self, CardError> {
        let card = Self { position, load };
        card.validate()?;
        Ok(card)
    }

    /// The approximate downhole card of a surface card: the polished-rod
    /// loads minus the buoyant rod weight, positions unchanged (see the
    /// module documentation for what this leaves out).
    pub fn from_surface(position: Vec<f64>, load: Vec<f64>, buoyant_rod_weight_lbf: f64) -> Result<Self, CardError> {
        if !buoyant_rod_weight_lbf.is_finite() {
            return Err(CardError::InvalidRodWeight(buoyant_rod_weight_lbf));
        }
        let load = load.into_iter().map(|l| l - buoyant_rod_weight_lbf).collect();
        Self::new(position, load)
    }

    /// Checks: at least [`MIN_POINTS`] points, equal lengths, finite values,
    /// a stroke and some load variation.
    pub fn validate(&self) -> Result<(), CardError> {
        let (np, nl) = (self.position.len(), self.load.len());
        if np != nl {
            return Err(CardError::LengthMismatch { position: np, load: nl });
        }
        if np < MIN_POINTS {
            return Err(CardError::TooFewPoints(np));
        }
        if let Some(index) = (0..np).find(|&i| !(self.position[i].is_finite() && self.load[i].is_finite())) {
            return Err(CardError::NotFinite { index });
        }
        let (lo, hi) = min_max(&self.position);
        if hi - lo <= 0.0 {
            return Err(CardError::NoStroke);
        }
        let (lo, hi) = min_max(&self.load);
        if hi - lo <= 0.0 {
            return Err(CardError::FlatLoad);
        }
        Ok(())
    }

    /// Stroke length, in.
    pub fn stroke(&self) -> f64 {
        let (lo, hi) = min_max(&self.position);
        hi - lo
    }

    /// Peak load, lbf.
    pub fn peak_load(&self) -> f64 {
        min_max(&self.load).1
    }

    /// Minimum load, lbf.
    pub fn min_load(&self) -> f64 {
        min_max(&self.load).0
    }
}

/// Smallest and largest value of a slice (`(+∞, −∞)` when empty).
pub(crate) fn min_max(values: &[f64]) -> (f64, f64) {
    values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

/// Which card a [`CardRecord`] carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CardKind {
    /// The pump card (the default).
    #[default]
    Downhole,
    /// The polished-rod card.
    Surface,
}

/// A card as telemetry carries it (one JSON text value per stroke):
/// `{"position": [...], "load": [...], "kind": "downhole" | "surface",
/// "buoyant_rod_weight_lbf": 4200}`; `kind` defaults to downhole, the rod
/// weight (surface cards only) to the caller's default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardRecord {
    /// Positions, in.
    pub position: Vec<f64>,
    /// Loads, lbf.
    pub load: Vec<f64>,
    /// Downhole or surface card.
    #[serde(default)]
    pub kind: CardKind,
    /// Buoyant weight of the rod string, lbf (surface cards).
    #[serde(default)]
    pub buoyant_rod_weight_lbf: Option<f64>,
}

impl CardRecord {
    /// The buoyant rod weight this record uses: its own, else `default_lbf`.
    pub fn rod_weight(&self, default_lbf: f64) -> f64 {
        self.buoyant_rod_weight_lbf.unwrap_or(default_lbf)
    }

    /// The (approximate, for a surface card) downhole card.
    pub fn downhole(&self, default_rod_weight_lbf: f64) -> Result<Card, CardError> {
        match self.kind {
            CardKind::Downhole => Card::new(self.position.clone(), self.load.clone()),
            CardKind::Surface => {
                Card::from_surface(self.position.clone(), self.load.clone(), self.rod_weight(default_rod_weight_lbf))
            }
        }
    }

    /// Peak and minimum polished-rod load, lbf: a surface card's own loads,
    /// a downhole card's plus the buoyant rod weight.
    pub fn polished_rod_loads(&self, default_rod_weight_lbf: f64) -> (f64, f64) {
        let (lo, hi) = min_max(&self.load);
        match self.kind {
            CardKind::Surface => (hi, lo),
            CardKind::Downhole => {
                let w = self.rod_weight(default_rod_weight_lbf);
                (hi + w, lo + w)
            }
        }
    }
}

/// The classes of [`classify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CardClass {
    /// Full pump: a near rectangle, fillage ≈ 100 %.
    FullPump,
    /// Fluid pound: full load carried into the downstroke, then a sharp drop.
    FluidPound,
    /// Gas interference: a gradual, rounded drop on the downstroke.
    GasInterference,
    /// Gas lock: the valves never open, a thin lens that never reaches the
    /// fluid load.
    GasLock,
    /// Traveling-valve (plunger) leak: loading delayed and load lost
    /// towards the top of the upstroke.
    TravelingValveLeak,
    /// Standing-valve leak: unloading delayed and load picked up before the
    /// bottom of the downstroke.
    StandingValveLeak,
    /// Unanchored tubing (tubing movement): loading and unloading spread
    /// over part of the stroke, a parallelogram.
    TubingMovement,
    /// Pump tagging: a load spike at the bottom (tag down) or top (tag up).
    PumpTagging,
    /// Rod part: the load span collapses (needs an absolute reference,
    /// [`ClassifyOptions::rod_part_span_lbf`]).
    RodPart,
}

impl CardClass {
    /// Every class, in this order.
    pub const ALL: [CardClass; 9] = [
        Self::FullPump,
        Self::FluidPound,
        Self::GasInterference,
        Self::GasLock,
        Self::TravelingValveLeak,
        Self::StandingValveLeak,
        Self::TubingMovement,
        Self::PumpTagging,
        Self::RodPart,
    ];

    /// The class's name, also its alarm type (`FluidPound`, `TubingMovement`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::FullPump => "FullPump",
            Self::FluidPound => "FluidPound",
            Self::GasInterference => "GasInterference",
            Self::GasLock => "GasLock",
            Self::TravelingValveLeak => "TravelingValveLeak",
            Self::StandingValveLeak => "StandingValveLeak",
            Self::TubingMovement => "TubingMovement",
            Self::PumpTagging => "PumpTagging",
            Self::RodPart => "RodPart",
        }
    }

    /// The class of a name of [`CardClass::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Whether the class is a fault (everything but a full pump).
    pub fn is_fault(self) -> bool {
        self != Self::FullPump
    }
}

impl fmt::Display for CardClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The pump fillage of a card, 0–1 (see the module documentation).
pub fn fillage(card: &Card) -> Result<f64, CardError> {
    Ok(features(card)?.fillage)
}

#[cfg(test)]
mod tests;
