//! The layer and the service it wraps.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderName, HeaderValue, Request, Response};
use patrol::timestamp::Timestamp;
use patrol_gate::{Attempt, Gate, IDENTITY_HEADERS, Observer, Outcome, TenantSource};
use patrol_store::tokens::Tokens;
use tower_layer::Layer;
use tower_service::Service;

use crate::options::Options;

/// Whose token authenticated a request: put in the request's extensions by [`PatAuth`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The tenant.
    pub tenant: String,
    /// The token's owner.
    pub user: String,
    /// The token's id.
    pub token_id: String,
    /// The token's scopes.
    pub scopes: Vec<String>,
    /// When the token stops being valid.
    pub valid_to: Timestamp,
}

/// Authenticates patrol tokens in front of a service. See the [crate docs](crate).
#[derive(Clone)]
pub struct PatAuthLayer {
    gate: Gate,
    options: Arc<Options>,
}

impl PatAuthLayer {
    /// A layer for `tenants`, their tokens in `tokens`, reading requests as `options` say.
    /// Outcomes are reported nowhere; see [`PatAuthLayer::with_gate`] to count or log them.
    pub fn new(
        tenants: impl TenantSource + 'static,
        tokens: Arc<Tokens>,
        options: Options,
    ) -> PatAuthLayer {
        let observer: Arc<dyn Observer> = Arc::new(());
        PatAuthLayer::with_gate(Gate::new(Arc::new(tenants), tokens, observer), options)
    }

    /// A layer over a [`Gate`] built by the caller (with its own [`Observer`]).
    pub fn with_gate(gate: Gate, options: Options) -> PatAuthLayer {
        PatAuthLayer {
            gate,
            options: Arc::new(options),
        }
    }
}

impl<S> Layer<S> for PatAuthLayer {
    type Service = PatAuth<S>;

    fn layer(&self, inner: S) -> PatAuth<S> {
        PatAuth {
            inner,
            gate: self.gate.clone(),
            options: Arc::clone(&self.options),
        }
    }
}

/// A service behind [`PatAuthLayer`].
#[derive(Clone)]
pub struct PatAuth<S> {
    inner: S,
    gate: Gate,
    options: Arc<Options>,
}

impl<S, B, R> Service<Request<B>> for PatAuth<S>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: From<String>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // The service that was polled ready serves this request; the clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let gate = self.gate.clone();
        let options = Arc::clone(&self.options);
        let attempt = Attempt::from_headers(
            options.tenant.read(&request),
            options.org.read(&request),
            request.headers(),
        );
        // Whatever the outcome, no identity header the client sent goes any further.
        for name in IDENTITY_HEADERS {
            request.headers_mut().remove(name);
        }
        Box::pin(async move {
            // The store may block (SQLite, PostgreSQL): off the async workers.
            let outcome = gate.authenticate_blocking(attempt).await;
            match outcome {
                Outcome::Allowed(allowed) => {
                    let allowed = *allowed;
                    if options.identity_headers {
                        for (name, value) in allowed.identity() {
                            // `Gate` refuses identities that cannot be sent as headers.
                            if let Ok(value) = HeaderValue::try_from(value) {
                                request
                                    .headers_mut()
                                    .insert(HeaderName::from_static(name), value);
                            }
                        }
                    }
                    let token = allowed.token;
                    request.extensions_mut().insert(Identity {
                        tenant: allowed.tenant,
                        user: token.owner,
                        token_id: token.id,
                        scopes: token.scopes,
                        valid_to: token.valid_to,
                    });
                    inner.call(request).await
                }
                refused => Ok(refused.to_http()),
            }
        })
    }
}
