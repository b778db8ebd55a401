//! Field optimizer runs: one call per well group — the wellpad of the
//! binding's devices' wells — with each well's context and the wellpad's
//! shared constraints. A group's recommendations, state, metered use and
//! failures commit together; the plan's rationale and details go with each
//! of its recommendations (`details.field_plan`).

use std::collections::{BTreeMap, HashMap};

use nexus_model::{
    Binding, Device, DeviceId, FieldConstraints, FieldContext, Reading, Stage, StoredRecommendation, WellContext,
    WellId, WellpadId,
};
use nexus_storage::{Effects, NewRecommendation, StateWrite};
use serde_json::json;

use crate::calls::{Call, refused_letter};
use crate::runs::RunEntry;
use crate::{OptimizerService, Result};

/// How many of each well's newest tests a field optimizer sees (a
/// gas-lift performance curve is fitted to a well's tests at several
/// injection rates).
pub const FIELD_WELL_TESTS: u32 = 20;

/// One well of a group, as the optimizer sees it.
type Member = (Device, WellContext, Vec<Reading>);

impl OptimizerService {
    /// Runs a field optimizer binding once per wellpad of its devices'
    /// wells (devices on no wellpad form one group without shared limits);
    /// returns the recommendations stored.
    pub(crate) async fn run_field(&self, binding: &Binding, entry: &RunEntry) -> Result<Vec<StoredRecommendation>> {
        let inner = &self.0;
        let tenant = &binding.tenant_id;
        let mut binding = binding.clone();
        inner.clamp_limits(&mut binding, &inner.profile(tenant).await?);
        let binding = &binding;
        let loaded = inner.loaded(tenant, &binding.plugin_id).await?;
        let mut groups: BTreeMap<Option<WellpadId>, Vec<Member>> = BTreeMap::new();
        for device_id in &binding.device_ids {
            let (device, pad, context, recent) = self.well_context(binding, device_id, FIELD_WELL_TESTS).await?;
            groups.entry(pad).or_default().push((device, context, recent));
        }
        let mut stored = Vec::new();
        entry.set_total(groups.len());
        for (pad, members) in groups {
            if let Some((status, why)) = entry.stop(inner.now()) {
                entry.finish(status, inner.now(), Some(why));
                break;
            }
            let Some(first) = members.first().map(|m| m.0.id.clone()) else { continue };
            let constraints = match &pad {
                Some(id) => inner.store.wellpad(tenant, id).await?.constraints,
                None => FieldConstraints::default(),
            };
            let group_id = pad.as_ref().map_or_else(String::new, ToString::to_string);
            let wells: HashMap<DeviceId, Option<WellId>> =
                members.iter().map(|(device, _, _)| (device.id.clone(), device.well_id.clone())).collect();
            let devices: Vec<&str> = members.iter().map(|(device, _, _)| device.id.as_str()).collect();
            let input = json!({"group_id": group_id, "devices": devices});
            let payload = move || serde_json::to_vec(&input).unwrap_or_default();
            let field = FieldContext {
                group_id: group_id.clone(),
                wells: members.into_iter().map(|(_, context, _)| context).collect(),
                constraints,
            };
            let now = inner.now();
            let mut effects = Effects::new(tenant, now);
            if let Err(error) = inner.check_quota(tenant, &effects).await {
                let letter = refused_letter(
                    binding,
                    &first,
                    Stage::Optimize,
                    "quota-exceeded",
                    error.to_string(),
                    payload(),
                    now,
                );
                effects.dead_letters.push(letter);
                inner.commit(effects).await?;
                entry.advance(0);
                continue;
            }
            // The group's state is kept with its first device.
            let ctx = inner.call_context(&loaded, binding, &first, now, &effects).await?;
            let runtime = inner.runtime.clone();
            let plugin = loaded.plugin.clone();
            let call = Call { binding, loaded: &loaded, device: &first, stage: Stage::Optimize };
            let run = move || runtime.optimize_field(&plugin, ctx, &field);
            if let Ok(outcome) = inner.run_call(&mut effects, call, run, payload).await? {
                if let Some(state) = outcome.state {
                    effects.states.push(StateWrite { binding_id: binding.id.clone(), device_id: first.clone(), state });
                }
                let plan = outcome.output;
                let field_plan = json!({"group_id": group_id, "rationale": plan.rationale, "details": plan.details});
                // A field optimizer may only recommend for the group's devices.
                for mut recommendation in plan.recommendations {
                    let Some(well_id) = wells.get(&recommendation.device_id) else {
                        tracing::warn!(
                            binding = %binding.id,
                            device = %recommendation.device_id,
                            "A field optimizer recommended for a device outside its group; dropped."
                        );
                        continue;
                    };
                    if !recommendation.details.is_object() {
                        recommendation.details = json!({});
                    }
                    recommendation.details["field_plan"] = field_plan.clone();
                    effects.recommendations.push(NewRecommendation {
                        binding_id: binding.id.clone(),
                        well_id: well_id.clone(),
                        recommendation,
                    });
                }
            }
            let committed = inner.commit(effects).await?;
            entry.advance(committed.recommendations.len());
            stored.extend(committed.recommendations);
        }
        Ok(stored)
    }
}
