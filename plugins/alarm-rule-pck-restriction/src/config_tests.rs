//! Tests of the configuration.
use super::*;

#[test]
fn defaults_are_the_restriction_profile_with_discriminators() {
    let cfg = parse_config("").expect("defaults");
    assert_eq!(cfg, PckConfig::default());
    assert_eq!(cfg.key, "P-MON-CKP");
    assert_eq!((cfg.rise_pct, cfg.confirm_pct, cfg.clear_pct), (3.0, 3.0, 1.5));
    assert_eq!((cfg.rise_window_ms, cfg.baseline_ms, cfg.confirm_ms), (300_000, 300_000, 60_000));
    assert_eq!((cfg.clear_after_ms, cfg.bucket_ms), (120_000, 1_000));
    assert_eq!((cfg.severity, cfg.alarm_type.as_str()), (Severity::Major, "PckRestriction"));
    let d = &cfg.discriminators;
    assert!(d.enabled && d.required);
    assert_eq!(
        (d.p_tpt_key.as_deref(), d.t_jus_ckp_key.as_deref(), d.qgl_key.as_deref()),
        (Some("P-TPT"), Some("T-JUS-CKP"), Some("QGL"))
    );
    assert_eq!((d.tpt_min_rise_pct, d.mon_over_tpt, d.t_min_fall_c, d.qgl_max_change_pct), (0.0, 1.0, 0.0, 5.0));
}

#[test]
fn the_paper_reading_parses_from_its_documented_json() {
    let json = r#"{"rise_pct": 5, "rise_window_s": 10, "baseline_s": 60, "discriminators": {"enabled": false}}"#;
    assert_eq!(parse_config(json).expect("valid"), PckConfig::paper_reading());
    let cfg =
        parse_config(r#"{"discriminators": {"p_tpt_key": null, "bucket_s": 5, "t_min_fall_c": -0.1}}"#).expect("valid");
    assert_eq!((cfg.discriminators.p_tpt_key, cfg.discriminators.bucket_ms), (None, 5_000));
}

#[test]
fn everything_can_be_set() {
    let cfg = parse_config(
        r#"{"key": "pmon", "rise_pct": 3, "rise_window_s": 120, "baseline_s": 300, "confirm_s": 30,
            "confirm_pct": 2, "clear_pct": 1, "clear_after_s": 600, "bucket_s": 5,
            "min_level_pa": 1000, "severity": "critical", "alarm_type": "Pck"}"#,
    )
    .expect("valid");
    assert_eq!((cfg.rise_pct, cfg.confirm_pct, cfg.clear_pct), (3.0, 2.0, 1.0));
    assert_eq!((cfg.rise_window_ms, cfg.baseline_ms, cfg.bucket_ms), (120_000, 300_000, 5_000));
    assert_eq!((cfg.severity, cfg.alarm_type.as_str()), (Severity::Critical, "Pck"));
}

#[test]
fn invalid_configs_are_rejected() {
    for bad in [
        r#"{"unknown": 1}"#,
        r#"{"key": ""}"#,
        r#"{"rise_pct": 0}"#,
        r#"{"rise_pct": -5}"#,
        r#"{"clear_pct": 6}"#,
        r#"{"bucket_s": 0}"#,
        r#"{"rise_window_s": 0}"#,
        r#"{"baseline_s": 900}"#,
        r#"{"min_level_pa": 0}"#,
        r#"{"severity": "fatal"}"#,
        r#"{"alarm_type": ""}"#,
        r#"{"discriminators": {"bucket_s": 0}}"#,
        r#"{"discriminators": {"qgl_key": ""}}"#,
        r#"{"discriminators": {"unknown": 1}}"#,
        "[]",
        "nope",
    ] {
        let err = parse_config(bad).expect_err(bad);
        assert_eq!(err.code, "invalid-config", "{bad}: {}", err.message);
    }
}

#[test]
fn schema_is_draft_2020_12() {
    assert_eq!(config_schema()["$schema"], "https://json-schema.org/draft/2020-12/schema");
}
