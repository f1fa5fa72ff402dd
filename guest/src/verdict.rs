//! Building verdicts.

use crate::{Action, Timestamp, Verdict, Violation};

impl Verdict {
    /// Allows the request, with no actions.
    pub fn allow() -> Self {
        Verdict {
            violations: Vec::new(),
            actions: Vec::new(),
            adjusted_valid_to: None,
        }
    }

    /// Refuses the request for one reason.
    pub fn deny(code: impl Into<String>, message: impl Into<String>) -> Self {
        Verdict::allow().with_violation(code, message)
    }

    /// Allows a `create` or `regenerate`, but with the token's validity cut to `valid_to`.
    pub fn allow_until(valid_to: Timestamp) -> Self {
        Verdict {
            adjusted_valid_to: Some(valid_to),
            ..Verdict::allow()
        }
    }

    /// Adds one more reason to refuse the request.
    pub fn with_violation(mut self, code: impl Into<String>, message: impl Into<String>) -> Self {
        self.violations.push(Violation {
            code: code.into(),
            message: message.into(),
        });
        self
    }

    /// Asks the host to do something, whether or not the request is allowed.
    pub fn with_action(mut self, action: Action) -> Self {
        if !self.actions.contains(&action) {
            self.actions.push(action);
        }
        self
    }

    /// Whether this verdict allows the request.
    pub fn is_allowed(&self) -> bool {
        self.violations.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_collect_violations_and_unique_actions() {
        let verdict = Verdict::deny("a", "first")
            .with_violation("b", "second")
            .with_action(Action::NotifyOwner)
            .with_action(Action::NotifyOwner);
        assert!(!verdict.is_allowed());
        assert_eq!(verdict.violations.len(), 2);
        assert_eq!(verdict.actions, vec![Action::NotifyOwner]);
        assert!(Verdict::allow_until(10).is_allowed());
    }
}
