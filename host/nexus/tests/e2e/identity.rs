//! Identity against a real server: tokens an attacker forges or replays
//! are refused (401 with `WWW-Authenticate`), a reused refresh token
//! revokes its whole family, a deleted user's token dies with it, bodies
//! that try to set what the caller may not are refused, and changes land
//! in the audit log.

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Harness, PASSWORD, TOKEN, login};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The claims of a token, read without checking it.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("b64"))
        .expect("json")
}

async fn me(h: &Harness, token: &str) -> (StatusCode, Value, Option<String>) {
    let response = h.client.get(format!("{}/api/auth/me", h.base)).bearer_auth(token).send().await.expect("me");
    let status = response.status();
    let challenge = response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_string);
    (status, response.json().await.unwrap_or(Value::Null), challenge)
}

/// Creates a tenant admin with a known email and returns (email, tokens).
async fn user(h: &Harness, tenant: &str, role: &str) -> (String, Value) {
    h.token(tenant).await; // the tenant exists
    let email = format!("{}-{}@{tenant}.test", role.to_lowercase(), uuid::Uuid::new_v4().simple());
    let created = h
        .client
        .post(format!("{}/api/tenants/{tenant}/users", h.base))
        .bearer_auth(TOKEN)
        .json(&json!({"email": email, "password": PASSWORD, "role": role}))
        .send()
        .await
        .expect("user");
    assert_eq!(created.status(), StatusCode::CREATED);
    let tokens = login(&h.client, &h.base, &email).await;
    (email, tokens)
}

#[tokio::test]
async fn forged_expired_misdirected_and_revoked_tokens_are_refused() {
    let h = Harness::start().await;
    let (_, tokens) = user(&h, "acme", "TENANT_ADMIN").await;
    let access = tokens["access_token"].as_str().expect("access").to_string();
    let refresh = tokens["refresh_token"].as_str().expect("refresh").to_string();
    let (status, body, _) = me(&h, &access).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "TENANT_ADMIN");
    assert_eq!(claims_of(&access)["typ"], "access");
    assert_eq!(jsonwebtoken::decode_header(&access).expect("header").alg, Algorithm::EdDSA);

    // The server's own key, read from its data directory: tokens forged
    // with it test the claims, not only the signature.
    let pem = std::fs::read_to_string(h.data_dir.join("jwt-signing-key.pem")).expect("key file");
    let key = nexus_services::SigningKey::from_pem(&pem).expect("pem");
    let real = EncodingKey::from_ed_pem(pem.as_bytes()).expect("encoding key");
    let now = nexus_model::Clock::system().now() / 1000;
    let good = claims_of(&access);
    let with = |changes: Value| {
        let mut claims = good.clone();
        for (name, value) in changes.as_object().expect("object") {
            claims[name] = value.clone();
        }
        claims
    };
    let sign = |claims: &Value, alg: Algorithm, key: &EncodingKey| {
        jsonwebtoken::encode(&Header::new(alg), claims, key).expect("sign")
    };
    // Control: a token re-signed with the real key and unchanged claims passes.
    let resigned = sign(&good, Algorithm::EdDSA, &real);
    assert_eq!(me(&h, &resigned).await.0, StatusCode::OK, "the forging path makes valid tokens");

    let none = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), b64(good.to_string().as_bytes()));
    let public_key = key.public_key();
    let hs_public = sign(&good, Algorithm::HS256, &EncodingKey::from_secret(&public_key).expect("secret"));
    let hs_pem = sign(&good, Algorithm::HS256, &EncodingKey::from_secret(pem.as_bytes()).expect("secret"));
    let hs_other = sign(&good, Algorithm::HS256, &EncodingKey::from_secret(b"another-key-0123456789").expect("key"));
    let other_key =
        EncodingKey::from_ed_pem(nexus_services::SigningKey::generate().expect("key").to_pem().as_bytes()).expect("k");
    let ed_other = sign(&good, Algorithm::EdDSA, &other_key);
    let attacks = [
        ("alg none", none),
        ("HS256 signed with the public key", hs_public),
        ("HS256 signed with the key file", hs_pem),
        ("HS256 signed with another key", hs_other),
        ("EdDSA signed with another key", ed_other),
        (
            "expired beyond the leeway",
            sign(&with(json!({"exp": now - 120, "iat": now - 1000, "nbf": now - 1000})), Algorithm::EdDSA, &real),
        ),
        ("nbf in the future", sign(&with(json!({"nbf": now + 120})), Algorithm::EdDSA, &real)),
        ("wrong audience", sign(&with(json!({"aud": "another-api"})), Algorithm::EdDSA, &real)),
        ("wrong issuer", sign(&with(json!({"iss": "someone-else"})), Algorithm::EdDSA, &real)),
        ("not an access token", sign(&with(json!({"typ": "refresh"})), Algorithm::EdDSA, &real)),
        ("a made-up session", sign(&with(json!({"sid": "no-such-session"})), Algorithm::EdDSA, &real)),
        ("the refresh token as an access token", refresh.clone()),
        ("garbage", "not.a.jwt".into()),
    ];
    for (case, token) in &attacks {
        let (status, body, challenge) = me(&h, token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
        assert_eq!(body["code"], "unauthenticated", "{case}");
        assert!(challenge.is_some_and(|c| c.starts_with("Bearer")), "{case}: no WWW-Authenticate");
    }
    // Within the leeway, time is forgiven.
    let skewed = sign(&with(json!({"nbf": now + 10})), Algorithm::EdDSA, &real);
    assert_eq!(me(&h, &skewed).await.0, StatusCode::OK);

    // Logout revokes the session: the access token and its refresh token die.
    let logout = h.client.post(format!("{}/api/auth/logout", h.base)).bearer_auth(&access).send().await;
    assert_eq!(logout.expect("logout").status(), StatusCode::NO_CONTENT);
    assert_eq!(me(&h, &access).await.0, StatusCode::UNAUTHORIZED, "a revoked token");
    let refreshed =
        h.client.post(format!("{}/api/auth/refresh", h.base)).json(&json!({"refresh_token": refresh})).send();
    assert_eq!(refreshed.await.expect("refresh").status(), StatusCode::UNAUTHORIZED);

    // A deleted user's token stops working at once.
    let (_, tokens) = user(&h, "acme", "OPERATOR").await;
    let victim = tokens["access_token"].as_str().expect("access").to_string();
    assert_eq!(me(&h, &victim).await.0, StatusCode::OK);
    let user_id = claims_of(&victim)["sub"].as_str().expect("sub").to_string();
    let deleted = h.send(h.admin(Method::DELETE, &format!("/api/users/{user_id}"), "acme").await).await;
    assert_eq!(deleted.0, StatusCode::NO_CONTENT, "{}", deleted.1);
    let (status, _, challenge) = me(&h, &victim).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a deleted user's token");
    assert!(challenge.is_some());

    // Wrong passwords and unknown users get the same answer; after ten
    // failures in a minute the address is refused, right password or not.
    let (email, _) = user(&h, "acme", "VIEWER").await;
    let attempt = |email: String, password: &'static str| {
        h.client.post(format!("{}/api/auth/login", h.base)).json(&json!({"email": email, "password": password})).send()
    };
    let mut answers = Vec::new();
    for (who, password) in [("nobody@acme.test", PASSWORD), (email.as_str(), "wrong-password-123")] {
        for _ in 0..5 {
            let response = attempt(who.to_string(), password).await.expect("login");
            answers.push(response.status());
            let body: Value = response.json().await.expect("problem");
            assert_eq!(body["detail"], "the email or the password is wrong");
        }
    }
    assert!(answers.iter().all(|s| *s == StatusCode::UNAUTHORIZED), "{answers:?}");
    let blocked = attempt(email.clone(), PASSWORD).await.expect("login");
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(blocked.headers().get("retry-after").is_some());
    assert_eq!(blocked.json::<Value>().await.expect("problem")["code"], "too-many-failed-logins");
}

#[tokio::test]
async fn a_refresh_token_used_twice_revokes_its_whole_family() {
    let h = Harness::start().await;
    let (_, first) = user(&h, "acme", "VIEWER").await;
    let refresh = |token: &str| {
        h.client.post(format!("{}/api/auth/refresh", h.base)).json(&json!({"refresh_token": token})).send()
    };
    let r1 = first["refresh_token"].as_str().expect("r1").to_string();
    let second: Value = {
        let response = refresh(&r1).await.expect("refresh");
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("tokens")
    };
    let r2 = second["refresh_token"].as_str().expect("r2").to_string();
    let a2 = second["access_token"].as_str().expect("a2").to_string();
    assert_ne!(r1, r2, "rotated");
    assert_eq!(me(&h, &a2).await.0, StatusCode::OK);
    // The thief replays r1: refused, and the family (r2 and its access
    // token) is revoked with it.
    assert_eq!(refresh(&r1).await.expect("replay").status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&r2).await.expect("r2").status(), StatusCode::UNAUTHORIZED, "r2 died with its family");
    assert_eq!(me(&h, &a2).await.0, StatusCode::UNAUTHORIZED, "so did its access token");
    assert_eq!(me(&h, first["access_token"].as_str().expect("a1")).await.0, StatusCode::UNAUTHORIZED);
    // Another login of the same user is another family, unaffected.
    let (_, other) = user(&h, "acme", "VIEWER").await;
    assert_eq!(me(&h, other["access_token"].as_str().expect("a")).await.0, StatusCode::OK);
}

#[tokio::test]
async fn bodies_that_set_what_the_caller_may_not_are_refused_and_change_nothing() {
    let h = Harness::start().await;
    let (_, operator) = user(&h, "acme", "OPERATOR").await;
    let operator = operator["access_token"].as_str().expect("a").to_string();
    let wells_before = h.get("/api/wells").await;
    let cases = [
        ("/api/wells", json!({"name": "W", "tenant_id": "other"})),
        ("/api/devices", json!({"name": "D", "tenant_id": "other"})),
        ("/api/users", json!({"email": "x@acme.test", "password": PASSWORD, "role": "VIEWER", "tenant_id": "other"})),
        ("/api/users", json!({"email": "y@acme.test", "password": PASSWORD, "role": "SYS_ADMIN"})),
        ("/api/api-keys", json!({"name": "k", "role": "VIEWER", "limits": {"deadline_ms": 1}})),
        ("/api/api-keys", json!({"name": "k", "role": "SYS_ADMIN"})),
        ("/api/wellpads", json!({"name": "P", "role": "TENANT_ADMIN"})),
    ];
    for (path, body) in &cases {
        let (status, problem, _) = h.send(h.admin(Method::POST, path, "acme").await.json(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "POST {path} {body}: {problem}");
    }
    assert_eq!(h.get("/api/wells").await, wells_before);
    let users = h.get_as("/api/users", "acme").await;
    assert!(users.as_array().expect("users").iter().all(|u| u["role"] != "SYS_ADMIN"), "{users}");
    assert!(h.get_as("/api/api-keys", "acme").await.as_array().expect("keys").is_empty());
    // An operator cannot create users or keys at all, nor pick a tenant.
    let as_operator =
        |method: Method, path: &str| h.client.request(method, format!("{}{path}", h.base)).bearer_auth(&operator);
    let (status, _, _) = h
        .send(
            as_operator(Method::POST, "/api/users")
                .json(&json!({"email": "z@acme.test", "password": PASSWORD, "role": "TENANT_ADMIN"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body, _) = h.send(as_operator(Method::GET, "/api/wells").header("x-nexus-tenant", "other")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "tenant-header-not-allowed");
}

#[tokio::test]
async fn every_change_is_audited_with_who_and_the_system_admins_actions_inside_a_tenant() {
    let h = Harness::start().await;
    let well = h.post("/api/wells", json!({"name": "W-1"})).await;
    // The system administrator acts inside the tenant.
    let (status, _, _) = h
        .send(
            h.client
                .post(format!("{}/api/wellpads", h.base))
                .bearer_auth(TOKEN)
                .header("x-nexus-tenant", "acme")
                .json(&json!({"name": "Pad by the admin"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // A refused change is audited too.
    let (status, _, _) = h.send(h.admin(Method::POST, "/api/wells", "acme").await.json(&json!({"name": ""}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let log = h.get("/api/audit").await;
    let entries = log.as_array().expect("entries");
    let created = entries.iter().find(|e| e["action"] == "POST /api/wells" && e["status"] == 201).expect("well");
    assert_eq!(created["role"], "TENANT_ADMIN");
    assert!(created["actor"].as_str().expect("actor").starts_with("user:tenant-admin-"), "{created}");
    assert_eq!(created["summary"]["request"]["name"], "W-1");
    assert_eq!(created["summary"]["result"]["id"], well["id"]);
    assert!(created["request_id"].as_str().is_some_and(|id| !id.is_empty()));
    let by_admin = entries.iter().find(|e| e["action"] == "POST /api/wellpads").expect("admin's change");
    assert_eq!(by_admin["role"], "SYS_ADMIN");
    assert_eq!(by_admin["actor"], "user:key:bootstrap");
    assert!(entries.iter().any(|e| e["action"] == "POST /api/wells" && e["status"] == 400));
    // Secrets never reach the log: users created for this tenant are in it, their passwords are not.
    assert!(!log.to_string().contains(PASSWORD), "a password reached the audit log");
    // Filters and the cursor.
    let after = created["seq"].as_i64().expect("seq");
    let later = h.get(&format!("/api/audit?after={after}&action=POST%20/api/wellpads")).await;
    assert_eq!(later.as_array().expect("later").len(), 1, "{later}");
    // Another tenant sees none of it.
    assert!(h.get_as("/api/audit", "other").await.as_array().expect("other").iter().all(|e| e["tenant_id"] == "other"));
}

#[tokio::test]
async fn the_101st_request_of_a_user_in_a_minute_is_refused_and_nobody_else_is() {
    let h = Harness::start().await;
    // Tenants as the system administrator creates them: the default profile,
    // 100 requests per 60 s per user (GCRA: 100 at once, then one per 0.6 s).
    let client = &h.client;
    let first = crate::login_as(client, &h.base, "limited", "VIEWER").await;
    let neighbour = crate::login_as(client, &h.base, "limited", "VIEWER").await;
    let other_tenant = crate::login_as(client, &h.base, "elsewhere", "VIEWER").await;
    let started = std::time::Instant::now();
    let mut statuses = Vec::new();
    let mut refusal = None;
    for _ in 0..101 {
        let response = client.get(format!("{}/api/wells", h.base)).bearer_auth(&first).send().await.expect("get");
        statuses.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS && refusal.is_none() {
            let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
            refusal = Some((retry_after, response.json::<Value>().await.expect("problem")));
        }
    }
    let elapsed = started.elapsed();
    let admitted = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    // GCRA refills one request every 0.6 s: over `elapsed`, at most that many more.
    let refilled = (elapsed.as_secs_f64() / 0.6).floor() as usize;
    assert!(admitted >= 100 && admitted <= 100 + refilled, "{admitted} admitted in {elapsed:?}");
    if refilled == 0 {
        assert_eq!(statuses[100], StatusCode::TOO_MANY_REQUESTS, "the 101st request within {elapsed:?}");
    }
    let (retry_after, problem) = refusal.expect("a refusal");
    assert_eq!(problem["code"], "rate-limited", "{problem}");
    assert_eq!(problem["limit"], "rate_limits.per_user", "{problem}");
    assert!(retry_after.and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| s >= 1), "Retry-After");
    // Another user of the same tenant, and a user of another tenant, are unaffected.
    for (who, token) in [("a neighbour", &neighbour), ("another tenant", &other_tenant)] {
        let response = client.get(format!("{}/api/wells", h.base)).bearer_auth(token).send().await.expect("get");
        assert_eq!(response.status(), StatusCode::OK, "{who}");
    }
}
