//! The compliance reports and the dry run, over HTTP (admin token required: they list tokens
//! and owners).
//!
//! - `GET /v1/tenants/{tenant}/reports/{report}`: `noncompliant` (`max_days`), `violations`
//!   (`since`, `until`: RFC 3339), `usage`, `automation`, `expiring` (`days`), each as JSON,
//!   or `?format=csv` or `?format=table`; and `html`, every report on one page with charts
//!   (the page the console shows), taking the same parameters.
//! - `POST /v1/tenants/{tenant}/whatif`: the body is a proposed configuration (TOML, or JSON
//!   with `Content-Type: application/json`); the answer lists the active tokens it would
//!   refuse. Nothing changes: `PUT /v1/admin/tenants/{tenant}` applies a configuration.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use patrol::timestamp::{now, parse_rfc3339};
use patrol_store::reports::query::{ReportError, ReportKind, ReportQuery};
use patrol_store::reports::whatif::whatif;
use patrol_store::reports::{Format, Report, html};

use crate::admin::configuration_body;
use crate::api::blocking;
use crate::error::ApiError;
use crate::extract::{Admin, PathParams, QueryParams, Read, Served, TenantName};
use crate::state::Shared;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReportParams {
    format: Option<String>,
    max_days: Option<i64>,
    since: Option<String>,
    until: Option<String>,
    days: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FormatParam {
    format: Option<String>,
}

fn invalid(field: &'static str, message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message).with_field(field)
}

fn format(text: Option<&str>) -> Result<Format, ApiError> {
    match text {
        None => Ok(Format::Json),
        Some(text) => Format::parse(text).ok_or_else(|| {
            invalid(
                "format",
                format!("`format`: `{text}` is not one of json, csv, table"),
            )
        }),
    }
}

fn respond(report: &impl Report, format: Format) -> Response {
    let content_type = match format {
        Format::Json => "application/json",
        Format::Csv => "text/csv; charset=utf-8",
        Format::Table => "text/plain; charset=utf-8",
    };
    (
        [(header::CONTENT_TYPE, content_type)],
        report.render(format),
    )
        .into_response()
}

/// A report, or the page of them all.
enum Made {
    Report(patrol_store::reports::query::AnyReport),
    Page(String),
}

/// The `{report}` of the path.
#[derive(Deserialize)]
pub(crate) struct ReportName {
    report: String,
}

pub(crate) async fn report(
    _admin: Admin<Read>,
    State(state): State<Arc<Shared>>,
    Served {
        name: tenant,
        served,
    }: Served,
    PathParams(ReportName { report: name }): PathParams<ReportName>,
    QueryParams(params): QueryParams<ReportParams>,
) -> Result<Response, ApiError> {
    let tokens = Arc::clone(&state.tokens);
    // The page of every report takes the reports' parameters, and no format.
    let kind = match name.as_str() {
        "html" => None,
        name => Some(ReportKind::parse(name).ok_or_else(|| {
            let known: Vec<&str> = ReportKind::ALL.iter().map(|k| k.name()).collect();
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_report",
                format!(
                    "no report `{name}`: there are {}, and html",
                    known.join(", ")
                ),
            )
        })?),
    };
    let format = match (kind, params.format.as_deref()) {
        (None, Some(_)) => {
            return Err(invalid(
                "format",
                "`format`: the html report is a page; `format` is for the others".to_string(),
            ));
        }
        (_, text) => format(text)?,
    };
    let time = |field: &'static str, value: Option<String>| match value {
        None => Ok(None),
        Some(text) => parse_rfc3339(&text).map(Some).ok_or_else(|| {
            invalid(
                field,
                format!("`{field}`: `{text}` is not an RFC 3339 time"),
            )
        }),
    };
    let query = ReportQuery {
        max_days: params.max_days,
        since: time("since", params.since)?,
        until: time("until", params.until)?,
        days: params.days,
    };
    let log = state.log.path().map(std::path::Path::to_path_buf);
    let made = blocking(move || {
        let config = Some(&*served.tenant);
        match kind {
            None => {
                html::build(&tokens, &tenant, config, log.as_deref(), &query, now()).map(Made::Page)
            }
            Some(kind) => query
                .run(kind, &tokens, &tenant, config, log.as_deref(), now())
                .map(Made::Report),
        }
    })
    .await?;
    match made {
        Ok(Made::Page(page)) => {
            Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response())
        }
        Ok(Made::Report(report)) => Ok(respond(&report, format)),
        Err(ReportError::Invalid { field, problem }) => {
            Err(invalid(field, format!("`{field}`: {problem}")))
        }
        Err(error) => Err(ApiError::failed(&error)),
    }
}

pub(crate) async fn whatif_handler(
    _admin: Admin<Read>,
    State(state): State<Arc<Shared>>,
    TenantName(tenant): TenantName,
    QueryParams(params): QueryParams<FormatParam>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let format = format(params.format.as_deref())?;
    let (text, config_format) = configuration_body(&state, &headers, body).await?;
    let origin = format!("the proposed configuration of `{tenant}`");
    let tenants_dir = state.data.tenants();
    let config = config_format
        .parse(&text, &origin, &tenants_dir)
        .map_err(|error| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_configuration",
                error.to_string(),
            )
            .with_configuration_field(&error.field)
        })?;
    if config.tenant != tenant {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_configuration",
            format!(
                "{origin}: `tenant`: the configuration is for `{}`, not `{tenant}`",
                config.tenant
            ),
        )
        .with_field("tenant"));
    }
    let current = state.tenant(&tenant);
    let worker = Arc::clone(&state);
    let made = blocking(move || {
        // A configuration that does not load is the caller's to fix; a store failure is ours.
        let proposed = patrol::Tenant::load(&worker.engine, &config).map_err(|error| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_configuration",
                error.to_string(),
            )
            .with_configuration_field(&error.field)
        })?;
        whatif(
            &worker.tokens,
            current.as_ref().map(|served| &*served.tenant),
            &proposed,
            &origin,
            now(),
        )
        .map_err(|error| ApiError::failed(&error))
    })
    .await?;
    made.map(|report| respond(&report, format))
}
