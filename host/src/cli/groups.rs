//! `patrol groups set|list|delete`: the tenant's group directory, which allowlists naming groups
//! are checked against when a request carries only a token.

use super::Outcome;
use super::store::{Data, DataArgs};

#[derive(Debug, clap::Subcommand)]
pub enum GroupsCommand {
    /// Set a group's members, replacing the previous ones.
    Set {
        #[command(flatten)]
        data: DataArgs,
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
        #[command(flatten)]
        data: DataArgs,
        /// The tenant.
        #[arg(long, short)]
        tenant: String,
    },
    /// Delete a group.
    Delete {
        #[command(flatten)]
        data: DataArgs,
        /// The tenant.
        #[arg(long, short)]
        tenant: String,
        /// The group.
        group: String,
    },
}

fn valid_id(kind: &str, id: &str) -> anyhow::Result<()> {
    if !patrol::tokens::valid_directory_id(id) {
        anyhow::bail!("`{id}` is not a {kind} id: use 1 to 256 characters without spaces");
    }
    Ok(())
}

pub fn run(command: GroupsCommand) -> anyhow::Result<Outcome> {
    match command {
        GroupsCommand::Set {
            data,
            tenant,
            group,
            members,
        } => {
            valid_id("group", &group)?;
            let mut members: Vec<String> = members
                .iter()
                .map(|member| member.trim().to_lowercase())
                .collect();
            for member in &members {
                valid_id("user", member)?;
            }
            members.sort();
            members.dedup();
            let data = Data::open(&data)?;
            data.tokens.store().set_group(&tenant, &group, &members)?;
            super::emit(&format!("{group}: {}", members.join(" ")));
        }
        GroupsCommand::List { data, tenant } => {
            let data = Data::open(&data)?;
            for (group, members) in data.tokens.store().groups(&tenant)? {
                super::emit(&format!("{group}: {}", members.join(" ")));
            }
        }
        GroupsCommand::Delete {
            data,
            tenant,
            group,
        } => {
            let data = Data::open(&data)?;
            if !data.tokens.store().delete_group(&tenant, &group)? {
                anyhow::bail!("no group `{group}` in tenant `{tenant}`");
            }
        }
    }
    Ok(Outcome::Success)
}
