//! Access control for oxvirtd, apart from the daemon so that it can be tested and fuzzed
//! alone: the permissions libvirt 9.0 requires for each REMOTE procedure ([`table`]), the
//! policy file's language and its decisions ([`policy`]), and the local accounts that
//! turn user and group names into ids ([`Accounts`]).

pub mod glob;
pub mod policy;
pub mod table;

pub use policy::{Action, Decision, Policy, PolicyError, Rule, Subject, Target};
pub use table::{permissions, Permissions, Requirement, When};

/// The local accounts as `/etc/passwd` and `/etc/group` list them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accounts {
    /// (name, uid, primary gid).
    users: Vec<(String, u32, u32)>,
    /// (name, gid, member user names).
    groups: Vec<(String, u32, Vec<String>)>,
}

impl Accounts {
    /// The accounts in the texts of a passwd and a group file (lines that are not
    /// `name:x:id:...` are skipped).
    pub fn parse(passwd: &str, group: &str) -> Accounts {
        let users = passwd
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                let (name, uid, gid) = (f.first()?, f.get(2)?, f.get(3)?);
                Some((name.to_string(), uid.parse().ok()?, gid.parse().ok()?))
            })
            .collect();
        let groups = group
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                let (name, gid) = (f.first()?, f.get(2)?);
                let members = f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .map(str::trim)
                            .filter(|m| !m.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                Some((name.to_string(), gid.parse().ok()?, members))
            })
            .collect();
        Accounts { users, groups }
    }

    /// The system's accounts (`/etc/passwd`, `/etc/group`; missing files count as empty).
    pub fn system() -> Accounts {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        Accounts::parse(&read("/etc/passwd"), &read("/etc/group"))
    }

    /// The uid of user `name`.
    pub fn uid(&self, name: &str) -> Option<u32> {
        self.users.iter().find(|u| u.0 == name).map(|u| u.1)
    }

    /// The gid of group `name`.
    pub fn gid(&self, name: &str) -> Option<u32> {
        self.groups.iter().find(|g| g.0 == name).map(|g| g.1)
    }

    /// The groups of the peer with `uid` and primary group `gid`: `gid` first, then the
    /// groups that list the uid's user name as a member.
    pub fn groups_of(&self, uid: u32, gid: u32) -> Vec<u32> {
        let mut out = vec![gid];
        for name in self.users.iter().filter(|u| u.1 == uid).map(|u| &u.0) {
            for g in &self.groups {
                if g.2.iter().any(|m| m == name) && !out.contains(&g.1) {
                    out.push(g.1);
                }
            }
        }
        out
    }
}
