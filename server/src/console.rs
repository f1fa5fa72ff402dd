//! The administrator's console, `/console/`: a few static files built into the binary (no CDN,
//! no font, nothing fetched from elsewhere), which call the same admin API as every other
//! client with the bearer the administrator enters. The server adds nothing for it but these
//! files; what a caller may do is still decided by the API, route by route.
//!
//! - `index.html`: the page; `console.js`: everything it does; `console.css` its style;
//! - `report.css`: the report page's style, the same `patrol report --html` inlines.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::ApiError;

/// The files, by name: (name, content type, content).
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../console/index.html"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/console.js"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../console/console.css"),
    ),
    (
        "report.css",
        "text/css; charset=utf-8",
        patrol_store::reports::html::STYLE,
    ),
];

/// What the browser may load and do on the console's pages: its own files and API only; no
/// inline script, no frame around it, no form posted anywhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// `/console`: to `/console/`, where the page's relative links work.
pub(crate) async fn to_console() -> Redirect {
    Redirect::permanent("/console/")
}

/// `/console/`: the page.
pub(crate) async fn index() -> Response {
    serve("index.html").unwrap_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// `/console/{asset}`: one of its files.
pub(crate) async fn asset(Path(name): Path<String>) -> Response {
    serve(&name).unwrap_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("the console has no file `{name}`"),
        )
        .into_response()
    })
}

fn serve(name: &str) -> Option<Response> {
    let (_, content_type, content) = ASSETS.iter().find(|(asset, _, _)| *asset == name)?;
    let mut response = (*content).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, *content_type),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Small, and changed with every release: always revalidated, never stale.
        (header::CACHE_CONTROL, "no-cache"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_only_files_that_are_served() {
        let page = ASSETS[0].2;
        for name in ["console.js", "console.css", "report.css"] {
            assert!(page.contains(&format!("\"{name}\"")), "{name}");
        }
        // Nothing from elsewhere.
        for outside in ["http://", "https://", "//cdn", "@import"] {
            for (asset, _, content) in ASSETS {
                assert!(!content.contains(outside), "{asset} names {outside}");
            }
        }
    }
}
