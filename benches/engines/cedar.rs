//! The six rules in Cedar (`rules.cedar`), with the request, entities and context built per
//! decision: the user with their groups as parents, the token with its attributes.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicyId,
    PolicySet, Request, RestrictedExpression,
};
use patrol::timestamp::format_rfc3339;

use super::Judge;

pub struct Cedar {
    authorizer: Authorizer,
    policies: PolicySet,
    codes: HashMap<PolicyId, String>,
}

fn uid(kind: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(
        EntityTypeName::from_str(kind).expect("entity type"),
        EntityId::new(id),
    )
}

fn strings(values: &[String]) -> RestrictedExpression {
    RestrictedExpression::new_set(values.iter().cloned().map(RestrictedExpression::new_string))
}

impl Cedar {
    pub fn new() -> Self {
        let policies = PolicySet::from_str(include_str!("rules.cedar")).expect("rules.cedar");
        let codes = policies
            .policies()
            .filter_map(|policy| {
                let code = policies.annotation(policy.id(), "code")?;
                Some((policy.id().clone(), code.to_string()))
            })
            .collect();
        Cedar {
            authorizer: Authorizer::new(),
            policies,
            codes,
        }
    }
}

impl Judge for Cedar {
    fn judge(&mut self, request: &patrol::Request) -> Vec<String> {
        let parents: HashSet<EntityUid> = request
            .user
            .groups
            .iter()
            .map(|group| uid("Group", group))
            .collect();
        let user_id = request.user.id.to_lowercase();
        let user = Entity::new(uid("User", &user_id), HashMap::new(), parents).expect("user");
        let token_attributes = HashMap::from([
            ("scopes".to_string(), strings(&request.token.scopes)),
            (
                "all_orgs".to_string(),
                RestrictedExpression::new_bool(request.token.all_orgs),
            ),
            ("orgs".to_string(), strings(&request.token.orgs)),
            (
                "valid_to".to_string(),
                RestrictedExpression::new_datetime(format_rfc3339(request.token.valid_to)),
            ),
        ]);
        let token =
            Entity::new(uid("Token", "t"), token_attributes, HashSet::new()).expect("token");
        let entities = Entities::from_entities([user, token], None).expect("entities");
        let writes = request
            .token
            .scopes
            .iter()
            .any(|scope| !patrol_guest::scope::is_read_only(scope));
        let context = Context::from_pairs([
            (
                "org".to_string(),
                RestrictedExpression::new_string(request.org.clone()),
            ),
            (
                "now".to_string(),
                RestrictedExpression::new_datetime(format_rfc3339(request.now)),
            ),
            ("writes".to_string(), RestrictedExpression::new_bool(writes)),
        ])
        .expect("context");
        let cedar_request = Request::new(
            uid("User", &user_id),
            uid("Action", request.operation.as_str()),
            uid("Token", "t"),
            context,
            None,
        )
        .expect("request");
        let response = self
            .authorizer
            .is_authorized(&cedar_request, &self.policies, &entities);
        response
            .diagnostics()
            .reason()
            .filter_map(|id| self.codes.get(id).cloned())
            .collect()
    }
}
