//! Who may call what: one table, [`OPERATIONS`], from (method, route) to an
//! [`Access`] class, and what each class allows each [`Role`]. The
//! authentication layer ([`crate::auth`]) enforces it before any handler
//! runs; README's role table is generated from it (a test compares them),
//! and the end-to-end role matrix reads README's table back.

use nexus_model::Role;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credential (health, readiness, login, the OpenAPI document, the device API:
    /// its own token is in the path).
    Public,
    /// Any principal (who am I, logout).
    Authenticated,
    /// Read a tenant's data: tenant admin, operator, viewer (and the system
    /// administrator inside a tenant).
    Read,
    /// Operate a field: acknowledge, assign, comment on and clear alarms;
    /// approve or reject recommendations; send a dead notification again:
    /// tenant admin and operator.
    Operate,
    /// Change a tenant's configuration (entities, plugins, bindings,
    /// notification rules) and read its audit log: tenant admin.
    Manage,
    /// Users and API keys of one's own scope: tenant admin, vendor developer,
    /// system administrator.
    Credentials,
    /// The installation: tenants, vendors, profiles: system administrator.
    System,
    /// A vendor's signing keys and releases: vendor developer.
    Publish,
    /// Monitoring (`/metrics`): a tenant's admin, operator or viewer sees
    /// its tenant; the system administrator the whole host, or the tenant
    /// `X-Nexus-Tenant` names.
    Monitor,
}

impl Access {
    /// Whether a role may call a route of this class.
    pub fn allows(self, role: Role) -> bool {
        use Role::*;
        match self {
            Access::Public | Access::Authenticated => true,
            Access::Read | Access::Monitor => matches!(role, SysAdmin | TenantAdmin | Operator | Viewer),
            Access::Operate => matches!(role, SysAdmin | TenantAdmin | Operator),
            Access::Manage => matches!(role, SysAdmin | TenantAdmin),
            Access::Credentials => matches!(role, SysAdmin | TenantAdmin | VendorDeveloper),
            Access::System => matches!(role, SysAdmin),
            Access::Publish => matches!(role, VendorDeveloper),
        }
    }

    /// Whether the route acts inside one tenant (the principal's, or the
    /// one a system administrator names with `X-Nexus-Tenant`).
    pub fn in_tenant(self) -> bool {
        matches!(self, Access::Read | Access::Operate | Access::Manage)
    }
}

/// Every operation of the API and its access class.
pub const OPERATIONS: &[(&str, &str, Access)] = &[
    ("GET", "/healthz", Access::Public),
    ("GET", "/readyz", Access::Public),
    ("GET", "/metrics", Access::Monitor),
    ("POST", "/api/v1/{token}/telemetry", Access::Public),
    ("GET", "/api/v1/{token}/rpc", Access::Public),
    ("POST", "/api/v1/{token}/rpc/{id}", Access::Public),
    ("POST", "/api/auth/login", Access::Public),
    ("POST", "/api/auth/refresh", Access::Public),
    ("POST", "/api/auth/logout", Access::Authenticated),
    ("GET", "/api/auth/me", Access::Authenticated),
    ("GET", "/api/tenants", Access::System),
    ("POST", "/api/tenants", Access::System),
    ("POST", "/api/tenants/{tenant_id}/users", Access::System),
    ("GET", "/api/vendors", Access::System),
    ("POST", "/api/vendors", Access::System),
    ("POST", "/api/vendors/{vendor_id}/users", Access::System),
    ("GET", "/api/users", Access::Credentials),
    ("POST", "/api/users", Access::Credentials),
    ("DELETE", "/api/users/{id}", Access::Credentials),
    ("GET", "/api/api-keys", Access::Credentials),
    ("POST", "/api/api-keys", Access::Credentials),
    ("DELETE", "/api/api-keys/{id}", Access::Credentials),
    ("GET", "/api/audit", Access::Manage),
    ("GET", "/api/tenant/profile", Access::Read),
    ("PUT", "/api/tenants/{tenant_id}/profile", Access::System),
    ("GET", "/api/tenant/usage", Access::Read),
    ("GET", "/api/metering", Access::Read),
    ("POST", "/api/plugins", Access::Manage),
    ("GET", "/api/plugins", Access::Read),
    ("GET", "/api/plugins/{id}", Access::Read),
    ("POST", "/api/bindings", Access::Manage),
    ("GET", "/api/bindings", Access::Read),
    ("GET", "/api/bindings/{id}", Access::Read),
    ("POST", "/api/bindings/{id}/run", Access::Operate),
    ("PUT", "/api/bindings/{id}/plugin", Access::Manage),
    ("POST", "/api/bindings/{id}/rollback", Access::Manage),
    ("POST", "/api/bindings/{id}/rollout", Access::Manage),
    ("GET", "/api/bindings/{id}/rollout", Access::Read),
    ("POST", "/api/bindings/{id}/rollout/promote", Access::Manage),
    ("POST", "/api/bindings/{id}/rollout/abort", Access::Manage),
    ("POST", "/api/bindings/{id}/enable", Access::Manage),
    ("PUT", "/api/bindings/{id}/auto-approve", Access::Manage),
    ("POST", "/api/bindings/{id}/devices/{device_id}/release", Access::Manage),
    ("POST", "/api/vendor-keys", Access::Publish),
    ("GET", "/api/vendor-keys", Access::Publish),
    ("POST", "/api/vendor-keys/{id}/revoke", Access::Publish),
    ("POST", "/api/vendor-releases", Access::Publish),
    ("GET", "/api/vendor-releases", Access::Publish),
    ("POST", "/api/vendor-releases/{id}/yank", Access::Publish),
    ("POST", "/api/vendor-releases/{id}/revoke", Access::Publish),
    ("GET", "/api/releases", Access::Read),
    ("GET", "/api/releases/{id}", Access::Read),
    ("GET", "/api/releases/{id}/review", Access::Read),
    ("POST", "/api/releases/{id}/approve", Access::Manage),
    ("GET", "/api/trusted-vendors", Access::Read),
    ("PUT", "/api/trusted-vendors/{vendor_id}", Access::Manage),
    ("DELETE", "/api/trusted-vendors/{vendor_id}", Access::Manage),
    ("POST", "/api/backtests", Access::Manage),
    ("GET", "/api/backtests/{id}", Access::Read),
    ("GET", "/api/runs", Access::Read),
    ("GET", "/api/runs/{id}", Access::Read),
    ("POST", "/api/runs/{id}/cancel", Access::Operate),
    ("POST", "/api/wellpads", Access::Manage),
    ("GET", "/api/wellpads/{id}", Access::Read),
    ("PUT", "/api/wellpads/{id}/constraints", Access::Manage),
    ("POST", "/api/wells", Access::Manage),
    ("GET", "/api/wells", Access::Read),
    ("GET", "/api/wells/{id}/status", Access::Read),
    ("POST", "/api/wells/{id}/well-tests", Access::Operate),
    ("GET", "/api/wells/{id}/well-tests", Access::Read),
    ("POST", "/api/devices", Access::Manage),
    ("GET", "/api/devices", Access::Read),
    ("GET", "/api/devices/{id}", Access::Read),
    ("POST", "/api/devices/{id}/token", Access::Manage),
    ("PUT", "/api/devices/{id}/setpoints/{parameter}", Access::Manage),
    ("GET", "/api/devices/{id}/setpoints", Access::Read),
    ("GET", "/api/devices/{id}/forecasts", Access::Read),
    ("GET", "/api/devices/{id}/telemetry/latest", Access::Read),
    ("GET", "/api/devices/{id}/telemetry", Access::Read),
    ("GET", "/api/telemetry/stream", Access::Read),
    ("GET", "/api/events", Access::Read),
    ("GET", "/api/alarms", Access::Read),
    ("GET", "/api/alarms/{id}", Access::Read),
    ("GET", "/api/alarms/{id}/events", Access::Read),
    ("POST", "/api/alarms/{id}/ack", Access::Operate),
    ("POST", "/api/alarms/{id}/clear", Access::Operate),
    ("POST", "/api/alarms/{id}/assign", Access::Operate),
    ("POST", "/api/alarms/{id}/comments", Access::Operate),
    ("GET", "/api/alarms/{id}/comments", Access::Read),
    ("GET", "/api/recommendations", Access::Read),
    ("GET", "/api/recommendations/{id}", Access::Read),
    ("GET", "/api/recommendations/{id}/transitions", Access::Read),
    ("POST", "/api/recommendations/{id}/approve", Access::Operate),
    ("POST", "/api/recommendations/{id}/reject", Access::Operate),
    ("GET", "/api/plugin-runs", Access::Read),
    ("GET", "/api/dead-letters", Access::Read),
    ("GET", "/api/connectors", Access::Read),
    ("POST", "/api/connectors", Access::Manage),
    ("GET", "/api/connectors/{id}", Access::Read),
    ("PUT", "/api/connectors/{id}", Access::Manage),
    ("DELETE", "/api/connectors/{id}", Access::Manage),
    ("POST", "/api/devices/{id}/setpoint-writes", Access::Manage),
    ("GET", "/api/notification-rules", Access::Read),
    ("POST", "/api/notification-rules", Access::Manage),
    ("GET", "/api/notification-rules/{id}", Access::Read),
    ("PUT", "/api/notification-rules/{id}", Access::Manage),
    ("DELETE", "/api/notification-rules/{id}", Access::Manage),
    ("GET", "/api/notification-deliveries", Access::Read),
    ("POST", "/api/notification-deliveries/{id}/retry", Access::Operate),
    ("GET", "/api/openapi.json", Access::Public),
];

/// The access class of an operation; `None` for a route the table does not
/// know, which the layer refuses (fail closed). Swagger UI's assets are
/// public.
pub fn access_of(method: &str, route: &str) -> Option<Access> {
    if route == "/swagger-ui" || route.starts_with("/swagger-ui/") {
        return Some(Access::Public);
    }
    OPERATIONS.iter().find(|(m, r, _)| *m == method && *r == route).map(|(_, _, access)| *access)
}

/// The role columns of README's table, in order.
pub const ROLE_COLUMNS: [Role; 5] = Role::ALL;

/// README's role table (Markdown), generated from [`OPERATIONS`]: one row
/// per operation, one column per role; `yes` or `403`. An API key acts as
/// its role. A tenant's object asked for by another tenant is 404, for
/// every role.
pub fn role_table() -> String {
    let mut out = String::from("| Operation |");
    for role in ROLE_COLUMNS {
        out.push_str(&format!(" {role} |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(ROLE_COLUMNS.len()));
    out.push('\n');
    for (method, route, access) in OPERATIONS {
        out.push_str(&format!("| `{method} {route}` |"));
        for role in ROLE_COLUMNS {
            out.push_str(if access.allows(role) { " yes |" } else { " 403 |" });
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for (method, route, _) in OPERATIONS {
            assert!(seen.insert((method, route)), "{method} {route} is listed twice");
        }
    }

    #[test]
    fn vendors_see_no_tenant_data_and_viewers_change_nothing() {
        for (method, route, access) in OPERATIONS {
            if access.in_tenant() || *access == Access::Monitor {
                assert!(!access.allows(Role::VendorDeveloper), "{method} {route}");
            }
            if *method != "GET" && access.allows(Role::Viewer) {
                assert!(matches!(access, Access::Public | Access::Authenticated), "{method} {route}");
            }
        }
    }

    #[test]
    fn readme_role_table_is_generated_from_the_table() {
        let readme = include_str!("../../../README.md");
        let begin = "<!-- role-table:begin -->\n";
        let end = "<!-- role-table:end -->";
        let start = readme.find(begin).expect("README has the role table markers") + begin.len();
        let stop = readme[start..].find(end).expect("end marker") + start;
        let generated = role_table();
        assert_eq!(readme[start..stop], generated, "README's role table is stale; replace it with:\n{generated}");
    }
}
