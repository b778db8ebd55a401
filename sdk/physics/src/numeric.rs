//! Root finding used by the solvers: bisection on a bracket and a scan for
//! the largest sign change. Bisection is slow but cannot diverge, which is
//! what a plugin with a fuel budget needs.

/// A root of `g` in `[lo, hi]` where `g(lo)` and `g(hi)` differ in sign (or
/// one is zero). Stops when the bracket is below `1e-13` relative (or
/// absolute near zero), after at most 200 halvings.
pub(crate) fn bisect(g: impl Fn(f64) -> f64, mut lo: f64, mut hi: f64) -> f64 {
    let mut g_lo = g(lo);
    if g_lo == 0.0 {
        return lo;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if (hi - lo).abs() <= 1e-13 * mid.abs().max(1.0) {
            return mid;
        }
        let g_mid = g(mid);
        if g_mid == 0.0 {
            return mid;
        }
        if (g_mid > 0.0) == (g_lo > 0.0) {
            lo = mid;
            g_lo = g_mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The largest root of `g` in `[0, hi]`, found by scanning down from `hi` in
/// `steps` cells for the first cell whose lower end has `g > 0` while its
/// upper end has `g ≤ 0`, then bisecting. `None` when `g ≤ 0` on every grid
/// point (or `g(hi) > 0`, which the caller handles as "no crossing").
pub(crate) fn largest_root_below(g: impl Fn(f64) -> f64, hi: f64, steps: usize) -> Option<f64> {
    let mut upper = hi;
    let mut g_upper = g(hi);
    if g_upper > 0.0 {
        return None;
    }
    for i in (0..steps).rev() {
        let lower = hi * i as f64 / steps as f64;
        let g_lower = g(lower);
        if g_lower > 0.0 {
            return Some(if g_upper == 0.0 { upper } else { bisect(&g, lower, upper) });
        }
        upper = lower;
        g_upper = g_lower;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bisect_finds_square_root_of_two() {
        let r = bisect(|x| x * x - 2.0, 0.0, 2.0);
        assert!((r - 2f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn largest_root_picks_the_upper_of_two() {
        // (x − 1)(3 − x) > 0 between 1 and 3: the largest root is 3.
        let r = largest_root_below(|x| (x - 1.0) * (3.0 - x), 10.0, 100).unwrap();
        assert!((r - 3.0).abs() < 1e-12, "{r}");
        assert_eq!(largest_root_below(|x| -1.0 - x, 10.0, 100), None);
    }
}
