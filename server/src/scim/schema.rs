//! The SCIM schemas patrol serves (RFC 7643 §4 and §8.7.1): the core User with the attributes
//! an identity provider sends, the enterprise User extension, and the core Group. One table per
//! schema drives both `/Schemas` and the checking of what clients send.

use serde_json::{Value, json};

/// The core User schema.
pub(crate) const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema.
pub(crate) const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension.
pub(crate) const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// A list response.
pub(crate) const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// A PATCH request.
pub(crate) const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// An error response.
pub(crate) const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// An attribute's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    String,
    Boolean,
    Complex,
    Reference,
}

impl Type {
    fn name(self) -> &'static str {
        match self {
            Type::String => "string",
            Type::Boolean => "boolean",
            Type::Complex => "complex",
            Type::Reference => "reference",
        }
    }
}

/// One attribute of a schema.
#[derive(Debug)]
pub(crate) struct Attribute {
    pub(crate) name: &'static str,
    pub(crate) kind: Type,
    pub(crate) multi_valued: bool,
    pub(crate) required: bool,
    /// `readWrite`, `readOnly`, `immutable` or `writeOnly`.
    pub(crate) mutability: &'static str,
    /// `always`, `default`, `never` or `request`.
    pub(crate) returned: &'static str,
    /// `none` or `server`.
    pub(crate) uniqueness: &'static str,
    pub(crate) case_exact: bool,
    pub(crate) sub: &'static [Attribute],
    /// `$ref` attributes: what they may point to.
    pub(crate) reference_types: &'static [&'static str],
}

const fn simple(name: &'static str) -> Attribute {
    Attribute {
        name,
        kind: Type::String,
        multi_valued: false,
        required: false,
        mutability: "readWrite",
        returned: "default",
        uniqueness: "none",
        case_exact: false,
        sub: &[],
        reference_types: &[],
    }
}

const fn boolean(name: &'static str) -> Attribute {
    Attribute {
        kind: Type::Boolean,
        ..simple(name)
    }
}

const fn reference(name: &'static str, types: &'static [&'static str]) -> Attribute {
    Attribute {
        kind: Type::Reference,
        reference_types: types,
        case_exact: true,
        ..simple(name)
    }
}

const fn complex(name: &'static str, sub: &'static [Attribute]) -> Attribute {
    Attribute {
        kind: Type::Complex,
        sub,
        ..simple(name)
    }
}

const fn multi(name: &'static str, sub: &'static [Attribute]) -> Attribute {
    Attribute {
        kind: Type::Complex,
        multi_valued: true,
        sub,
        ..simple(name)
    }
}

/// `value`, `display`, `type` and `primary`: the sub-attributes of emails, phone numbers, roles.
const LABELLED: &[Attribute] = &[
    simple("value"),
    simple("display"),
    simple("type"),
    boolean("primary"),
];

/// The core User's attributes (`id`, `externalId` and `meta` are common to every resource).
pub(crate) const USER_ATTRIBUTES: &[Attribute] = &[
    Attribute {
        required: true,
        uniqueness: "server",
        ..simple("userName")
    },
    complex(
        "name",
        &[
            simple("formatted"),
            simple("familyName"),
            simple("givenName"),
            simple("middleName"),
            simple("honorificPrefix"),
            simple("honorificSuffix"),
        ],
    ),
    simple("displayName"),
    simple("nickName"),
    reference("profileUrl", &["external"]),
    simple("title"),
    simple("userType"),
    simple("preferredLanguage"),
    simple("locale"),
    simple("timezone"),
    boolean("active"),
    multi("emails", LABELLED),
    multi("phoneNumbers", LABELLED),
    multi(
        "addresses",
        &[
            simple("formatted"),
            simple("streetAddress"),
            simple("locality"),
            simple("region"),
            simple("postalCode"),
            simple("country"),
            simple("type"),
            boolean("primary"),
        ],
    ),
    Attribute {
        mutability: "readOnly",
        ..multi(
            "groups",
            &[
                Attribute {
                    mutability: "readOnly",
                    ..simple("value")
                },
                Attribute {
                    mutability: "readOnly",
                    ..reference("$ref", &["User", "Group"])
                },
                Attribute {
                    mutability: "readOnly",
                    ..simple("display")
                },
                Attribute {
                    mutability: "readOnly",
                    ..simple("type")
                },
            ],
        )
    },
    multi("roles", LABELLED),
    multi("entitlements", LABELLED),
];

/// The enterprise extension's attributes.
pub(crate) const ENTERPRISE_ATTRIBUTES: &[Attribute] = &[
    simple("employeeNumber"),
    simple("costCenter"),
    simple("organization"),
    simple("division"),
    simple("department"),
    complex(
        "manager",
        &[
            simple("value"),
            reference("$ref", &["User"]),
            Attribute {
                mutability: "readOnly",
                ..simple("displayName")
            },
        ],
    ),
];

/// The core Group's attributes.
pub(crate) const GROUP_ATTRIBUTES: &[Attribute] = &[
    Attribute {
        required: true,
        uniqueness: "server",
        ..simple("displayName")
    },
    multi(
        "members",
        &[
            Attribute {
                mutability: "immutable",
                ..simple("value")
            },
            Attribute {
                mutability: "immutable",
                ..reference("$ref", &["User", "Group"])
            },
            // Not in RFC 7643's Group schema, but in its examples and what Okta sends: kept
            // as the client sent it.
            Attribute {
                mutability: "immutable",
                ..simple("display")
            },
            Attribute {
                mutability: "immutable",
                ..simple("type")
            },
        ],
    ),
];

/// `id` and `externalId`, which every resource has besides its schema's attributes.
pub(crate) const COMMON_ATTRIBUTES: &[Attribute] = &[
    Attribute {
        mutability: "readOnly",
        returned: "always",
        uniqueness: "server",
        case_exact: true,
        ..simple("id")
    },
    Attribute {
        case_exact: true,
        ..simple("externalId")
    },
];

/// The attribute called `name` (regardless of case) among `attributes`.
pub(crate) fn find<'a>(attributes: &'a [Attribute], name: &str) -> Option<&'a Attribute> {
    attributes
        .iter()
        .find(|attribute| attribute.name.eq_ignore_ascii_case(name))
}

fn describe(attribute: &Attribute) -> Value {
    let mut described = json!({
        "name": attribute.name,
        "type": attribute.kind.name(),
        "multiValued": attribute.multi_valued,
        "description": attribute.name,
        "required": attribute.required,
        "caseExact": attribute.case_exact,
        "mutability": attribute.mutability,
        "returned": attribute.returned,
        "uniqueness": attribute.uniqueness,
    });
    if !attribute.sub.is_empty() {
        described["subAttributes"] = attribute.sub.iter().map(describe).collect();
    }
    if !attribute.reference_types.is_empty() {
        described["referenceTypes"] = json!(attribute.reference_types);
    }
    described
}

/// The `/Schemas` resources, with `location` under `base`.
pub(crate) fn schemas(base: &str) -> Vec<Value> {
    [
        (USER, "User", "User Account", USER_ATTRIBUTES),
        (
            ENTERPRISE,
            "EnterpriseUser",
            "Enterprise User",
            ENTERPRISE_ATTRIBUTES,
        ),
        (GROUP, "Group", "Group", GROUP_ATTRIBUTES),
    ]
    .into_iter()
    .map(|(id, name, description, attributes)| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": id,
            "name": name,
            "description": description,
            "attributes": attributes.iter().map(describe).collect::<Vec<_>>(),
            "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{id}") },
        })
    })
    .collect()
}
