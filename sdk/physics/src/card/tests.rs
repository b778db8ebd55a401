//! Tests of the card module: validation, the fillage estimate on cards of
//! known fillage, the classifier on labelled synthetic cards.

use super::synthetic::{Params, labelled_set, synthetic};
use super::*;
use crate::sim::SplitMix64;

fn rectangle(points: usize) -> Card {
    // An ideal full-pump card: up at 1000 lbf, down at 0, 100 in stroke.
    let half = points / 2;
    let mut position = Vec::new();
    let mut load = Vec::new();
    for i in 0..half {
        position.push(100.0 * i as f64 / (half - 1) as f64);
        load.push(if i == 0 { 0.0 } else { 1000.0 });
    }
    for i in 0..half {
        position.push(100.0 * (1.0 - i as f64 / (half - 1) as f64));
        load.push(if i == 0 { 1000.0 } else { 0.0 });
    }
    Card::new(position, load).expect("valid card")
}

#[test]
fn validation_names_the_problem() {
    let ok = rectangle(40);
    assert_eq!(Card::new(vec![0.0; 10], vec![0.0; 10]), Err(CardError::TooFewPoints(10)));
    assert_eq!(
        Card::new(ok.position.clone(), ok.load[..39].to_vec()),
        Err(CardError::LengthMismatch { position: 40, load: 39 })
    );
    let mut nan = ok.clone();
    nan.load[7] = f64::NAN;
    assert_eq!(nan.validate(), Err(CardError::NotFinite { index: 7 }));
    assert_eq!(Card::new(vec![5.0; 30], (0..30).map(f64::from).collect()), Err(CardError::NoStroke));
    assert_eq!(Card::new((0..30).map(f64::from).collect(), vec![5.0; 30]), Err(CardError::FlatLoad));
    assert!(CardError::TooFewPoints(3).to_string().contains("at least 20"));
}

#[test]
fn ideal_rectangle_is_a_full_pump() {
    let card = rectangle(60);
    let c = classify(&card).expect("classified");
    assert_eq!(c.class, CardClass::FullPump);
    assert!(c.fillage > 0.97, "{}", c.fillage);
    assert!((c.features.area_ratio - 1.0).abs() < 0.05, "{}", c.features.area_ratio);
    assert!((c.features.span_lbf - 1000.0).abs() < 1e-9);
    assert!((c.features.stroke_in - 100.0).abs() < 1e-9);
}

#[test]
fn surface_card_subtracts_the_rod_weight_and_keeps_the_shape() {
    let down = rectangle(60);
    let surface_loads: Vec<f64> = down.load.iter().map(|l| l + 4200.0).collect();
    let approx = Card::from_surface(down.position.clone(), surface_loads.clone(), 4200.0).expect("valid");
    assert_eq!(approx, down);
    let record = CardRecord {
        position: down.position.clone(),
        load: surface_loads,
        kind: CardKind::Surface,
        buoyant_rod_weight_lbf: None,
    };
    assert_eq!(record.downhole(4200.0).expect("valid"), down);
    assert_eq!(record.polished_rod_loads(0.0), (5200.0, 4200.0));
    assert!(
        matches!(Card::from_surface(down.position, down.load, f64::NAN), Err(CardError::InvalidRodWeight(w)) if w.is_nan())
    );
}

#[test]
fn features_do_not_depend_on_where_the_loop_starts_or_its_direction() {
    let mut rng = SplitMix64::new(11);
    let s = synthetic(CardClass::FluidPound, &Params { fillage: Some(0.6), ..Params::default() }, &mut rng);
    let reference = features(&s.card).expect("features");
    let n = s.card.position.len();
    for shift in [1, 17, n / 2, n - 3] {
        let rotate = |v: &Vec<f64>| (0..n).map(|i| v[(i + shift) % n]).collect::<Vec<f64>>();
        let rotated = Card::new(rotate(&s.card.position), rotate(&s.card.load)).expect("valid");
        let f = features(&rotated).expect("features");
        assert!((f.fillage - reference.fillage).abs() < 1e-9, "shift {shift}: {} vs {}", f.fillage, reference.fillage);
        assert!((f.area_ratio - reference.area_ratio).abs() < 1e-9);
    }
    // Listed the other way round: the same card.
    let reversed =
        Card::new(s.card.position.iter().rev().copied().collect(), s.card.load.iter().rev().copied().collect())
            .expect("valid");
    let f = features(&reversed).expect("features");
    assert!((f.fillage - reference.fillage).abs() < 1e-9, "{} vs {}", f.fillage, reference.fillage);
    assert_eq!(classify(&reversed).expect("classified").class, CardClass::FluidPound);
}

#[test]
fn fillage_within_five_points_on_cards_of_known_fillage() {
    // Fluid pound and gas interference at fillages 0.30–1.00 in steps of
    // 0.05, 40 seeds each: random scale, shape, rotation and noise.
    let mut worst: (f64, String) = (0.0, String::new());
    let mut count = 0;
    for class in [CardClass::FluidPound, CardClass::GasInterference] {
        for step in 0..=14 {
            let target = 0.30 + 0.05 * f64::from(step);
            for seed in 0..40u64 {
                let mut rng = SplitMix64::new(seed * 1000 + u64::from(step as u8) + 7);
                let params = Params { fillage: Some(target), ..Params::random(&mut rng) };
                let s = synthetic(class, &params, &mut rng);
                let estimate = fillage(&s.card).expect("fillage");
                let error = (estimate - s.fillage).abs();
                assert!((s.fillage - target).abs() < 0.06, "{class} template at {target}: truth {}", s.fillage);
                if error > worst.0 {
                    worst =
                        (error, format!("{class} f={target:.2} seed {seed}: est {estimate:.3} true {:.3}", s.fillage));
                }
                count += 1;
            }
        }
    }
    println!("fillage: {count} cards, worst |error| {:.4} ({})", worst.0, worst.1);
    assert!(worst.0 <= 0.05, "worst fillage error {:.4}: {}", worst.0, worst.1);
}

#[test]
fn every_class_is_recognised_on_a_small_labelled_set() {
    let mut rng = SplitMix64::new(2024);
    let set = labelled_set(&CardClass::ALL, 40, &mut rng);
    for class in CardClass::ALL {
        let cards: Vec<_> = set.iter().filter(|s| s.class == class).collect();
        let right = cards
            .iter()
            .filter(|s| {
                let options = ClassifyOptions { rod_part_span_lbf: Some(0.25 * s.fluid_load_lbf) };
                classify_with(&s.card, &options).expect("classified").class == class
            })
            .count();
        assert!(right * 10 >= cards.len() * 8, "{class}: {right}/{} recognised", cards.len());
    }
}

#[test]
fn confidence_is_between_a_half_and_one_and_names_round_trip() {
    let mut rng = SplitMix64::new(5);
    for class in CardClass::ALL {
        let s = synthetic(class, &Params::default(), &mut rng);
        let c = classify(&s.card).expect("classified");
        assert!((0.5..=1.0).contains(&c.confidence), "{class}: {}", c.confidence);
        assert_eq!(CardClass::from_name(class.name()), Some(class));
    }
    assert_eq!(CardClass::from_name("Nope"), None);
    assert_eq!(rules().len(), 9);
}
