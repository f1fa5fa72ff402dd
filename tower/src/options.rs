//! Where the layer finds a request's tenant and organization.

use http::HeaderName;

/// Where a request's tenant comes from.
#[derive(Debug, Clone)]
pub enum TenantFrom {
    /// Always this tenant: a gateway in front of one tenant's services.
    Fixed(String),
    /// This header, set by something in front that the client cannot bypass.
    Header(HeaderName),
}

/// Where a request's organization comes from.
#[derive(Debug, Clone)]
pub enum OrgFrom {
    /// Always this organization.
    Fixed(String),
    /// This header (such as `x-patrol-org`).
    Header(HeaderName),
    /// This segment of the path, counted from 0 (`/{org}/repo` is segment 0), as Azure DevOps
    /// URLs name the organization (`dev.azure.com/{org}/...`).
    PathSegment(usize),
}

/// How the layer reads requests and what it passes on.
#[derive(Clone)]
pub struct Options {
    /// The tenant.
    pub tenant: TenantFrom,
    /// The organization.
    pub org: OrgFrom,
    /// Whether an admitted request carries the identity headers upstream (it always carries
    /// the [`Identity`](crate::Identity) extension). On by default.
    pub identity_headers: bool,
}

impl Options {
    /// Tenant and organization from these places; identity headers on.
    pub fn new(tenant: TenantFrom, org: OrgFrom) -> Options {
        Options {
            tenant,
            org,
            identity_headers: true,
        }
    }
}

impl OrgFrom {
    /// The organization of a request, and where it came from (named in errors).
    pub(crate) fn read<B>(&self, request: &http::Request<B>) -> Option<(String, String)> {
        match self {
            OrgFrom::Fixed(org) => Some((org.clone(), "org".to_string())),
            OrgFrom::Header(name) => request
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(|value| (value.trim().to_string(), name.as_str().to_string())),
            OrgFrom::PathSegment(index) => request
                .uri()
                .path()
                .split('/')
                .filter(|segment| !segment.is_empty())
                .nth(*index)
                .map(|segment| (segment.to_string(), format!("path segment {index}"))),
        }
    }
}

impl TenantFrom {
    /// The tenant of a request; empty when the header is missing (refused as not a tenant
    /// name).
    pub(crate) fn read<B>(&self, request: &http::Request<B>) -> String {
        match self {
            TenantFrom::Fixed(tenant) => tenant.clone(),
            TenantFrom::Header(name) => request
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(|value| value.trim().to_string())
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str) -> http::Request<()> {
        http::Request::get(path)
            .header("x-org", " fabrikam ")
            .header("x-tenant", "contoso")
            .body(())
            .unwrap()
    }

    #[test]
    fn organizations_come_from_the_place_configured() {
        let cases = [
            (
                OrgFrom::PathSegment(0),
                "/contoso-main/repo?x=1",
                Some("contoso-main"),
            ),
            (OrgFrom::PathSegment(1), "//a/b/c", Some("b")),
            (OrgFrom::PathSegment(2), "/a/b", None),
            (
                OrgFrom::Header(HeaderName::from_static("x-org")),
                "/",
                Some("fabrikam"),
            ),
            (
                OrgFrom::Header(HeaderName::from_static("x-missing")),
                "/",
                None,
            ),
            (OrgFrom::Fixed("contoso".into()), "/a", Some("contoso")),
        ];
        for (from, path, expected) in cases {
            let org = from.read(&request(path)).map(|(org, _)| org);
            assert_eq!(org.as_deref(), expected, "{from:?} on {path}");
        }
    }

    #[test]
    fn tenants_come_from_the_place_configured() {
        assert_eq!(TenantFrom::Fixed("a".into()).read(&request("/")), "a");
        let header = TenantFrom::Header(HeaderName::from_static("x-tenant"));
        assert_eq!(header.read(&request("/")), "contoso");
        let missing = TenantFrom::Header(HeaderName::from_static("x-other"));
        assert_eq!(missing.read(&request("/")), "");
    }
}
