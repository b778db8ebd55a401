//! # nexus-cache-redis
//!
//! The Redis implementation of the services' hot-state cache
//! ([`nexus_services::HotCache`]); the only crate that knows Redis.
//!
//! Keys (every one under a configurable prefix, default `nexus:`, and the
//! tenant, so tenants and test runs never collide), and the seed's names
//! they stand for:
//!
//! | key | seed | type | TTL |
//! |---|---|---|---|
//! | `{prefix}{tenant}:device:{id}:telemetry:latest` | (per device) | hash: key → `{ts}\|{reading JSON}` | 1 min |
//! | `{prefix}{tenant}:well:{id}:telemetry:latest` | `well:{id}:telemetry:latest` | hash, as above, over the well's devices | 1 min |
//! | `{prefix}{tenant}:well:{id}:status` | `well:{id}:status` | hash: `last_report_ts`, `last_device` | 5 min |
//! | `{prefix}{tenant}:alarms:active` | `alarms:active` | sorted set: alarm id, score = start ts | none |
//!
//! The seed's `session:{id}` is not kept: sessions (refresh tokens) live in
//! the identity store and are checked there.
//!
//! Every TTL is renewed by each write. A hash field is replaced only by a
//! value at least as new (a Lua script compares the timestamps in Redis), so
//! a late or repeated write never takes a key back in time.

use std::time::Duration;

use async_trait::async_trait;
use nexus_model::{DeviceId, Reading, TenantId, TimestampMs, WellId};
use nexus_services::{AlarmUpdate, CacheError, HotCache, LatestUpdate};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "nexus:";
/// TTL of the latest-value hashes (the seed's 1 minute).
pub const LATEST_TTL: Duration = Duration::from_secs(60);
/// TTL of a well's status (the seed's 5 minutes).
pub const STATUS_TTL: Duration = Duration::from_secs(5 * 60);
/// How long one command may take before it fails (and the services use
/// storage).
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);

/// Stores latest values into up to three keys: `KEYS[1]` the device's hash,
/// `KEYS[2]` the well's hash, `KEYS[3]` the well's status. `ARGV`: latest
/// TTL ms, status TTL ms, `1` when an equal timestamp replaces, the device,
/// then (field, ts, value) triples. A field is set only when its new ts is newer
/// (or equal and replacing).
const PUT_LATEST: &str = r"
local hashes = math.min(#KEYS, 2)
local newest = nil
for i = 5, #ARGV, 3 do
  local field, ts, value = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  for k = 1, hashes do
    local current = redis.call('HGET', KEYS[k], field)
    local current_ts = current and tonumber(string.match(current, '^(-?%d+)|'))
    if not current_ts or ts > current_ts or (ts == current_ts and ARGV[3] == '1') then
      redis.call('HSET', KEYS[k], field, value)
    end
  end
  if not newest or ts > newest then newest = ts end
end
for k = 1, hashes do
  if redis.call('EXISTS', KEYS[k]) == 1 then redis.call('PEXPIRE', KEYS[k], ARGV[1]) end
end
if #KEYS >= 3 and newest then
  local last = tonumber(redis.call('HGET', KEYS[3], 'last_report_ts'))
  if not last or newest > last then
    redis.call('HSET', KEYS[3], 'last_report_ts', tostring(newest), 'last_device', ARGV[4])
  end
  redis.call('PEXPIRE', KEYS[3], ARGV[2])
end
return 0
";

/// Where the cache's keys are.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// Keys under `prefix`.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self { prefix: prefix.into() }
    }

    /// A device's latest values.
    pub fn device_latest(&self, tenant: &TenantId, device: &DeviceId) -> String {
        format!("{}{tenant}:device:{device}:telemetry:latest", self.prefix)
    }

    /// A well's latest values.
    pub fn well_latest(&self, tenant: &TenantId, well: &WellId) -> String {
        format!("{}{tenant}:well:{well}:telemetry:latest", self.prefix)
    }

    /// A well's status.
    pub fn well_status(&self, tenant: &TenantId, well: &WellId) -> String {
        format!("{}{tenant}:well:{well}:status", self.prefix)
    }

    /// A tenant's active alarms.
    pub fn active_alarms(&self, tenant: &TenantId) -> String {
        format!("{}{tenant}:alarms:active", self.prefix)
    }
}

/// A Redis server as the hot cache: one reconnecting connection, which
/// connects lazily, so a host starts while Redis is down.
pub struct RedisCache {
    connection: ConnectionManager,
    keys: Keys,
}

/// A URL Redis cannot use.
#[derive(Debug, thiserror::Error)]
#[error("redis: {0}")]
pub struct ConnectError(String);

impl RedisCache {
    /// A cache at `url` (`redis://host:port/db`), its keys under `prefix`.
    /// Does not connect yet.
    pub fn new(url: &str, prefix: &str) -> Result<Self, ConnectError> {
        let client = redis::Client::open(url).map_err(|e| ConnectError(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(RESPONSE_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let connection =
            ConnectionManager::new_lazy_with_config(client, config).map_err(|e| ConnectError(e.to_string()))?;
        Ok(Self { connection, keys: Keys::new(prefix) })
    }

    /// Its keys.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }
}

fn failed(error: redis::RedisError) -> CacheError {
    CacheError(error.to_string())
}

/// A hash field's value: the timestamp first, for the script to compare.
fn encode(reading: &Reading) -> Result<String, CacheError> {
    let json = serde_json::to_string(reading).map_err(|e| CacheError(e.to_string()))?;
    Ok(format!("{}|{json}", reading.ts))
}

fn decode(field: &str) -> Result<Reading, CacheError> {
    let json = field.split_once('|').map(|(_, json)| json).ok_or_else(|| CacheError("malformed entry".into()))?;
    serde_json::from_str(json).map_err(|e| CacheError(format!("malformed entry: {e}")))
}

#[async_trait]
impl HotCache for RedisCache {
    async fn put_latest(&self, updates: &[LatestUpdate]) -> Result<(), CacheError> {
        let mut pipe = redis::pipe();
        for update in updates {
            let (tenant, device) = (&update.tenant_id, &update.device_id);
            let mut keys = vec![self.keys.device_latest(tenant, device)];
            if let Some(well) = &update.well_id {
                keys.push(self.keys.well_latest(tenant, well));
                keys.push(self.keys.well_status(tenant, well));
            }
            let command = pipe.cmd("EVAL").arg(PUT_LATEST).arg(keys.len()).arg(&keys);
            command.arg(LATEST_TTL.as_millis() as u64).arg(STATUS_TTL.as_millis() as u64);
            command.arg(if update.replace_equal { "1" } else { "0" }).arg(device.as_str());
            for reading in &update.readings {
                command.arg(&reading.key).arg(reading.ts).arg(encode(reading)?);
            }
            command.ignore();
        }
        pipe.exec_async(&mut self.connection.clone()).await.map_err(failed)
    }

    async fn latest(&self, tenant: &TenantId, device: &DeviceId, keys: &[String]) -> Result<Vec<Reading>, CacheError> {
        let values: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.keys.device_latest(tenant, device))
            .arg(keys)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(failed)?;
        values.iter().flatten().map(|v| decode(v)).collect()
    }

    async fn forget_latest(&self, devices: &[(TenantId, DeviceId, Option<WellId>)]) -> Result<(), CacheError> {
        let mut pipe = redis::pipe();
        for (tenant, device, well) in devices {
            pipe.cmd("DEL").arg(self.keys.device_latest(tenant, device)).ignore();
            if let Some(well) = well {
                pipe.cmd("DEL").arg(self.keys.well_latest(tenant, well)).ignore();
                pipe.cmd("DEL").arg(self.keys.well_status(tenant, well)).ignore();
            }
        }
        pipe.exec_async(&mut self.connection.clone()).await.map_err(failed)
    }

    async fn well_status(
        &self,
        tenant: &TenantId,
        well: &WellId,
    ) -> Result<Option<(TimestampMs, DeviceId)>, CacheError> {
        let (ts, device): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(self.keys.well_status(tenant, well))
            .arg("last_report_ts")
            .arg("last_device")
            .query_async(&mut self.connection.clone())
            .await
            .map_err(failed)?;
        match (ts, device) {
            (Some(ts), Some(device)) => {
                let ts = ts.parse().map_err(|_| CacheError(format!("malformed last_report_ts {ts:?}")))?;
                Ok(Some((ts, DeviceId::from(device))))
            }
            _ => Ok(None),
        }
    }

    async fn update_alarms(&self, updates: &[AlarmUpdate]) -> Result<(), CacheError> {
        let mut pipe = redis::pipe();
        for update in updates {
            let key = self.keys.active_alarms(&update.tenant_id);
            if update.active {
                pipe.cmd("ZADD").arg(key).arg(update.start_ts).arg(update.alarm_id.as_str()).ignore();
            } else {
                pipe.cmd("ZREM").arg(key).arg(update.alarm_id.as_str()).ignore();
            }
        }
        pipe.exec_async(&mut self.connection.clone()).await.map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use nexus_model::Value;

    use super::*;

    #[test]
    fn keys_carry_the_prefix_and_the_tenant() {
        let keys = Keys::new("p:");
        let (t, d, w) = (TenantId::from("t1"), DeviceId::from("d1"), WellId::from("w1"));
        assert_eq!(keys.device_latest(&t, &d), "p:t1:device:d1:telemetry:latest");
        assert_eq!(keys.well_latest(&t, &w), "p:t1:well:w1:telemetry:latest");
        assert_eq!(keys.well_status(&t, &w), "p:t1:well:w1:status");
        assert_eq!(keys.active_alarms(&t), "p:t1:alarms:active");
    }

    #[test]
    fn an_entry_round_trips_with_its_timestamp_first() {
        let reading = Reading {
            device_id: DeviceId::from("d1"),
            key: "a|b".into(),
            ts: -5,
            value: Value::Text("x|y".into()),
            quality: 0.5,
        };
        let entry = encode(&reading).expect("encodes");
        assert!(entry.starts_with("-5|"));
        assert_eq!(decode(&entry).expect("decodes"), reading);
        assert!(decode("no separator").is_err());
    }
}
