//! The little statistics the fit needs, by hand (no dependencies): normal
//! and Student-t quantiles and the inverse of a small symmetric matrix.

/// The standard normal quantile `Φ⁻¹(p)` for `0 < p < 1` (Acklam's rational
/// approximation, relative error below 1.2·10⁻⁹).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];
    const LOW: f64 = 0.024_25;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The standard normal distribution function `Φ(x)`, from the
/// complementary error function by its Chebyshev fit (Press et al.,
/// *Numerical Recipes*, `erfcc`: fractional error below 1.2·10⁻⁷).
pub fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 { 1.0 - 0.5 * erfc } else { 0.5 * erfc }
}

/// The Student-t quantile with `nu` degrees of freedom, from the normal one
/// by the Cornish–Fisher expansion of Abramowitz & Stegun 26.7.5 (within
/// 0.5 % for `nu ≥ 3` at the levels used here).
pub fn t_quantile(p: f64, nu: f64) -> f64 {
    let x = normal_quantile(p);
    let (x2, x3) = (x * x, x * x * x);
    let (x5, x7, x9) = (x3 * x2, x3 * x2 * x2, x3 * x3 * x3);
    let g1 = (x3 + x) / 4.0;
    let g2 = (5.0 * x5 + 16.0 * x3 + 3.0 * x) / 96.0;
    let g3 = (3.0 * x7 + 19.0 * x5 + 17.0 * x3 - 15.0 * x) / 384.0;
    let g4 = (79.0 * x9 + 776.0 * x7 + 1482.0 * x5 - 1920.0 * x3 - 945.0 * x) / 92_160.0;
    x + g1 / nu + g2 / nu.powi(2) + g3 / nu.powi(3) + g4 / nu.powi(4)
}

/// The inverse of the leading `k × k` block (`k` = 2 or 3) of a symmetric
/// positive-definite matrix, by Cholesky; `None` when it is singular.
#[allow(clippy::needless_range_loop)] // triangular loops read best with indices
pub fn inverse_spd(m: &[[f64; 3]; 3], k: usize) -> Option<[[f64; 3]; 3]> {
    let mut l = [[0.0; 3]; 3];
    for i in 0..k {
        for j in 0..=i {
            let s = m[i][j] - (0..j).map(|p| l[i][p] * l[j][p]).sum::<f64>();
            if i == j {
                if s.is_nan() || s <= 1e-14 * m[i][i].abs() {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    // inv = L⁻ᵀ L⁻¹: invert L column by column, then multiply.
    let mut li = [[0.0; 3]; 3];
    for c in 0..k {
        for i in c..k {
            let rhs = if i == c { 1.0 } else { 0.0 };
            let s: f64 = (c..i).map(|p| l[i][p] * li[p][c]).sum();
            li[i][c] = (rhs - s) / l[i][i];
        }
    }
    let mut inv = [[0.0; 3]; 3];
    for i in 0..k {
        for j in 0..k {
            inv[i][j] = (i.max(j)..k).map(|p| li[p][i] * li[p][j]).sum();
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_tables() {
        assert!((normal_quantile(0.9) - 1.281_551_565_5).abs() < 1e-8);
        assert!((normal_quantile(0.975) - 1.959_963_985).abs() < 1e-8);
        assert!((normal_quantile(0.01) + 2.326_347_874).abs() < 1e-8);
        for p in [0.001, 0.1, 0.5, 0.8, 0.9, 0.999] {
            assert!((normal_cdf(normal_quantile(p)) - p).abs() < 1e-7, "Φ(Φ⁻¹({p}))");
        }
        for (p, nu, table) in
            [(0.9, 3.0, 1.637_744), (0.9, 10.0, 1.372_184), (0.975, 5.0, 2.570_582), (0.95, 30.0, 1.697_261)]
        {
            let t = t_quantile(p, nu);
            assert!((t / table - 1.0).abs() < 0.005, "t({p}, {nu}) = {t}, table {table}");
        }
    }

    #[test]
    #[allow(clippy::needless_range_loop)]
    fn inverse_of_a_spd_matrix() {
        let m = [[4.0, 2.0, 0.6], [2.0, 3.0, 0.4], [0.6, 0.4, 2.0]];
        let inv = inverse_spd(&m, 3).expect("positive definite");
        for i in 0..3 {
            for j in 0..3 {
                let p: f64 = (0..3).map(|k| m[i][k] * inv[k][j]).sum();
                assert!((p - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        let two = inverse_spd(&m, 2).expect("positive definite");
        assert!((two[0][0] - 3.0 / 8.0).abs() < 1e-12 && (two[0][1] + 2.0 / 8.0).abs() < 1e-12);
        assert!(inverse_spd(&[[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0; 3]], 2).is_none());
    }
}
