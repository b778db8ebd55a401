//! The production [`FrameSink`]: the wire's device (an id, or a name)
//! is resolved within the connector's tenant, and the frame goes to the
//! ingest service, which answers once it is committed. Service errors are
//! sorted into refused (counted, reported, acknowledged) and unavailable
//! (not acknowledged: the peer brings the frame again).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use nexus_model::{Device, DeviceId, Frame, Page, TenantId};
use nexus_services::{IngestReport, ServiceError, Services};

use crate::{DeviceRef, FrameSink, SinkError};

/// How long a device looked up by name is remembered.
const NAMES_FRESH_FOR: Duration = Duration::from_secs(30);
/// Shortest time between two reloads of the tenant's device names (an
/// unknown name cannot make the sink scan the tenant's devices per frame).
const RELOAD_AT_MOST_EVERY: Duration = Duration::from_secs(2);

/// Frames into a tenant's ingest path.
pub struct ServicesSink {
    services: Services,
    tenant: TenantId,
    names: Mutex<Names>,
}

#[derive(Default)]
struct Names {
    by_id: HashMap<DeviceId, Device>,
    by_name: HashMap<String, Device>,
    loaded: Option<Instant>,
}

impl ServicesSink {
    /// A sink into `tenant`'s ingest path.
    pub fn new(services: Services, tenant: TenantId) -> Self {
        Self { services, tenant, names: Mutex::default() }
    }

    async fn device(&self, device: &DeviceRef) -> Result<Device, SinkError> {
        let wanted = match device {
            DeviceRef::Id(id) => id.as_str(),
            DeviceRef::IdOrName(name) => name.as_str(),
        };
        let stale = {
            let names = self.names.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(found) = lookup(&names, device, wanted) {
                return Ok(found);
            }
            names.loaded.is_none_or(|at| at.elapsed() >= RELOAD_AT_MOST_EVERY)
        };
        if stale {
            self.reload().await?;
            let names = self.names.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(found) = lookup(&names, device, wanted) {
                return Ok(found);
            }
        }
        Err(SinkError::Refused {
            code: "unknown-device".into(),
            reason: format!("tenant `{}` has no device `{wanted}`", self.tenant),
        })
    }

    async fn reload(&self) -> Result<(), SinkError> {
        let mut by_id = HashMap::new();
        let mut by_name = HashMap::new();
        let mut page = Page::first(500);
        loop {
            let devices = self.services.assets().devices(&self.tenant, &page).await.map_err(sorted)?;
            let last = devices.last().map(|d| d.id.to_string());
            for device in devices {
                by_name.insert(device.name.clone(), device.clone());
                by_id.insert(device.id.clone(), device);
            }
            match last {
                Some(after) => page = Page { after: Some(after), limit: 500 },
                None => break,
            }
        }
        let mut names = self.names.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *names = Names { by_id, by_name, loaded: Some(Instant::now()) };
        Ok(())
    }
}

fn lookup(names: &Names, device: &DeviceRef, wanted: &str) -> Option<Device> {
    if names.loaded.is_none_or(|at| at.elapsed() >= NAMES_FRESH_FOR) {
        return None;
    }
    let id = names.by_id.get(&DeviceId::new(wanted));
    match device {
        DeviceRef::Id(_) => id.cloned(),
        DeviceRef::IdOrName(_) => id.or_else(|| names.by_name.get(wanted)).cloned(),
    }
}

/// Sorts a service error into refused or unavailable.
fn sorted(error: ServiceError) -> SinkError {
    let retry = |s: u64| SinkError::Unavailable { reason: error.to_string(), retry_after: Duration::from_secs(s) };
    match &error {
        ServiceError::Unavailable(_) | ServiceError::Internal(_) => retry(1),
        ServiceError::Overloaded { retry_after_s, .. }
        | ServiceError::CapacityExhausted { retry_after_s, .. }
        | ServiceError::BackingOff { retry_after_s, .. } => retry(u64::from(*retry_after_s).max(1)),
        ServiceError::RateLimited { retry_after, .. } => SinkError::Unavailable {
            reason: error.to_string(),
            retry_after: (*retry_after).max(Duration::from_millis(100)),
        },
        ServiceError::Rejected { code, message } => SinkError::Refused { code: code.clone(), reason: message.clone() },
        other => SinkError::Refused { code: code_of(other).into(), reason: other.to_string() },
    }
}

fn code_of(error: &ServiceError) -> &'static str {
    match error {
        ServiceError::NoDecoder(_) => "no-decoder",
        ServiceError::Quarantined { .. } => "binding-quarantined",
        ServiceError::Refused { code, .. } | ServiceError::Fault { code, .. } => code,
        ServiceError::QuotaExceeded { .. } => "quota-exceeded",
        ServiceError::NotFound { .. } => "not-found",
        _ => "refused",
    }
}

#[async_trait]
impl FrameSink for ServicesSink {
    async fn deliver(&self, device: &DeviceRef, mut frame: Frame) -> Result<IngestReport, SinkError> {
        let device = self.device(device).await?;
        frame.device_id = device.id.clone();
        self.services.ingest().ingest_frame(&device, frame).await.map_err(sorted)
    }
}
