//! SCIM error responses (RFC 7644 §3.12): `{"schemas": [...Error], "status": "400",
//! "scimType": "invalidFilter", "detail": "..."}`, as `application/scim+json`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;

/// A SCIM error.
#[derive(Debug)]
pub(crate) struct ScimError {
    pub(crate) status: StatusCode,
    pub(crate) scim_type: Option<&'static str>,
    pub(crate) detail: String,
}

impl ScimError {
    pub(crate) fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    pub(crate) fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidSyntax"), detail)
    }

    pub(crate) fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidValue"), detail)
    }

    pub(crate) fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidFilter"), detail)
    }

    pub(crate) fn invalid_path(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidPath"), detail)
    }

    pub(crate) fn no_target(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("noTarget"), detail)
    }

    pub(crate) fn mutability(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("mutability"), detail)
    }

    pub(crate) fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, Some("uniqueness"), detail)
    }

    pub(crate) fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, detail)
    }

    pub(crate) fn failed(error: &(dyn std::error::Error + 'static)) -> Self {
        let api = ApiError::failed(error);
        Self::new(api.status, None, api.message)
    }
}

/// Errors of the admin API's extractors (authentication, the tenant, the body's size) in SCIM's
/// form, keeping their status and words.
impl From<ApiError> for ScimError {
    fn from(error: ApiError) -> Self {
        let scim_type = match error.status {
            StatusCode::BAD_REQUEST => Some("invalidSyntax"),
            _ => None,
        };
        ScimError::new(error.status, scim_type, error.message)
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [super::schema::ERROR],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = json!(scim_type);
        }
        super::scim_json(self.status, &body)
    }
}

/// The SCIM media type.
pub(crate) fn content_type() -> (header::HeaderName, HeaderValue) {
    (
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/scim+json"),
    )
}
