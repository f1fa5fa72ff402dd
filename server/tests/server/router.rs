//! The HTTP API through its router, in process: a service on a fresh data directory, and one
//! call at a time.

use std::path::Path;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use patrol_server::{DecisionLogTarget, ServeConfig, Server};
use serde_json::Value;
use tempfile::TempDir;
use tower::ServiceExt;

pub const TOKEN: &str = "test-admin-token-0123456789";

pub struct Service {
    pub dir: TempDir,
    pub server: Server,
}

impl Service {
    pub fn open(admin_token: Option<&str>) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServeConfig::new(dir.path().join("data"));
        config.admin_token = admin_token.map(str::to_string);
        config.decision_log = Some(DecisionLogTarget::File {
            path: dir.path().join("decisions.log"),
            max_bytes: 1 << 20,
            keep: 1,
        });
        let server = Server::open(config).unwrap();
        Service { dir, server }
    }

    pub fn data(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    pub fn router(&self) -> Router {
        self.server.router()
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    pub fn error_code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap().to_string()
    }
}

pub async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router
        .clone()
        .oneshot(request.body(body.into()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

pub const BEARER: (&str, &str) = ("authorization", "Bearer test-admin-token-0123456789");

/// Waits for the decision log to contain `needle`: the writer thread is a moment behind.
pub fn wait_for_log(path: &Path, needle: &str) -> String {
    let started = Instant::now();
    loop {
        let log = std::fs::read_to_string(path).unwrap_or_default();
        if log.contains(needle) || started.elapsed() > Duration::from_secs(10) {
            return log;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
