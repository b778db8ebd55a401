//! Discrete moves for the fluid-limited allocation: the Lagrangian dual and
//! the polish move wells continuously and locally, but with a binding water
//! or liquid limit the best answer may need one well moved far (a shut-in
//! well lifted to `lo`, a dead-zone well unloaded or stopped, a well sent to
//! its peak) and the others cut back to make room — a knapsack choice.
//!
//! [`swap_search`] tries, for every well, a few positions (`0`, `lo`, the
//! ends of its hull's non-concave gaps, points across `[lo, hi]`, `hi`);
//! the others are then repaired (gas taken from the wells of least priced
//! marginal value, water and liquid from the wettest) and the slack filled
//! (the wells of highest priced marginal value take what the slacks allow).
//! A move is kept if it raises the true total oil; rounds repeat until none
//! does (at most [`ROUNDS`]).

use crate::allocate::{Segment, marginal};
use crate::fluids::{Prices, Problem, best_add, fluid_repair};

/// Most rounds of moves.
const ROUNDS: usize = 4;
/// Interior points of `[lo, hi]` tried per well.
const INTERIOR: usize = 6;
/// Wells that take the slack after a move.
const FILLERS: usize = 8;

/// Improves a feasible `gas` in place; true if it changed.
pub(crate) fn swap_search(p: &Problem, gas: &mut [f64], prices: Prices, hulls: &[Vec<Segment>]) -> bool {
    let n = p.wells.len();
    let positions: Vec<Vec<f64>> = (0..n).map(|i| positions(p, i, &hulls[i])).collect();
    let mut best = p.oil(gas);
    let mut changed = false;
    for _ in 0..ROUNDS {
        let mut improved = false;
        for i in 0..n {
            for &x in &positions[i] {
                if (x - gas[i]).abs() <= 1.0e-9 * x.abs().max(1.0) {
                    continue;
                }
                let mut trial = gas.to_vec();
                trial[i] = x;
                gas_repair(p, &mut trial, i, prices);
                fluid_repair(p, &mut trial, Some(i));
                if !p.feasible(&trial) {
                    continue;
                }
                fill(p, &mut trial, prices);
                let total = p.oil(&trial);
                if p.feasible(&trial) && total > best * (1.0 + 1.0e-12) + 1.0e-12 {
                    gas.copy_from_slice(&trial);
                    best = total;
                    improved = true;
                }
            }
        }
        changed |= improved;
        if !improved {
            break;
        }
    }
    changed
}

/// The positions tried for well `i`.
fn positions(p: &Problem, i: usize, hull: &[Segment]) -> Vec<f64> {
    let w = &p.wells[i];
    let mut x = Vec::new();
    if w.allow_zero || !w.has_interval() {
        x.push(0.0);
    }
    if w.has_interval() {
        x.push(w.lo);
        x.push(w.hi);
        x.extend((1..=INTERIOR).map(|k| w.lo + (w.hi - w.lo) * k as f64 / (INTERIOR + 1) as f64));
        for s in hull.iter().filter(|s| s.x1 - s.x0 > 1.5 * p.steps[i]) {
            x.push(s.x0);
            x.push(s.x1);
        }
    }
    x
}

/// Takes gas over the limit from the wells (not `keep`) of least priced
/// marginal value, each down to `lo` and then, if still over, to `0`.
fn gas_repair(p: &Problem, gas: &mut [f64], keep: usize, prices: Prices) {
    let Some(limit) = p.gas else { return };
    let mut excess = gas.iter().sum::<f64>() - limit;
    if excess <= 0.0 {
        return;
    }
    let value = |j: usize, g: f64| prices.value(p.wor[j]) * marginal(&p.wells[j], g);
    let mut order: Vec<usize> = (0..p.wells.len()).filter(|&j| j != keep && gas[j] > 0.0).collect();
    order.sort_by(|&a, &b| value(a, gas[a]).total_cmp(&value(b, gas[b])));
    for j in order {
        if excess <= 0.0 {
            return;
        }
        let w = &p.wells[j];
        let floor = if w.has_interval() { w.lo } else { 0.0 };
        let take = (gas[j] - floor).clamp(0.0, excess);
        gas[j] -= take;
        excess -= take;
        if excess > 0.0 && w.allow_zero && gas[j] > 0.0 {
            excess -= gas[j];
            gas[j] = 0.0;
        }
    }
}

/// Gives the slacks to the wells of highest priced marginal value.
fn fill(p: &Problem, gas: &mut [f64], prices: Prices) {
    let n = p.wells.len();
    let value = |j: usize, g: f64| prices.value(p.wor[j]) * marginal(&p.wells[j], g);
    let mut order: Vec<usize> =
        (0..n).filter(|&j| p.wells[j].has_interval() && gas[j] >= p.wells[j].lo && gas[j] < p.wells[j].hi).collect();
    order.sort_by(|&a, &b| value(b, gas[b]).total_cmp(&value(a, gas[a])));
    for &j in order.iter().take(FILLERS) {
        let slack = p.slack(gas);
        let t = best_add(p, j, gas[j], slack, p.wells[j].hi - gas[j]);
        if p.wells[j].curve.oil(gas[j] + t) > p.wells[j].curve.oil(gas[j]) {
            gas[j] += t;
        }
    }
}
