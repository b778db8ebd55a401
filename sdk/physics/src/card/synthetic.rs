//! Synthetic downhole cards from parameterised templates, with noise.
//!
//! No licensed, labelled public dataset of dynamometer cards exists, so the
//! classifier and the fillage estimate are tested on these. A template is a
//! pair of curves in normalised units — load 0 on the downstroke line, 1 on
//! the fluid-load line, position `x` 0 at the bottom and 1 at the top — drawn
//! at positions of a sinusoidal stroke (`x = (1 − cos 2πt)/2`, so points are
//! denser at the ends, as with a crank), scaled by [`Params`], with Gaussian
//! load noise, and rotated to start at a random point of the loop.
//!
//! Every template has a loading width `a` ∈ [0.02, 0.07] (rounded corners),
//! upper and lower lines with small slopes (±0.04, ±0.03), and its own
//! randomised shape parameters (ranges in [`synthetic`]'s source and the
//! alarm rule's README). `S` below is the smoothstep `3u² − 2u³`.
//!
//! The templates are stylised pictures of the published card shapes (e.g.
//! the catalogue of Nascimento et al. 2021, Sensors 21(13):4546), not a
//! simulation of the pump: they test that the rules read the shapes they
//! claim to, not that field cards look exactly like this.

use super::{Card, CardClass};
use crate::sim::SplitMix64;

/// The scale of a synthetic card.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Stroke, in.
    pub stroke_in: f64,
    /// Fluid load on the plunger (span between the lines), lbf.
    pub fluid_load_lbf: f64,
    /// Load of the downstroke line, lbf (about 0 on a downhole card).
    pub lower_load_lbf: f64,
    /// Number of points of the loop.
    pub points: usize,
    /// Standard deviation of the load noise, fraction of the fluid load.
    pub noise: f64,
    /// Fillage of a fluid-pound or gas-interference card (`None`: drawn).
    pub fillage: Option<f64>,
}

impl Default for Params {
    fn default() -> Self {
        Self { stroke_in: 100.0, fluid_load_lbf: 5000.0, lower_load_lbf: 0.0, points: 150, noise: 0.01, fillage: None }
    }
}

impl Params {
    /// A random scale: stroke 54–168 in, fluid load 2000–9000 lbf, lower
    /// line −300–300 lbf, 80–240 points, noise 0.3–2 % of the fluid load.
    pub fn random(rng: &mut SplitMix64) -> Self {
        Self {
            stroke_in: rng.range(54.0, 168.0),
            fluid_load_lbf: rng.range(2000.0, 9000.0),
            lower_load_lbf: rng.range(-300.0, 300.0),
            points: 80 + (rng.uniform() * 161.0) as usize,
            noise: rng.range(0.003, 0.02),
            fillage: None,
        }
    }
}

/// A synthetic card with its truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Synthetic {
    /// The card.
    pub card: Card,
    /// The class of its template.
    pub class: CardClass,
    /// The template's fillage: where its noise-free downstroke first falls,
    /// from the top, below the midpoint (0.5) of its two lines.
    pub fillage: f64,
    /// The fluid load of its scale (the well's design fluid load), lbf.
    pub fluid_load_lbf: f64,
}

/// Smoothstep of `u` clamped to [0, 1].
fn s(u: f64) -> f64 {
    let u = u.clamp(0.0, 1.0);
    u * u * (3.0 - 2.0 * u)
}

/// The template: upstroke and downstroke loads at `x`, normalised.
enum Shape {
    /// `up = top·S(x/a)`, `down = bot + (top − bot)·S((x − 1 + a)/a)`.
    Full,
    /// Full upstroke; downstroke from the top line less a decline `e·(1 − x)`
    /// down through `S` over width `w` centred on `f`.
    Pound { f: f64, w: f64, e: f64 },
    /// Full upstroke; downstroke through `S` over the wide `w` centred on `f`.
    Gas { f: f64, w: f64 },
    /// `up = p·(1 − (1 − x)^k)`, `down = p·x^k`: a lens.
    Lock { k: f64, p: f64 },
    /// `up = top·S(x/r)·(1 − d·S((x − 1 + b)/b))`, downstroke unloads at once.
    TravelingLeak { r: f64, b: f64, d: f64 },
    /// Unloading over `u` from the top, load picked up linearly to `h` over
    /// the last `q` of the downstroke; the upstroke starts at `h`.
    StandingLeak { u: f64, q: f64, h: f64 },
    /// Linear loading and unloading over `t`: a parallelogram.
    Tubing { t: f64 },
    /// A full card with a triangular spike of depth `g` over `ws` at the
    /// bottom (`down`) or the top (`!down`).
    Tag { down: bool, ws: f64, g: f64 },
    /// A lens of span `m` (a fraction of the fluid load the rods no longer carry).
    Parted { m: f64 },
}

struct Template {
    shape: Shape,
    /// Loading width.
    a: f64,
    /// Slope of the upper line.
    top_slope: f64,
    /// Slope of the lower line.
    bot_slope: f64,
}

impl Template {
    fn top(&self, x: f64) -> f64 {
        1.0 + self.top_slope * (x - 0.5)
    }

    fn bot(&self, x: f64) -> f64 {
        self.bot_slope * (x - 0.5)
    }

    /// Full-pump downstroke: unloading over `a` at the top.
    fn unload(&self, x: f64, from: f64) -> f64 {
        self.bot(x) + (from - self.bot(x)) * s((x - 1.0 + self.a) / self.a)
    }

    fn up(&self, x: f64) -> f64 {
        let (top, a) = (self.top(x), self.a);
        match self.shape {
            Shape::Full | Shape::Pound { .. } | Shape::Gas { .. } => top * s(x / a),
            Shape::Lock { k, p } => p * (1.0 - (1.0 - x).powf(k)),
            Shape::TravelingLeak { r, b, d } => top * s(x / r) * (1.0 - d * s((x - 1.0 + b) / b)),
            Shape::StandingLeak { h, .. } => h + (top - h) * s(x / a),
            Shape::Tubing { t } => top * (x / t).clamp(0.0, 1.0),
            Shape::Tag { down, ws, g } => top * s(x / a) + if down { 0.0 } else { g * (1.0 - (1.0 - x) / ws).max(0.0) },
            Shape::Parted { m } => m * s(x / 0.3),
        }
    }

    fn down(&self, x: f64) -> f64 {
        let (top, bot) = (self.top(x), self.bot(x));
        match self.shape {
            Shape::Full => self.unload(x, top),
            Shape::Pound { f, w, e } => bot + (top - e * (1.0 - x) - bot) * s((x - f + w / 2.0) / w),
            Shape::Gas { f, w } => bot + (top - bot) * s((x - f + w / 2.0) / w),
            Shape::Lock { k, p } => p * x.powf(k),
            Shape::TravelingLeak { d, .. } => self.unload(x, top * (1.0 - d)),
            Shape::StandingLeak { u, q, h } => bot + h * (1.0 - x / q).max(0.0) + (top - bot) * s((x - 1.0 + u) / u),
            Shape::Tubing { t } => bot + (top - bot) * ((x - 1.0 + t) / t).clamp(0.0, 1.0),
            Shape::Tag { down, ws, g } => self.unload(x, top) - if down { g * (1.0 - x / ws).max(0.0) } else { 0.0 },
            Shape::Parted { m } => m * s((x - 0.7) / 0.3),
        }
    }

    /// Where the noise-free downstroke first falls below 0.5 from the top.
    fn fillage(&self) -> f64 {
        let n = 10_000;
        if self.down(1.0) < 0.5 {
            return 1.0;
        }
        (0..n).rev().map(|i| i as f64 / n as f64).find(|&x| self.down(x) < 0.5).unwrap_or(0.0)
    }
}

/// Draws the shape parameters of `class`.
fn shape(class: CardClass, fillage: Option<f64>, rng: &mut SplitMix64) -> Shape {
    match class {
        CardClass::FullPump => Shape::Full,
        CardClass::FluidPound => Shape::Pound {
            f: fillage.unwrap_or_else(|| rng.range(0.3, 0.85)),
            w: rng.range(0.015, 0.05),
            e: rng.range(0.0, 0.08),
        },
        CardClass::GasInterference => {
            let f = fillage.unwrap_or_else(|| rng.range(0.35, 0.8));
            let w = rng.range(0.2, 0.5).min(2.0 * (1.0 - f)).min(2.0 * f).max(0.02);
            Shape::Gas { f, w }
        }
        CardClass::GasLock => Shape::Lock { k: rng.range(1.5, 2.5), p: rng.range(0.3, 0.7) },
        CardClass::TravelingValveLeak => {
            Shape::TravelingLeak { r: rng.range(0.15, 0.35), b: rng.range(0.35, 0.6), d: rng.range(0.25, 0.45) }
        }
        CardClass::StandingValveLeak => {
            Shape::StandingLeak { u: rng.range(0.15, 0.35), q: rng.range(0.2, 0.4), h: rng.range(0.25, 0.5) }
        }
        CardClass::TubingMovement => Shape::Tubing { t: rng.range(0.18, 0.4) },
        CardClass::PumpTagging => {
            Shape::Tag { down: rng.uniform() < 0.5, ws: rng.range(0.02, 0.05), g: rng.range(0.35, 0.8) }
        }
        CardClass::RodPart => Shape::Parted { m: rng.range(0.02, 0.08) },
    }
}

/// A card of `class` at the scale of `params`, shape and noise from `rng`.
pub fn synthetic(class: CardClass, params: &Params, rng: &mut SplitMix64) -> Synthetic {
    let template = Template {
        shape: shape(class, params.fillage, rng),
        a: rng.range(0.02, 0.07),
        top_slope: rng.range(-0.04, 0.04),
        bot_slope: rng.range(-0.03, 0.03),
    };
    let n = params.points.max(super::MIN_POINTS);
    let start = (rng.uniform() * n as f64) as usize % n;
    let (mut position, mut load) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for k in 0..n {
        let t = ((k + start) % n) as f64 / n as f64;
        let x = (1.0 - (2.0 * std::f64::consts::PI * t).cos()) / 2.0;
        let shape = if t <= 0.5 { template.up(x) } else { template.down(x) };
        position.push(params.stroke_in * x);
        load.push(params.lower_load_lbf + params.fluid_load_lbf * (shape + params.noise * rng.normal()));
    }
    Synthetic {
        card: Card { position, load },
        class,
        fillage: template.fillage(),
        fluid_load_lbf: params.fluid_load_lbf,
    }
}

/// `per_class` cards of each class of `classes`, each at a [`Params::random`]
/// scale, labelled; one generator for the whole set.
pub fn labelled_set(classes: &[CardClass], per_class: usize, rng: &mut SplitMix64) -> Vec<Synthetic> {
    let mut out = Vec::with_capacity(classes.len() * per_class);
    for &class in classes {
        for _ in 0..per_class {
            let params = Params::random(rng);
            out.push(synthetic(class, &params, rng));
        }
    }
    out
}
