//! The operator console in a real browser: Debian's headless Chromium,
//! driven through Selenium by `tests/console/browser.py` (run with
//! `.ci/console-test`), against this server running the demo field.
//!
//! An operator logs in, sees the map with the demo's wells, opens a well
//! whose trend updates live, acknowledges an alarm and sees the event,
//! approves a recommendation and watches it reach CONFIRMED; a viewer finds
//! no approve control (and the API refuses it anyway); a tenant admin
//! uploads a broken component and reads the validator's reason. The script
//! measures the first load's size and the well view's time to first trend
//! and takes a screenshot of each screen (into `NEXUS_SCREENSHOTS`, default
//! a temporary directory; `NEXUS_SCREENSHOTS=docs/console` refreshes the
//! README's).

use std::time::Duration;

use nexus::demo::{self, DemoOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{Harness, PASSWORD, TOKEN};

/// Wells of the demo field: its ESP wells and the four of the gas-lift pad.
const ESP_WELLS: usize = 4;
const WELLS: usize = ESP_WELLS + 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_a_viewer_and_a_tenant_admin_use_the_console_in_headless_chromium() {
    let h = Harness::start().await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // The demo field, with approvals left to the people in the browser and
    // its first pump-off (an alarm to acknowledge, about a minute and a half
    // later) 5 s in.
    let options =
        DemoOptions { wells: ESP_WELLS, manual_approval: true, first_event_step: 5, ..DemoOptions::default() };
    let field = tokio::spawn(demo::run(h.base.clone(), TOKEN.to_string(), options));
    let mut emails = Vec::new();
    for role in ["OPERATOR", "VIEWER", "TENANT_ADMIN"] {
        emails.push(user(&h, role).await);
    }
    // Until the demo has set the field up.
    let admin = login(&h, &emails[2]).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let wells = h.client.get(format!("{}/api/wells", h.base)).bearer_auth(&admin).send().await.expect("wells");
        let wells: Value = wells.json().await.expect("json");
        if wells.as_array().map(Vec::len) == Some(WELLS) {
            break;
        }
        assert!(!field.is_finished(), "the demo stopped: {:?}", field.await);
        assert!(tokio::time::Instant::now() < deadline, "the demo did not set its field up: {wells}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let shots = std::env::var("NEXUS_SCREENSHOTS")
        .map(|dir| root.join(dir))
        .unwrap_or_else(|_| std::env::temp_dir().join(format!("nexus-console-{}", uuid::Uuid::new_v4().simple())));
    let (script, runner) = (root.join("host/nexus/tests/console/browser.py"), root.join(".ci/console-test"));
    let (base, emails) = (h.base.clone(), emails.clone());
    let shots_dir = shots.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(runner)
            .arg(script)
            .env("NEXUS_BASE", base)
            .env("NEXUS_PASSWORD", PASSWORD)
            .env("NEXUS_OPERATOR", &emails[0])
            .env("NEXUS_VIEWER", &emails[1])
            .env("NEXUS_ADMIN", &emails[2])
            .env("NEXUS_WELLS", WELLS.to_string())
            .env("NEXUS_SCREENSHOTS", shots_dir)
            .output()
    })
    .await
    .expect("task")
    .expect("runs .ci/console-test (Chromium and chromedriver come from .ci/services)");
    field.abort();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("browser test:\n{stdout}\nscreenshots in {}", shots.display());
    assert!(output.status.success(), "the browser test failed ({}):\n{stdout}\n{stderr}", output.status);
    let metrics: Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("METRICS "))
        .and_then(|m| serde_json::from_str(m).ok())
        .expect("the script's metrics");
    assert!(metrics["first_load_bytes_sent"].as_u64().is_some_and(|b| b < 500_000), "{metrics}");
    assert!(metrics["confirmed_recommendation"].is_string() && metrics["acknowledged_alarm"].is_string(), "{metrics}");
    for screen in ["login", "map", "well", "well-esp", "alarms", "recommendations", "health", "plugins", "map-tablet"] {
        assert!(shots.join(format!("{screen}.png")).is_file(), "no screenshot of {screen}");
    }
}

/// A user of `role` in the demo tenant, with the tests' password.
async fn user(h: &Harness, role: &str) -> String {
    let created = h
        .client
        .post(format!("{}/api/tenants", h.base))
        .bearer_auth(TOKEN)
        .json(&json!({"id": demo::DEMO_TENANT, "name": "Demo field"}))
        .send()
        .await
        .expect("tenant");
    assert!(matches!(created.status().as_u16(), 201 | 409), "{}", created.status());
    let email = format!("{}@console.test", role.to_lowercase().replace('_', "-"));
    let response = h
        .client
        .post(format!("{}/api/tenants/{}/users", h.base, demo::DEMO_TENANT))
        .bearer_auth(TOKEN)
        .json(&json!({"email": email, "password": PASSWORD, "role": role}))
        .send()
        .await
        .expect("user");
    assert_eq!(response.status(), StatusCode::CREATED, "{email}: {}", response.text().await.unwrap_or_default());
    email
}

async fn login(h: &Harness, email: &str) -> String {
    crate::login(&h.client, &h.base, email).await["access_token"].as_str().expect("token").to_string()
}
