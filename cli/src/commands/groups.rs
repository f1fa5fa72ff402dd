//! `patrol groups set|list|delete`: the tenant's group directory, which allowlists naming groups
//! are checked against when a request carries only a token.

use patrol_store::tokens::LifecycleError;

use super::Outcome;
use super::store::{Data, DataArgs};

#[derive(Debug, clap::Subcommand)]
pub enum GroupsCommand {
    /// Set a group's members, replacing the previous ones.
    Set {
        /// The tenant.
        #[arg(long, short)]
        tenant: String,
        /// The group.
        group: String,
        /// Its members' user ids.
        members: Vec<String>,
    },
    /// List the groups and their members.
    List {
        /// The tenant.
        #[arg(long, short)]
        tenant: String,
    },
    /// Delete a group.
    Delete {
        /// The tenant.
        #[arg(long, short)]
        tenant: String,
        /// The group.
        group: String,
    },
}

pub fn run(data: &DataArgs, command: GroupsCommand) -> anyhow::Result<Outcome> {
    let data = Data::open(data)?;
    match command {
        GroupsCommand::Set {
            tenant,
            group,
            members,
        } => {
            data.check_tenant(&tenant)?;
            let members = data
                .tokens
                .set_group(&tenant, &group, &members)
                .map_err(|error| match error {
                    LifecycleError::Invalid { field, problem } => {
                        anyhow::anyhow!("`{field}`: {problem}")
                    }
                    other => other.into(),
                })?;
            super::emit(&format!("{group}: {}", members.join(" ")));
        }
        GroupsCommand::List { tenant } => {
            data.check_tenant(&tenant)?;
            for (group, members) in data.tokens.store().groups(&tenant)? {
                super::emit(&format!("{group}: {}", members.join(" ")));
            }
        }
        GroupsCommand::Delete { tenant, group } => {
            data.check_tenant(&tenant)?;
            if !data.tokens.delete_group(&tenant, &group)? {
                anyhow::bail!("no group `{group}` in tenant `{tenant}`");
            }
        }
    }
    Ok(Outcome::Success)
}
