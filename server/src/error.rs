//! Error responses: `{"error": {"code": "...", "message": "...", "field": "..."}}`, with the
//! status that fits.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error the API answers with.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) field: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    pub(crate) fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Names the field of a configuration sent as the body; a fault in the document as a
    /// whole (no field) is the body's.
    pub(crate) fn with_configuration_field(self, field: &str) -> Self {
        self.with_field(if field.is_empty() { "body" } else { field })
    }

    pub(crate) fn unknown_tenant(tenant: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_tenant",
            format!("no tenant `{tenant}` is configured"),
        )
    }

    pub(crate) fn shutting_down() -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the service is shutting down; retry on another instance",
        )
    }

    /// An operation failed on patrol's side: 503 when the database cannot be reached (nothing
    /// was changed; retrying shortly may succeed), 500 otherwise.
    pub(crate) fn failed(error: &(dyn std::error::Error + 'static)) -> Self {
        use patrol_store::tokens::{AuthError, LifecycleError, StoreError};
        let unavailable = error
            .downcast_ref::<StoreError>()
            .is_some_and(StoreError::is_unavailable)
            || error
                .downcast_ref::<LifecycleError>()
                .is_some_and(LifecycleError::is_unavailable)
            || error
                .downcast_ref::<AuthError>()
                .is_some_and(AuthError::is_unavailable);
        if unavailable {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                format!(
                    "{}; nothing was changed, retry shortly",
                    patrol::with_causes(error)
                ),
            )
        } else {
            ApiError::internal(patrol::with_causes(error))
        }
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Detail {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
            },
        };
        (self.status, Json(body)).into_response()
    }
}
