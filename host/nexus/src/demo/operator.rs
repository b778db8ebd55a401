//! The demo's side of the recommendation loop: each simulated well
//! long-polls the device API's RPC and obeys the frequency it is sent, and
//! the demo's operator (an `OPERATOR` API key) approves each proposed
//! recommendation a few seconds after it appears — unless the demo runs
//! with `--manual-approval`, when a person approves them.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::Admin;
use crate::sim::DemoWell;

/// A setpoint request a well received: (well index, request id, value).
pub(super) type Request = (usize, u64, f64);

/// Starts a task per well that long-polls its RPC and hands each request
/// for `method` (the setpoint's parameter) to the demo loop.
pub(super) fn listen(
    client: &reqwest::Client,
    base: &str,
    tokens: &[String],
    method: &'static str,
) -> mpsc::Receiver<Request> {
    let (tx, rx) = mpsc::channel(64);
    for (index, token) in tokens.iter().enumerate() {
        let (client, url, tx) = (client.clone(), format!("{base}/api/v1/{token}/rpc?timeout=20000"), tx.clone());
        tokio::spawn(async move {
            loop {
                let polled = client.get(&url).timeout(Duration::from_secs(30)).send().await;
                let request = match polled {
                    Ok(response) if response.status().as_u16() == 200 => response.json::<Value>().await.ok(),
                    // 408: nothing within the wait; poll again.
                    Ok(response) if response.status().as_u16() == 408 => None,
                    Ok(response) => {
                        tracing::warn!(status = %response.status(), "Demo RPC poll refused.");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        None
                    }
                    Err(error) => {
                        tracing::warn!(%error, "Demo RPC poll failed.");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        None
                    }
                };
                let Some(request) = request else { continue };
                if let (Some(id), Some(value)) = (request["id"].as_u64(), request["params"].as_f64()) {
                    if request["method"] != method {
                        continue;
                    }
                    if tx.send((index, id, value)).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
    rx
}

/// Applies the requests the wells received to their drives and answers
/// each with the value the drive now runs at.
pub(super) async fn obey(
    client: &reqwest::Client,
    base: &str,
    tokens: &[String],
    wells: &mut [DemoWell],
    requests: &mut mpsc::Receiver<Request>,
) {
    while let Ok((index, id, hz)) = requests.try_recv() {
        let before = wells[index].sim().frequency();
        wells[index].set_frequency(hz);
        let now = wells[index].sim().frequency();
        let url = format!("{base}/api/v1/{}/rpc/{id}", tokens[index]);
        match client.post(url).json(&json!({"value": now})).send().await {
            Ok(response) if response.status().is_success() => tracing::info!(
                "ESP-{:02} obeyed RPC {id}: drive {before:.2} → {now:.2} Hz, answered with the value.",
                index + 1
            ),
            Ok(response) => tracing::warn!(status = %response.status(), "ESP-{:02}'s RPC answer refused.", index + 1),
            Err(error) => tracing::warn!(%error, "ESP-{:02}'s RPC answer not sent.", index + 1),
        }
    }
}

/// The demo's operator: approves proposed recommendations `delay` after
/// it first sees them (with `key`; none: a person decides).
pub(super) struct Operator {
    key: Option<Admin>,
    delay: Duration,
    seen: BTreeSet<String>,
    waiting: HashMap<String, Instant>,
}

impl Operator {
    pub(super) fn new(key: Option<Admin>, delay: Duration) -> Self {
        Self { key, delay, seen: BTreeSet::new(), waiting: HashMap::new() }
    }

    pub(super) async fn review(&mut self, admin: &Admin) {
        let Some(key) = &self.key else { return };
        let recommendations = admin.get("/api/recommendations?limit=50").await.unwrap_or(Value::Null);
        for r in recommendations.as_array().into_iter().flatten() {
            let Some(id) = r["id"].as_str() else { continue };
            if r["status"] == "PROPOSED" && self.seen.insert(id.to_string()) {
                self.waiting.insert(id.to_string(), Instant::now() + self.delay);
            }
        }
        let now = Instant::now();
        let due: Vec<String> = self.waiting.iter().filter(|(_, at)| **at <= now).map(|(id, _)| id.clone()).collect();
        for id in due {
            self.waiting.remove(&id);
            let path = format!("/api/recommendations/{id}/approve");
            let body = json!({"reason": "demo operator: the well is steady and the step is inside its limits"});
            match key.send(key.client.post(format!("{}{path}", key.base)).json(&body)).await {
                Ok((202, r)) => tracing::info!(
                    "Operator approved recommendation {id}: {} {} → {}.",
                    r["parameter"].as_str().unwrap_or(""),
                    r["current_value"],
                    r["proposed_value"]
                ),
                Ok((status, problem)) => {
                    tracing::info!("Operator could not approve recommendation {id}: {status} {}", problem["detail"]);
                }
                Err(error) => tracing::warn!(%error, "Operator's approval not sent."),
            }
        }
    }
}
