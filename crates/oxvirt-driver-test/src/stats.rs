//! Domain statistics and messages, as libvirt 9.0's test driver reports them
//! (`testConnectGetAllDomainStats`, `testDomainGetStatsState`, `testDomainGetMessages`).
//!
//! The test driver has one statistics group, `state` (`state.state` and `state.reason`,
//! both `int`): any other group asked for gives an empty record, unless
//! [`ENFORCE_STATS`] is set, when it is refused.

use oxvirt_domain::driver::flags::stats;
use oxvirt_domain::driver::{DomainRef, DomainStats, Result, TypedParam, TypedValue};
use oxvirt_domain::objects::domains::DomainObj;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::driver::{check_flags, TestDriver};

pub use oxvirt_domain::driver::flags::all_stats::*;
/// The filters, which select domains as `virConnectListAllDomains`' flags of the same
/// values do.
const FILTERS: u32 =
    ACTIVE | INACTIVE | PERSISTENT | TRANSIENT | RUNNING | PAUSED | SHUTOFF | OTHER;

/// The groups the test driver has.
pub const SUPPORTED_GROUPS: u32 = stats::STATE;

pub use oxvirt_domain::driver::flags::messages::{
    DEPRECATION as MESSAGES_DEPRECATION, TAINTING as MESSAGES_TAINTING,
};

/// The `state` group of one domain.
fn state_params(obj: &DomainObj) -> Vec<TypedParam> {
    vec![
        TypedParam::new("state.state", TypedValue::Int(obj.state().number())),
        TypedParam::new("state.reason", TypedValue::Int(obj.state.reason())),
    ]
}

impl TestDriver {
    /// `virConnectGetAllDomainStats` (`doms` empty) or `virDomainListGetStats`: the
    /// `state` group (when `groups` is 0 or names it) of the domains the filters in `flags`
    /// select, in list order, or of those of `doms` that still exist, in their order.
    pub fn domain_stats_sync(
        &self,
        doms: &[DomainRef],
        groups: u32,
        flags: u32,
    ) -> Result<Vec<DomainStats>> {
        check_flags(
            flags,
            FILTERS | NOWAIT | BACKING | ENFORCE_STATS,
            "testConnectGetAllDomainStats",
        )?;
        let lacking = groups & !SUPPORTED_GROUPS;
        if flags & ENFORCE_STATS != 0 && lacking != 0 {
            return Err(VirError::new(
                ErrorDomain::Test,
                ErrorCode::ArgumentUnsupported,
                format!("Stats types bits 0x{lacking:x} are not supported by this daemon"),
            ));
        }
        let want_state = groups == 0 || groups & stats::STATE != 0;
        let filter = flags & FILTERS;
        let record = |obj: &DomainObj| DomainStats {
            domain: obj.to_ref(),
            params: if want_state {
                state_params(obj)
            } else {
                Vec::new()
            },
        };
        let node = self.lock();
        let objs: Vec<&DomainObj> = if doms.is_empty() {
            node.domains.export(filter)
        } else {
            doms.iter()
                .filter_map(|d| node.domains.find_by_uuid(&d.uuid))
                .filter(|o| o.matches(filter))
                .collect()
        };
        Ok(objs.into_iter().map(record).collect())
    }

    /// `virDomainGetMessages` (`testDomainGetMessages`): a test domain has none.
    pub fn messages_sync(&self, dom: &DomainRef, flags: u32) -> Result<Vec<String>> {
        check_flags(
            flags,
            MESSAGES_DEPRECATION | MESSAGES_TAINTING,
            "testDomainGetMessages",
        )?;
        self.lock().obj(dom)?;
        Ok(Vec::new())
    }
}
