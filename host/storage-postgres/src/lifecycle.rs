//! Recommendations' lives: compare-and-set steps, each with its transition
//! row and event; a new recommendation supersedes the proposed ones of its
//! binding, device and parameter in the commit that makes it.

use async_trait::async_trait;
use nexus_model::{
    Actor, EventBody, NewEvent, RecommendationId, RecommendationStatus, RecommendationTransition, StoredRecommendation,
    TenantId, TimestampMs,
};
use nexus_storage::{RecommendationStore, Result, StorageError};
use sqlx::postgres::PgRow;

use crate::outbox::append;
use crate::rows::get;
use crate::{PostgresStore, corrupt, db};

/// Records a step (the row; the caller appends the event).
async fn insert_transition(tx: &mut sqlx::PgConnection, tenant: &TenantId, t: &RecommendationTransition) -> Result<()> {
    sqlx::query(
        "INSERT INTO po.recommendation_transition (tenant_id, recommendation_id, device_id, from_status, to_status,
         actor, reason, ts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tenant.as_str())
    .bind(t.recommendation_id.as_str())
    .bind(t.device_id.as_str())
    .bind(t.from.as_str())
    .bind(t.to.as_str())
    .bind(t.actor.to_string())
    .bind(t.reason.as_deref())
    .bind(t.ts)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    Ok(())
}

/// Supersedes the proposed recommendations `new` replaces (same binding,
/// device and parameter); returns their steps, for the commit's events.
pub(crate) async fn supersede(
    tx: &mut sqlx::PgConnection,
    tenant: &TenantId,
    new: &StoredRecommendation,
) -> Result<Vec<RecommendationTransition>> {
    let r = &new.recommendation;
    let ids: Vec<String> = sqlx::query_scalar(
        "UPDATE po.recommendation SET status = 'SUPERSEDED' WHERE tenant_id = $1 AND binding_id = $2
         AND device_id = $3 AND parameter = $4 AND status = 'PROPOSED' AND id <> $5 RETURNING id",
    )
    .bind(tenant.as_str())
    .bind(new.binding_id.as_str())
    .bind(r.device_id.as_str())
    .bind(&r.parameter)
    .bind(new.id.as_str())
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    let mut steps = Vec::with_capacity(ids.len());
    for id in ids {
        let step = RecommendationTransition {
            recommendation_id: id.into(),
            device_id: r.device_id.clone(),
            from: RecommendationStatus::Proposed,
            to: RecommendationStatus::Superseded,
            actor: Actor::system("optimizer"),
            reason: Some(format!("superseded by recommendation {}", new.id)),
            ts: new.created_ts,
        };
        insert_transition(&mut *tx, tenant, &step).await?;
        steps.push(step);
    }
    Ok(steps)
}

#[async_trait]
impl RecommendationStore for PostgresStore {
    async fn recommendation(&self, tenant: &TenantId, id: &RecommendationId) -> Result<StoredRecommendation> {
        let row = sqlx::query("SELECT * FROM po.recommendation WHERE id = $1 AND tenant_id = $2")
            .bind(id.as_str())
            .bind(tenant.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .ok_or_else(|| StorageError::not_found("recommendation", id))?;
        crate::records::recommendation(&row)
    }

    async fn transition_recommendation(
        &self,
        tenant: &TenantId,
        id: &RecommendationId,
        from: RecommendationStatus,
        to: RecommendationStatus,
        actor: &Actor,
        reason: Option<&str>,
        now: TimestampMs,
    ) -> Result<(StoredRecommendation, RecommendationTransition)> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query("SELECT * FROM po.recommendation WHERE id = $1 AND tenant_id = $2 FOR UPDATE")
            .bind(id.as_str())
            .bind(tenant.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .ok_or_else(|| StorageError::not_found("recommendation", id))?;
        let mut stored = crate::records::recommendation(&row)?;
        if stored.status != from {
            return Err(StorageError::Conflict(format!(
                "recommendation {id} is {}, not {}",
                stored.status.as_str(),
                from.as_str()
            )));
        }
        sqlx::query("UPDATE po.recommendation SET status = $1 WHERE id = $2 AND tenant_id = $3")
            .bind(to.as_str())
            .bind(id.as_str())
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let step = RecommendationTransition {
            recommendation_id: id.clone(),
            device_id: stored.recommendation.device_id.clone(),
            from,
            to,
            actor: actor.clone(),
            reason: reason.map(str::to_string),
            ts: now,
        };
        insert_transition(&mut tx, tenant, &step).await?;
        append(&mut tx, vec![NewEvent::new(tenant, now, EventBody::RecommendationChanged(step.clone()))]).await?;
        tx.commit().await.map_err(db)?;
        stored.status = to;
        Ok((stored, step))
    }

    async fn recommendations_in(
        &self,
        status: RecommendationStatus,
        before: TimestampMs,
        limit: u32,
    ) -> Result<Vec<StoredRecommendation>> {
        let rows = sqlx::query(
            "SELECT * FROM po.recommendation WHERE status = $1 AND created_ts < $2 ORDER BY created_ts, id LIMIT $3",
        )
        .bind(status.as_str())
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(crate::records::recommendation).collect()
    }

    async fn recommendation_transitions(
        &self,
        tenant: &TenantId,
        id: &RecommendationId,
    ) -> Result<Vec<RecommendationTransition>> {
        self.recommendation(tenant, id).await?;
        let rows = sqlx::query(
            "SELECT * FROM po.recommendation_transition WHERE tenant_id = $1 AND recommendation_id = $2 ORDER BY id",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(transition).collect()
    }
}

fn status(text: &str) -> Result<RecommendationStatus> {
    RecommendationStatus::parse(text).ok_or_else(|| corrupt(format!("recommendation status `{text}`")))
}

fn transition(row: &PgRow) -> Result<RecommendationTransition> {
    Ok(RecommendationTransition {
        recommendation_id: get::<String>(row, "recommendation_id")?.into(),
        device_id: get::<String>(row, "device_id")?.into(),
        from: status(&get::<String>(row, "from_status")?)?,
        to: status(&get::<String>(row, "to_status")?)?,
        actor: get::<String>(row, "actor")?.parse().map_err(corrupt)?,
        reason: get(row, "reason")?,
        ts: get(row, "ts")?,
    })
}
