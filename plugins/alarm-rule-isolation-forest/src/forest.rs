//! Isolation Forest (Liu, Ting & Zhou 2008, ICDM) with a seeded PRNG, so a
//! forest is a pure function of its data, its parameters and its seed and can
//! be rebuilt at every call instead of being stored.
//!
//! Each tree grows on ψ = min(`sample_size`, n) rows drawn without
//! replacement, down to depth ⌈log₂ ψ⌉: a node picks a feature uniformly among
//! those that are not constant on its rows and splits at a value uniform
//! between their min and max (rows `≤` the split go left). A row's path length
//! is the depth of the leaf it reaches plus c(leaf size); its anomaly score is
//! s = 2^(−E(h)/c(ψ)), near 1 for anomalies and below 0.5 for normal rows.

/// Euler–Mascheroni constant.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// A feature whose range on a node's rows is at most this is constant there
/// (scikit-learn's tree splitter uses the same `FEATURE_THRESHOLD`).
const CONSTANT_RANGE: f64 = 1e-7;

/// Harmonic numbers up to this are summed exactly.
const EXACT_HARMONIC: usize = 1024;

/// The splitmix64 generator (Steele, Lea & Flood 2014): tiny, fast, and good
/// enough for random splits. Any seed, including 0, is valid.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform number in `[0, 1)` (53 random bits).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform index in `0..n` (Lemire's multiply-shift; `n` must be > 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// The harmonic number H(n) = 1 + 1/2 + … + 1/n (H(0) = 0): summed exactly up
/// to 1024, then by its asymptotic expansion (error below 1e-15).
pub fn harmonic(n: usize) -> f64 {
    if n <= EXACT_HARMONIC {
        // Smallest terms first, for accuracy.
        (1..=n).rev().map(|i| 1.0 / i as f64).sum()
    } else {
        let x = n as f64;
        x.ln() + EULER_GAMMA + 1.0 / (2.0 * x) - 1.0 / (12.0 * x * x) + 1.0 / (120.0 * x.powi(4))
    }
}

/// c(n) = 2H(n−1) − 2(n−1)/n, the average path length of an unsuccessful
/// search in a binary search tree of n points; c(0) = c(1) = 0, c(2) = 1.
pub fn average_path_length(n: usize) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    2.0 * harmonic(n - 1) - 2.0 * (n - 1) as f64 / n as f64
}

/// ⌈log₂ n⌉ (0 for n ≤ 1).
fn ceil_log2(n: usize) -> usize {
    if n <= 1 { 0 } else { (usize::BITS - (n - 1).leading_zeros()) as usize }
}

/// A node of a tree, in pre-order: a split's left child is the next node.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Node {
    /// Rows with `x[feature] ≤ threshold` go left, the others to `right`.
    Split { feature: usize, threshold: f64, right: usize },
    /// An external node reached by `size` training rows; `adjust` = c(size).
    Leaf { size: usize, adjust: f64 },
}

/// A fitted Isolation Forest.
#[derive(Debug, Clone, PartialEq)]
pub struct Forest {
    trees: Vec<Vec<Node>>,
    /// Rows each tree was grown on (ψ).
    psi: usize,
}

/// What growing one tree needs besides the rows of the node.
struct Grower<'a> {
    data: &'a [Vec<f64>],
    dims: usize,
    max_depth: usize,
    rng: &'a mut SplitMix64,
    /// Scratch: the features not tried yet at the current node.
    untried: Vec<usize>,
    nodes: Vec<Node>,
}

impl Grower<'_> {
    fn value(&self, row: usize, feature: usize) -> f64 {
        self.data.get(row).and_then(|r| r.get(feature)).copied().unwrap_or(0.0)
    }

    fn grow(&mut self, rows: &mut [usize], depth: usize) {
        if depth < self.max_depth && rows.len() > 1 {
            self.untried.clear();
            self.untried.extend(0..self.dims);
            while !self.untried.is_empty() {
                let pick = self.rng.below(self.untried.len());
                let feature = self.untried.swap_remove(pick);
                let (lo, hi) = rows.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &r| {
                    let v = self.value(r, feature);
                    (lo.min(v), hi.max(v))
                });
                if hi - lo <= CONSTANT_RANGE {
                    continue;
                }
                let mut threshold = lo + self.rng.unit() * (hi - lo);
                if threshold >= hi {
                    threshold = lo;
                }
                let mut split = 0;
                for k in 0..rows.len() {
                    if self.value(rows[k], feature) <= threshold {
                        rows.swap(k, split);
                        split += 1;
                    }
                }
                let at = self.nodes.len();
                self.nodes.push(Node::Leaf { size: 0, adjust: 0.0 });
                let (left, right) = rows.split_at_mut(split);
                self.grow(left, depth + 1);
                let right_at = self.nodes.len();
                self.grow(right, depth + 1);
                self.nodes[at] = Node::Split { feature, threshold, right: right_at };
                return;
            }
        }
        self.nodes.push(Node::Leaf { size: rows.len(), adjust: average_path_length(rows.len()) });
    }
}

impl Forest {
    /// Grows `trees` trees on `data` (one row per sample, all of the same
    /// length), each on min(`sample_size`, rows) rows drawn without
    /// replacement, with the generator seeded by `seed`. The same arguments
    /// always give the same forest.
    pub fn fit(data: &[Vec<f64>], trees: usize, sample_size: usize, seed: u64) -> Self {
        let n = data.len();
        let psi = sample_size.min(n);
        let mut rng = SplitMix64::new(seed);
        let mut pool: Vec<usize> = (0..n).collect();
        let mut grower = Grower {
            data,
            dims: data.first().map_or(0, Vec::len),
            max_depth: ceil_log2(psi),
            rng: &mut rng,
            untried: Vec::new(),
            nodes: Vec::new(),
        };
        let mut forest = Vec::with_capacity(trees);
        for _ in 0..trees {
            // Partial Fisher–Yates: the first ψ entries are a uniform sample.
            for i in 0..psi {
                let j = i + grower.rng.below(n - i);
                pool.swap(i, j);
            }
            let mut rows = pool[..psi].to_vec();
            grower.nodes = Vec::with_capacity(2 * psi);
            grower.grow(&mut rows, 0);
            forest.push(std::mem::take(&mut grower.nodes));
        }
        Self { trees: forest, psi }
    }

    /// The path length h(x) of `x` in one tree.
    fn path_length(tree: &[Node], x: &[f64]) -> f64 {
        let mut at = 0;
        let mut depth = 0.0;
        while let Some(node) = tree.get(at) {
            match *node {
                Node::Leaf { adjust, .. } => return depth + adjust,
                Node::Split { feature, threshold, right } => {
                    let v = x.get(feature).copied().unwrap_or(0.0);
                    at = if v <= threshold { at + 1 } else { right };
                    depth += 1.0;
                }
            }
        }
        depth
    }

    /// The anomaly score s(x) = 2^(−E(h(x))/c(ψ)) in (0, 1]; 0.5 when the
    /// forest cannot tell (no trees, or fewer than two rows).
    pub fn score(&self, x: &[f64]) -> f64 {
        let norm = average_path_length(self.psi);
        if self.trees.is_empty() || norm <= 0.0 {
            return 0.5;
        }
        let total: f64 = self.trees.iter().map(|tree| Self::path_length(tree, x)).sum();
        2f64.powf(-(total / self.trees.len() as f64) / norm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_path_length_matches_the_definition() {
        assert_eq!(average_path_length(0), 0.0);
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        // 2·H(2) − 2·2/3 = 3 − 4/3.
        assert!((average_path_length(3) - (3.0 - 4.0 / 3.0)).abs() < 1e-12);
        // ψ = 9: 2·H(8) − 16/9, H(8) = 761/280.
        assert!((average_path_length(9) - (2.0 * 761.0 / 280.0 - 16.0 / 9.0)).abs() < 1e-12);
        // ψ = 256, the paper's default: close to 2(ln 255 + γ) − 2·255/256.
        let approx = 2.0 * ((255f64).ln() + EULER_GAMMA) - 2.0 * 255.0 / 256.0;
        assert!((average_path_length(256) - approx).abs() < 0.01);
    }

    #[test]
    fn harmonic_expansion_joins_the_exact_sum() {
        let exact: f64 = (1..=2000).rev().map(|i| 1.0 / i as f64).sum();
        assert!((harmonic(2000) - exact).abs() < 1e-12);
        assert_eq!(harmonic(0), 0.0);
        assert_eq!(harmonic(1), 1.0);
    }

    #[test]
    fn ceil_log2_is_the_depth_limit() {
        assert_eq!([0, 1, 2, 3, 4, 8, 9, 256, 257].map(ceil_log2), [0, 0, 1, 2, 2, 3, 4, 8, 9]);
    }

    #[test]
    fn the_generator_is_deterministic_and_in_range() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        assert_eq!(
            (0..100).map(|_| a.next_u64()).collect::<Vec<_>>(),
            (0..100).map(|_| b.next_u64()).collect::<Vec<_>>()
        );
        // Reference value of splitmix64 seeded with 0.
        assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
        let mut r = SplitMix64::new(1);
        for _ in 0..1000 {
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
            assert!(r.below(9) < 9);
        }
    }

    fn cluster() -> Vec<Vec<f64>> {
        (0..9).map(|i| vec![(i % 3) as f64 * 0.1, (i / 3) as f64 * 0.1, 1.0]).collect()
    }

    #[test]
    fn the_same_seed_grows_the_same_forest() {
        let data = cluster();
        assert_eq!(Forest::fit(&data, 100, 256, 3), Forest::fit(&data, 100, 256, 3));
        assert_ne!(Forest::fit(&data, 100, 256, 3), Forest::fit(&data, 100, 256, 4));
    }

    #[test]
    fn an_outlier_scores_higher_than_the_inliers() {
        let mut data: Vec<Vec<f64>> = (0..25).map(|i| vec![(i % 5) as f64 * 0.1, (i / 5) as f64 * 0.1]).collect();
        data.push(vec![5.0, -4.0]);
        for seed in 1..=5 {
            let forest = Forest::fit(&data, 100, 256, seed);
            let scores: Vec<f64> = data.iter().map(|x| forest.score(x)).collect();
            let (outlier, inliers) = scores.split_last().expect("rows");
            let highest = inliers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            assert!(*outlier > highest, "seed {seed}: {outlier} ≤ {highest}");
            assert!(*outlier > 0.6 && *outlier <= 1.0, "{outlier}");
        }
    }

    #[test]
    fn points_beyond_the_training_range_share_the_extremes_paths() {
        // Isolation Forest property: (5, −4) follows (0.2, 0) down every tree,
        // so it cannot score above it; only new combinations of values can.
        let data = cluster();
        let forest = Forest::fit(&data, 100, 256, 1);
        assert_eq!(forest.score(&[5.0, -4.0, 1.0]), forest.score(&[0.2, 0.0, 1.0]));
        let highest = data.iter().map(|x| forest.score(x)).fold(f64::NEG_INFINITY, f64::max);
        assert!(forest.score(&[0.05, 0.15, 1.0]) <= highest);
    }

    #[test]
    fn constant_data_scores_one_half() {
        let data = vec![vec![1.0, 2.0]; 9];
        let forest = Forest::fit(&data, 10, 256, 1);
        assert!((forest.score(&[1.0, 2.0]) - 0.5).abs() < 1e-12);
        assert!((forest.score(&[100.0, -2.0]) - 0.5).abs() < 1e-12);
        // No features at all: nothing to split on either.
        let forest = Forest::fit(&vec![Vec::new(); 9], 10, 256, 1);
        assert!((forest.score(&[]) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn each_tree_grows_on_psi_rows() {
        // ψ = min(4, 9): every tree's leaves hold exactly 4 rows.
        let data = cluster();
        let forest = Forest::fit(&data, 20, 4, 9);
        assert_eq!(forest.psi, 4);
        for tree in &forest.trees {
            let sizes: Vec<usize> =
                tree.iter().filter_map(|n| if let Node::Leaf { size, .. } = n { Some(*size) } else { None }).collect();
            assert_eq!(sizes.iter().sum::<usize>(), 4);
            // Depth limit ⌈log₂ 4⌉ = 2: at most 4 leaves.
            assert!(sizes.len() <= 4);
        }
    }
}
