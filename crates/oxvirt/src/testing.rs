//! A small fake driver for the facade's unit tests: two domains, a call log, and events.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use oxvirt_domain::driver::event::{StartedDetail, StoppedDetail, SuspendedDetail};
use oxvirt_domain::driver::state::{PausedReason, RunningReason, ShutoffReason};
use oxvirt_domain::driver::{
    DomainEvent, DomainRef, EventBus, EventReceiver, Hypervisor, Lifecycle, Result, SnapshotRef,
    StateReason,
};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::{Connect, Uri};

struct FakeDom {
    name: String,
    uuid: Uuid,
    id: i32,
    paused: bool,
}

impl FakeDom {
    fn to_ref(&self) -> DomainRef {
        DomainRef {
            name: self.name.clone(),
            uuid: self.uuid,
            id: self.id,
        }
    }
}

struct State {
    doms: Vec<FakeDom>,
    next_id: i32,
}

/// The fake: `test` (running, ID 1) and `idle` (shut off); every call is logged.
pub(crate) struct FakeDriver {
    bus: EventBus,
    state: Mutex<State>,
    calls: Mutex<Vec<String>>,
}

impl FakeDriver {
    pub(crate) fn new() -> Self {
        let dom = |name: &str, byte: u8, id: i32| FakeDom {
            name: name.into(),
            uuid: Uuid::from([byte; 16]),
            id,
            paused: false,
        };
        FakeDriver {
            bus: EventBus::new(),
            state: Mutex::new(State {
                doms: vec![dom("test", 1, 1), dom("idle", 2, -1)],
                next_id: 2,
            }),
            calls: Mutex::new(Vec::new()),
        }
    }

    /// The calls that reached the driver, in order.
    pub(crate) fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    /// Sends an event as a driver would.
    pub(crate) fn emit(&self, event: DomainEvent) {
        self.bus.emit(event);
    }

    fn log(&self, call: &str) {
        self.calls.lock().unwrap().push(call.to_owned());
    }

    /// Runs `f` on the domain `dom` names (by UUID), or fails with `VIR_ERR_NO_DOMAIN`.
    fn with_dom<T>(
        &self,
        dom: &DomainRef,
        f: impl FnOnce(&mut FakeDom, &mut i32) -> Result<T>,
    ) -> Result<T> {
        let mut state = self.state.lock().unwrap();
        let State { doms, next_id } = &mut *state;
        let found = doms
            .iter_mut()
            .find(|d| d.uuid == dom.uuid)
            .ok_or_else(no_domain)?;
        f(found, next_id)
    }

    fn find(&self, pred: impl Fn(&FakeDom) -> bool) -> Result<DomainRef> {
        let state = self.state.lock().unwrap();
        state
            .doms
            .iter()
            .find(|d| pred(d))
            .map(FakeDom::to_ref)
            .ok_or_else(no_domain)
    }

    fn start(&self, dom: &DomainRef, detail: StartedDetail) -> Result<DomainRef> {
        let started = self.with_dom(dom, |d, next_id| {
            if d.id >= 0 {
                return Err(invalid("domain is already running"));
            }
            d.id = *next_id;
            *next_id += 1;
            Ok(d.to_ref())
        })?;
        self.emit(DomainEvent::lifecycle(
            started.clone(),
            Lifecycle::Started(detail),
        ));
        Ok(started)
    }
}

fn no_domain() -> VirError {
    VirError::bare(ErrorDomain::Test, ErrorCode::NoDomain)
}

fn invalid(detail: &str) -> VirError {
    VirError::new(ErrorDomain::Test, ErrorCode::OperationInvalid, detail)
}

#[async_trait]
impl Hypervisor for FakeDriver {
    fn uri(&self) -> String {
        "test:///fake".into()
    }

    fn hypervisor_type(&self) -> &str {
        "FAKE"
    }

    async fn version(&self) -> Result<u64> {
        Ok(2)
    }

    fn subscribe(&self) -> EventReceiver {
        self.bus.subscribe()
    }

    async fn lookup_by_name(&self, name: &str) -> Result<DomainRef> {
        self.log("lookup_by_name");
        self.find(|d| d.name == name)
    }

    async fn lookup_by_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        self.log("lookup_by_uuid");
        self.find(|d| d.uuid == *uuid)
    }

    async fn lookup_by_id(&self, id: i32) -> Result<DomainRef> {
        self.log("lookup_by_id");
        self.find(|d| d.id == id)
    }

    async fn list_all(&self, _flags: u32) -> Result<Vec<DomainRef>> {
        self.log("list_all");
        Ok(self
            .state
            .lock()
            .unwrap()
            .doms
            .iter()
            .map(FakeDom::to_ref)
            .collect())
    }

    async fn define_xml(&self, _xml: &str, _flags: u32) -> Result<DomainRef> {
        self.log("define_xml");
        Err(VirError::new(
            ErrorDomain::Test,
            ErrorCode::NoSupport,
            "defineXML",
        ))
    }

    async fn create(&self, dom: &DomainRef, _flags: u32) -> Result<DomainRef> {
        self.log("create");
        self.start(dom, StartedDetail::Booted)
    }

    async fn destroy(&self, dom: &DomainRef, _flags: u32) -> Result<()> {
        self.log("destroy");
        let before = self.with_dom(dom, |d, _| {
            if d.id < 0 {
                return Err(invalid("domain is not running"));
            }
            let before = d.to_ref();
            d.id = -1;
            d.paused = false;
            Ok(before)
        })?;
        self.emit(DomainEvent::lifecycle(
            before,
            Lifecycle::Stopped(StoppedDetail::Destroyed),
        ));
        Ok(())
    }

    async fn shutdown(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.log("shutdown");
        self.destroy(dom, flags).await
    }

    async fn suspend(&self, dom: &DomainRef) -> Result<()> {
        self.log("suspend");
        let r = self.with_dom(dom, |d, _| {
            d.paused = true;
            Ok(d.to_ref())
        })?;
        self.emit(DomainEvent::lifecycle(
            r,
            Lifecycle::Suspended(SuspendedDetail::Paused),
        ));
        Ok(())
    }

    async fn save(
        &self,
        dom: &DomainRef,
        _path: &str,
        _dxml: Option<&str>,
        flags: u32,
    ) -> Result<()> {
        self.log("save");
        self.destroy(dom, flags).await
    }

    async fn state(&self, dom: &DomainRef, _flags: u32) -> Result<StateReason> {
        self.log("state");
        self.with_dom(dom, |d, _| {
            Ok(match (d.id >= 0, d.paused) {
                (false, _) => StateReason::Shutoff(ShutoffReason::Unknown),
                (true, true) => StateReason::Paused(PausedReason::User),
                (true, false) => StateReason::Running(RunningReason::Booted),
            })
        })
    }

    async fn xml_desc(&self, dom: &DomainRef, _flags: u32) -> Result<String> {
        self.log("xml_desc");
        Ok(format!("<domain><name>{}</name></domain>\n", dom.name))
    }

    async fn is_active(&self, dom: &DomainRef) -> Result<bool> {
        self.log("is_active");
        self.with_dom(dom, |d, _| Ok(d.id >= 0))
    }

    async fn snapshot_create(
        &self,
        dom: &DomainRef,
        _xml: &str,
        _flags: u32,
    ) -> Result<SnapshotRef> {
        self.log("snapshot_create");
        Ok(SnapshotRef {
            domain: dom.clone(),
            name: "snap1".into(),
        })
    }

    async fn snapshot_revert(&self, snap: &SnapshotRef, _flags: u32) -> Result<()> {
        self.log("snapshot_revert");
        self.start(&snap.domain, StartedDetail::FromSnapshot)
            .map(drop)
    }
}

/// A connection over a fresh fake, and the fake.
pub(crate) fn fake_pair(read_only: bool) -> (Connect, Arc<FakeDriver>) {
    let driver = Arc::new(FakeDriver::new());
    let uri = Uri::parse("test:///fake").unwrap();
    (Connect::from_driver(uri, driver.clone(), read_only), driver)
}

/// A connection over a fresh fake.
pub(crate) fn fake_connect(read_only: bool) -> Connect {
    fake_pair(read_only).0
}
