//! What the console needs of the service: its files, served with a strict content security
//! policy; `whoami`; a configuration as JSON whatever its stored format; and the report page
//! with the reports' parameters. (The console itself is driven in a real browser by
//! cli/tests/cli/console.rs.)

use axum::body::Body;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::router::{BEARER, Reply, Service, TOKEN, call};
use crate::scim::credential;

/// `GET /v1/admin/tenants/contoso` as the operator, with `accept` if given.
async fn read_config(router: &axum::Router, accept: Option<&str>) -> Reply {
    let mut headers = vec![BEARER];
    if let Some(accept) = accept {
        headers.push(("accept", accept));
    }
    call(
        router,
        "GET",
        "/v1/admin/tenants/contoso",
        &headers,
        Body::empty(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_is_served_from_the_binary_with_a_strict_policy() {
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let moved = call(&router, "GET", "/console", &[], Body::empty()).await;
    assert_eq!(moved.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(moved.headers["location"], "/console/");
    for (path, content_type) in [
        ("/console/", "text/html; charset=utf-8"),
        ("/console/index.html", "text/html; charset=utf-8"),
        ("/console/console.js", "text/javascript; charset=utf-8"),
        ("/console/console.css", "text/css; charset=utf-8"),
        ("/console/report.css", "text/css; charset=utf-8"),
    ] {
        let reply = call(&router, "GET", path, &[], Body::empty()).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(reply.headers["content-type"], content_type, "{path}");
        let policy = reply.headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("script-src 'self'"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(!policy.contains("unsafe"), "{policy}");
        assert_eq!(reply.headers["x-content-type-options"], "nosniff");
    }
    // The page loads its own files only; no inline script for the policy to refuse.
    let page = call(&router, "GET", "/console/", &[], Body::empty())
        .await
        .text();
    assert!(page.contains("<script src=\"console.js\" defer></script>"));
    assert_eq!(page.matches("<script").count(), 1);
    let missing = call(&router, "GET", "/console/app.js", &[], Body::empty()).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["error"]["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn whoami_says_who_asks_and_what_it_may_do() {
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let operator = call(
        &router,
        "GET",
        "/v1/admin/whoami",
        &[BEARER, ("x-patrol-actor", "Alice Admin")],
        Body::empty(),
    )
    .await;
    assert_eq!(operator.status, StatusCode::OK, "{}", operator.text());
    assert_eq!(
        operator.json(),
        json!({ "caller": "operator", "actor": "alice admin", "tenant": null, "role": null,
                "may": { "read": true, "write": true, "provision": true, "operate": true } })
    );
    for (role, may) in [
        ("admin", [true, true, false]),
        ("auditor", [true, false, false]),
        ("provisioner", [false, false, true]),
    ] {
        let secret = credential(&router, "contoso", &format!("{role}-1"), role).await;
        let bearer = format!("Bearer {secret}");
        let who = call(
            &router,
            "GET",
            "/v1/admin/whoami",
            &[("authorization", &bearer)],
            Body::empty(),
        )
        .await
        .json();
        assert_eq!(who["caller"], "credential");
        assert_eq!(who["tenant"], "contoso");
        assert_eq!(who["role"], role);
        assert_eq!(who["actor"], format!("credential:{role}-1"));
        assert_eq!(
            [
                &who["may"]["read"],
                &who["may"]["write"],
                &who["may"]["provision"]
            ],
            may.map(Value::Bool).each_ref(),
            "{role}"
        );
        assert_eq!(who["may"]["operate"], false);
        assert!(!who.to_string().contains(&secret));
    }
    let nobody = call(
        &router,
        "GET",
        "/v1/admin/whoami",
        &[("authorization", "Bearer ptc_nothing")],
        Body::empty(),
    )
    .await;
    assert_eq!(nobody.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_toml_configuration_is_read_as_json_and_saved_back_as_json() {
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let stored = read_config(&router, None).await;
    assert_eq!(stored.headers["x-patrol-stored-format"], "toml");
    assert!(
        stored.text().starts_with('#'),
        "as stored, comments and all"
    );
    let json = read_config(&router, Some("application/json, text/plain")).await;
    assert_eq!(json.headers["content-type"], "application/json");
    assert_eq!(json.headers["x-patrol-stored-format"], "toml");
    let mut config = json.json();
    assert_eq!(config["policies"]["max_pat_lifespan"]["max_days"], 90);
    assert_eq!(
        config["orgs"]["fabrikam"]["policies"]["restrict_pat_creation"]["allowlist"]["groups"],
        json!(["release-engineers"])
    );
    // What the console saves: the same document, changed, as JSON.
    config["policies"]["max_pat_lifespan"]["max_days"] = json!(30);
    let saved = call(
        &router,
        "PUT",
        "/v1/admin/tenants/contoso",
        &[BEARER, ("content-type", "application/json")],
        config.to_string(),
    )
    .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    let again = read_config(&router, Some("application/json")).await;
    assert_eq!(again.headers["x-patrol-stored-format"], "json");
    assert_eq!(again.json()["policies"]["max_pat_lifespan"]["max_days"], 30);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_page_takes_the_reports_parameters_and_checks_them() {
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let page = call(
        &router,
        "GET",
        "/v1/tenants/contoso/reports/html?since=2026-01-01T00:00:00Z&until=2026-02-01T00:00:00Z&days=14",
        &[BEARER],
        Body::empty(),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let text = page.text();
    assert!(text.contains("id=\"patrol-report\""));
    assert!(
        text.contains("2026-01-01 00:00 UTC"),
        "the range is the one asked"
    );
    assert!(text.contains("within 14 days"));
    for (query, field) in [
        ("days=0", "days"),
        ("since=yesterday", "since"),
        ("format=csv", "format"),
        ("max_days=99999", "max_days"),
    ] {
        let refused = call(
            &router,
            "GET",
            &format!("/v1/tenants/contoso/reports/html?{query}"),
            &[BEARER],
            Body::empty(),
        )
        .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(refused.json()["error"]["field"], field, "{query}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_merge_patch_changes_what_it_names_keeps_the_toml_comments_and_never_overwrites_a_newer_change()
 {
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let read = read_config(&router, None).await;
    let etag = read.headers["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with("\"sha256:"), "{etag}");
    let before = read.text();
    let patch_with = |body: Value, if_match: Option<String>| {
        let router = router.clone();
        async move {
            let mut headers = vec![
                BEARER,
                ("content-type", "application/merge-patch+json"),
                ("x-patrol-actor", "Alice Admin"),
            ];
            let tag;
            if let Some(value) = if_match {
                tag = value;
                headers.push(("if-match", tag.as_str()));
            }
            call(
                &router,
                "PATCH",
                "/v1/admin/tenants/contoso",
                &headers,
                body.to_string(),
            )
            .await
        }
    };

    // What the patch names changes; the rest of the file, comments and all, stays.
    let changed = patch_with(
        json!({ "policies": { "max_pat_lifespan": { "max_days": 30 } } }),
        Some(etag.clone()),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
    let new_etag = changed.headers["etag"].to_str().unwrap().to_string();
    assert_ne!(new_etag, etag);
    let after = read_config(&router, None).await;
    assert_eq!(after.headers["x-patrol-stored-format"], "toml");
    assert_eq!(
        after.text(),
        before.replace("max_days = 90\n", "max_days = 30\n")
    );
    assert_eq!(after.headers["etag"].to_str().unwrap(), new_etag);
    let audit = call(
        &router,
        "GET",
        "/v1/tenants/contoso/audit?event=OrganizationPolicy.PolicyValueUpdated",
        &[BEARER],
        Body::empty(),
    )
    .await
    .json();
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["actor"], "alice admin");

    // Made from what was read before that change: refused, nothing stored.
    let stale = patch_with(
        json!({ "policies": { "max_pat_lifespan": { "max_days": 60 } } }),
        Some(etag.clone()),
    )
    .await;
    assert_eq!(
        stale.status,
        StatusCode::PRECONDITION_FAILED,
        "{}",
        stale.text()
    );
    assert_eq!(stale.json()["error"]["code"], "configuration_changed");
    let stale_put = call(
        &router,
        "PUT",
        "/v1/admin/tenants/contoso",
        &[BEARER, ("if-match", etag.as_str())],
        "tenant = \"contoso\"\n",
    )
    .await;
    assert_eq!(stale_put.status, StatusCode::PRECONDITION_FAILED);

    // Bad patches and bad results are refused, naming what is wrong; nothing is stored.
    for (body, content_type, status, code, field) in [
        (
            "[1]",
            "application/merge-patch+json",
            400,
            "invalid_patch",
            Some("body"),
        ),
        (
            "{",
            "application/merge-patch+json",
            400,
            "invalid_patch",
            Some("body"),
        ),
        ("{}", "text/plain", 415, "unsupported_media_type", None),
        (
            "{\"policies\":{\"max_pat_lifespan\":{\"max_days\":400}}}",
            "application/merge-patch+json",
            400,
            "invalid_configuration",
            Some("policies.max_pat_lifespan"),
        ),
        (
            "{\"policies\":{\"max_pat_lifespn\":{\"enabled\":true}}}",
            "application/merge-patch+json",
            400,
            "invalid_configuration",
            None,
        ),
    ] {
        let refused = call(
            &router,
            "PATCH",
            "/v1/admin/tenants/contoso",
            &[BEARER, ("content-type", content_type)],
            body,
        )
        .await;
        assert_eq!(
            refused.status.as_u16(),
            status,
            "{body}: {}",
            refused.text()
        );
        let error = &refused.json()["error"];
        assert_eq!(error["code"], code, "{body}");
        if let Some(field) = field {
            assert!(
                error["field"].as_str().unwrap().starts_with(field),
                "{body}: {error}"
            );
        }
    }
    let unchanged = read_config(&router, None).await;
    assert_eq!(unchanged.headers["etag"].to_str().unwrap(), new_etag);

    // An auditor may not patch; another tenant's credential learns nothing.
    let auditor = credential(&router, "contoso", "auditor-2", "auditor").await;
    let bearer = format!("Bearer {auditor}");
    let refused = call(
        &router,
        "PATCH",
        "/v1/admin/tenants/contoso",
        &[
            ("authorization", &bearer),
            ("content-type", "application/merge-patch+json"),
        ],
        "{}",
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}
