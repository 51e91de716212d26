//! The storage commands over an in-memory storage driver. The expected texts are what
//! Debian's virsh 9.0 printed against libvirtd 9.0 (`virsh -c qemu:///system ...`) for a
//! dir pool `oxh8t` (UUID 547ec09a-8716-4e79-a03b-e429caeba6a0, target /tmp/oxh8t-dir)
//! holding a.img (10M raw), b.qcow2 (1G qcow2, 196 KiB allocated) and c.img (1G, none
//! allocated); each test names the virsh command that printed its text.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use oxvirt::{ErrorCode, ErrorDomain, VirError};
use oxvirt::{PoolInfo, PoolRef, PoolState, Uuid, VolInfo, VolRef, VolType};
use oxvirt_storage::api::{
    self, Chunk, Download, PoolEvent, PoolEventBus, PoolEventKind, PoolEventReceiver,
    StorageDriver, Upload,
};

use super::clone_xml;
use crate::ctl::Options;
use crate::testing::{Outcome, Session};

const UUID: &str = "547ec09a-8716-4e79-a03b-e429caeba6a0";

#[derive(Clone)]
struct Vol {
    name: String,
    capacity: u64,
    allocation: u64,
    data: Vec<u8>,
}

impl Vol {
    fn new(name: &str, capacity: u64, allocation: u64) -> Self {
        Vol {
            name: name.into(),
            capacity,
            allocation,
            data: Vec::new(),
        }
    }
}

struct Pool {
    r: PoolRef,
    kind: String,
    active: bool,
    persistent: bool,
    autostart: bool,
    info: (u64, u64, u64),
    vols: Vec<Vol>,
}

#[derive(Default)]
struct State {
    pools: Vec<Pool>,
    /// Every XML document the driver was given, in order.
    xml: Vec<String>,
    /// Calls that change something, with their flags.
    calls: Vec<String>,
}

#[derive(Default)]
struct Fake {
    state: Arc<Mutex<State>>,
    bus: PoolEventBus,
}

fn err(code: ErrorCode, msg: String) -> VirError {
    VirError::new(ErrorDomain::Storage, code, msg)
}

fn tag<'a>(xml: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let start = xml.find(&open).map(|i| i + open.len()).unwrap_or(0);
    let end = xml[start..].find('<').map(|i| start + i).unwrap_or(start);
    &xml[start..end]
}

impl Fake {
    /// The pool `oxh8t` as the captures had it, running or not, with its three volumes.
    fn oxh8t(active: bool) -> Arc<Fake> {
        let fake = Fake::default();
        fake.state.lock().unwrap().pools.push(Pool {
            r: PoolRef {
                name: "oxh8t".into(),
                uuid: Uuid::try_parse(UUID).unwrap(),
            },
            kind: "dir".into(),
            active,
            persistent: true,
            autostart: false,
            info: (270_553_174_016, 70_097_252_352, 200_455_921_664),
            vols: vec![
                Vol::new("a.img", 10 << 20, 10 << 20),
                Vol::new("b.qcow2", 1 << 30, 196 << 10),
                Vol::new("c.img", 1 << 30, 0),
            ],
        });
        Arc::new(fake)
    }

    fn log(&self, call: String) {
        self.state.lock().unwrap().calls.push(call);
    }

    fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }

    fn xml(&self) -> Vec<String> {
        self.state.lock().unwrap().xml.clone()
    }

    fn with_pool<T>(
        &self,
        uuid: &Uuid,
        f: impl FnOnce(&mut Pool) -> api::Result<T>,
    ) -> api::Result<T> {
        let mut st = self.state.lock().unwrap();
        let pool = st
            .pools
            .iter_mut()
            .find(|p| p.r.uuid == *uuid)
            .ok_or_else(|| {
                err(
                    ErrorCode::NoStoragePool,
                    format!("no storage pool with matching uuid '{uuid}'"),
                )
            })?;
        f(pool)
    }

    fn with_vol<T>(
        &self,
        v: &VolRef,
        f: impl FnOnce(&mut Vol) -> api::Result<T>,
    ) -> api::Result<T> {
        with_vol_in(&self.state, v, f)
    }

    fn find_vol(&self, pred: impl Fn(&Pool, &Vol) -> bool) -> Option<VolRef> {
        let st = self.state.lock().unwrap();
        st.pools
            .iter()
            .filter(|p| p.active)
            .find_map(|p| p.vols.iter().find(|v| pred(p, v)).map(|v| vol_ref(p, v)))
    }

    fn define(&self, xml: &str, active: bool, persistent: bool) -> PoolRef {
        let mut st = self.state.lock().unwrap();
        st.xml.push(xml.to_owned());
        let name = tag(xml, "name").to_owned();
        let kind = xml
            .split("type='")
            .nth(1)
            .and_then(|s| s.split('\'').next())
            .unwrap_or("dir")
            .to_owned();
        let r = PoolRef {
            name,
            uuid: Uuid::from([st.pools.len() as u8 + 1; 16]),
        };
        st.pools.push(Pool {
            r: r.clone(),
            kind,
            active,
            persistent,
            autostart: false,
            info: (0, 0, 0),
            vols: Vec::new(),
        });
        r
    }
}

fn with_vol_in<T>(
    state: &Mutex<State>,
    v: &VolRef,
    f: impl FnOnce(&mut Vol) -> api::Result<T>,
) -> api::Result<T> {
    let mut st = state.lock().unwrap();
    let vol = st
        .pools
        .iter_mut()
        .filter(|p| p.r.name == v.pool)
        .flat_map(|p| p.vols.iter_mut())
        .find(|x| x.name == v.name)
        .ok_or_else(|| {
            err(
                ErrorCode::NoStorageVol,
                format!("no storage vol with matching name '{}'", v.name),
            )
        })?;
    f(vol)
}

fn target(p: &Pool) -> String {
    if p.r.name == "oxh8t" {
        "/tmp/oxh8t-dir".into()
    } else {
        format!("/tmp/{}", p.r.name)
    }
}

fn vol_ref(p: &Pool, v: &Vol) -> VolRef {
    VolRef {
        pool: p.r.name.clone(),
        name: v.name.clone(),
        key: format!("{}/{}", target(p), v.name),
    }
}

#[async_trait]
impl StorageDriver for Fake {
    fn subscribe(&self) -> PoolEventReceiver {
        self.bus.subscribe()
    }

    async fn list_all_pools(&self, flags: u32) -> api::Result<Vec<PoolRef>> {
        use api::flags::list;
        let st = self.state.lock().unwrap();
        let types = flags & !((list::DIR) - 1);
        Ok(st
            .pools
            .iter()
            .filter(|p| {
                let state_ok = flags & (list::ACTIVE | list::INACTIVE) == 0
                    || (p.active && flags & list::ACTIVE != 0)
                    || (!p.active && flags & list::INACTIVE != 0);
                let type_ok = types == 0 || list::type_bit(&p.kind).is_some_and(|b| b & types != 0);
                state_ok && type_ok
            })
            .map(|p| p.r.clone())
            .collect())
    }

    async fn find_pool_sources(
        &self,
        pool_type: &str,
        spec: Option<&str>,
        _flags: u32,
    ) -> api::Result<String> {
        self.log(format!("find_pool_sources {pool_type}"));
        if let Some(spec) = spec {
            self.state.lock().unwrap().xml.push(spec.to_owned());
        }
        Ok("<sources>\n</sources>\n".into())
    }

    async fn pool_lookup_by_name(&self, name: &str) -> api::Result<PoolRef> {
        let st = self.state.lock().unwrap();
        st.pools
            .iter()
            .find(|p| p.r.name == name)
            .map(|p| p.r.clone())
            .ok_or_else(|| {
                err(
                    ErrorCode::NoStoragePool,
                    format!("no storage pool with matching name '{name}'"),
                )
            })
    }

    async fn pool_lookup_by_uuid(&self, uuid: &Uuid) -> api::Result<PoolRef> {
        self.with_pool(uuid, |p| Ok(p.r.clone()))
    }

    async fn pool_lookup_by_volume(&self, vol: &VolRef) -> api::Result<PoolRef> {
        self.pool_lookup_by_name(&vol.pool).await
    }

    async fn pool_define_xml(&self, xml: &str, flags: u32) -> api::Result<PoolRef> {
        self.log(format!("pool_define_xml {flags}"));
        let r = self.define(xml, false, true);
        self.bus
            .emit(PoolEvent::lifecycle(&r, PoolEventKind::Defined));
        Ok(r)
    }

    async fn pool_create_xml(&self, xml: &str, flags: u32) -> api::Result<PoolRef> {
        self.log(format!("pool_create_xml {flags}"));
        Ok(self.define(xml, true, false))
    }

    async fn pool_build(&self, pool: &PoolRef, flags: u32) -> api::Result<()> {
        self.log(format!("pool_build {} {flags}", pool.name));
        Ok(())
    }

    async fn pool_create(&self, pool: &PoolRef, flags: u32) -> api::Result<()> {
        self.log(format!("pool_create {} {flags}", pool.name));
        self.with_pool(&pool.uuid, |p| {
            p.active = true;
            Ok(())
        })?;
        self.bus
            .emit(PoolEvent::lifecycle(pool, PoolEventKind::Started));
        Ok(())
    }

    async fn pool_destroy(&self, pool: &PoolRef) -> api::Result<()> {
        self.log(format!("pool_destroy {}", pool.name));
        self.with_pool(&pool.uuid, |p| {
            p.active = false;
            Ok(())
        })
    }

    async fn pool_delete(&self, pool: &PoolRef, flags: u32) -> api::Result<()> {
        self.log(format!("pool_delete {} {flags}", pool.name));
        self.with_pool(&pool.uuid, |p| {
            if p.active {
                return Err(err(
                    ErrorCode::OperationInvalid,
                    format!("storage pool '{}' is still active", p.r.name),
                ));
            }
            Ok(())
        })
    }

    async fn pool_undefine(&self, pool: &PoolRef) -> api::Result<()> {
        self.log(format!("pool_undefine {}", pool.name));
        self.with_pool(&pool.uuid, |p| {
            if p.active {
                return Err(err(
                    ErrorCode::OperationInvalid,
                    format!("storage pool '{}' is still active", p.r.name),
                ));
            }
            Ok(())
        })?;
        self.state
            .lock()
            .unwrap()
            .pools
            .retain(|p| p.r.uuid != pool.uuid);
        Ok(())
    }

    async fn pool_refresh(&self, pool: &PoolRef, flags: u32) -> api::Result<()> {
        self.log(format!("pool_refresh {} {flags}", pool.name));
        self.bus.emit(PoolEvent::refresh(pool));
        Ok(())
    }

    async fn pool_info(&self, pool: &PoolRef) -> api::Result<PoolInfo> {
        self.with_pool(&pool.uuid, |p| {
            Ok(PoolInfo {
                state: if p.active {
                    PoolState::Running
                } else {
                    PoolState::Inactive
                },
                capacity: p.info.0,
                allocation: p.info.1,
                available: p.info.2,
            })
        })
    }

    async fn pool_xml_desc(&self, pool: &PoolRef, flags: u32) -> api::Result<String> {
        self.with_pool(&pool.uuid, |p| {
            Ok(format!(
                "<pool type='{}' flags='{flags}'>\n  <name>{}</name>\n</pool>\n",
                p.kind, p.r.name
            ))
        })
    }

    async fn pool_autostart(&self, pool: &PoolRef) -> api::Result<bool> {
        self.with_pool(&pool.uuid, |p| Ok(p.autostart))
    }

    async fn pool_set_autostart(&self, pool: &PoolRef, on: bool) -> api::Result<()> {
        self.with_pool(&pool.uuid, |p| {
            p.autostart = on;
            Ok(())
        })
    }

    async fn pool_is_active(&self, pool: &PoolRef) -> api::Result<bool> {
        self.with_pool(&pool.uuid, |p| Ok(p.active))
    }

    async fn pool_is_persistent(&self, pool: &PoolRef) -> api::Result<bool> {
        self.with_pool(&pool.uuid, |p| Ok(p.persistent))
    }

    async fn pool_list_volumes(&self, pool: &PoolRef) -> api::Result<Vec<VolRef>> {
        self.with_pool(&pool.uuid, |p| {
            Ok(p.vols.iter().map(|v| vol_ref(p, v)).collect())
        })
    }

    async fn vol_lookup_by_name(&self, pool: &PoolRef, name: &str) -> api::Result<VolRef> {
        self.with_pool(&pool.uuid, |p| {
            p.vols
                .iter()
                .find(|v| v.name == name)
                .map(|v| vol_ref(p, v))
                .ok_or_else(|| {
                    err(
                        ErrorCode::NoStorageVol,
                        format!("no storage vol with matching name '{name}'"),
                    )
                })
        })
    }

    async fn vol_lookup_by_key(&self, key: &str) -> api::Result<VolRef> {
        self.find_vol(|p, v| vol_ref(p, v).key == key)
            .ok_or_else(|| {
                err(
                    ErrorCode::NoStorageVol,
                    format!("no storage vol with matching key {key}"),
                )
            })
    }

    async fn vol_lookup_by_path(&self, path: &str) -> api::Result<VolRef> {
        self.find_vol(|p, v| vol_ref(p, v).key == path)
            .ok_or_else(|| {
                err(
                    ErrorCode::NoStorageVol,
                    format!("no storage vol with matching path '{path}'"),
                )
            })
    }

    async fn vol_create_xml(&self, pool: &PoolRef, xml: &str, flags: u32) -> api::Result<VolRef> {
        self.log(format!("vol_create_xml {flags}"));
        self.state.lock().unwrap().xml.push(xml.to_owned());
        let vol = Vol::new(
            tag(xml, "name"),
            tag(xml, "capacity").parse().unwrap_or(0),
            0,
        );
        self.with_pool(&pool.uuid, |p| {
            let r = vol_ref(p, &vol);
            p.vols.push(vol);
            Ok(r)
        })
    }

    async fn vol_create_xml_from(
        &self,
        pool: &PoolRef,
        xml: &str,
        from: &VolRef,
        flags: u32,
    ) -> api::Result<VolRef> {
        self.log(format!("vol_create_xml_from {} {flags}", from.name));
        self.state.lock().unwrap().xml.push(xml.to_owned());
        let mut vol = self.with_vol(from, |v| Ok(v.clone()))?;
        vol.name = tag(xml, "name").to_owned();
        self.with_pool(&pool.uuid, |p| {
            let r = vol_ref(p, &vol);
            p.vols.push(vol);
            Ok(r)
        })
    }

    async fn vol_delete(&self, vol: &VolRef, flags: u32) -> api::Result<()> {
        self.log(format!("vol_delete {} {flags}", vol.name));
        let mut st = self.state.lock().unwrap();
        for p in &mut st.pools {
            p.vols
                .retain(|v| !(p.r.name == vol.pool && v.name == vol.name));
        }
        Ok(())
    }

    async fn vol_wipe(&self, vol: &VolRef, algorithm: u32, flags: u32) -> api::Result<()> {
        self.log(format!("vol_wipe {} {algorithm} {flags}", vol.name));
        Ok(())
    }

    async fn vol_resize(&self, vol: &VolRef, capacity: u64, flags: u32) -> api::Result<()> {
        self.log(format!("vol_resize {} {capacity} {flags}", vol.name));
        self.with_vol(vol, |v| {
            let new = if flags & api::flags::resize::DELTA != 0 {
                v.capacity + capacity
            } else {
                capacity
            };
            if new < v.allocation {
                return Err(VirError::new(
                    ErrorDomain::Storage,
                    ErrorCode::InvalidArg,
                    "can't shrink capacity below existing allocation",
                ));
            }
            v.capacity = new;
            Ok(())
        })
    }

    async fn vol_info(&self, vol: &VolRef, flags: u32) -> api::Result<VolInfo> {
        self.with_vol(vol, |v| {
            Ok(VolInfo {
                kind: VolType::File,
                capacity: v.capacity,
                allocation: if flags & api::flags::vol_info::GET_PHYSICAL != 0 {
                    v.capacity
                } else {
                    v.allocation
                },
            })
        })
    }

    async fn vol_xml_desc(&self, vol: &VolRef, _flags: u32) -> api::Result<String> {
        self.with_vol(vol, |v| {
            Ok(format!(
                "<volume type='file'>\n  <name>{}</name>\n  <key>{}</key>\n  \
                 <capacity unit='bytes'>{}</capacity>\n  <target>\n    \
                 <format type='raw'/>\n  </target>\n</volume>\n",
                v.name, vol.key, v.capacity
            ))
        })
    }

    async fn vol_path(&self, vol: &VolRef) -> api::Result<String> {
        Ok(vol.key.clone())
    }

    async fn vol_download(
        &self,
        vol: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
    ) -> api::Result<Download> {
        self.log(format!("vol_download {offset} {length} {flags}"));
        let data = self.with_vol(vol, |v| Ok(v.data.clone()))?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let start = (offset as usize).min(data.len());
        let end = if length == 0 {
            data.len()
        } else {
            (start + length as usize).min(data.len())
        };
        let sparse = flags & api::flags::stream::SPARSE != 0;
        // zero runs of 4 bytes or more become holes in a sparse download
        let mut i = start;
        while i < end {
            let zeros = data[i..end].iter().take_while(|b| **b == 0).count();
            if sparse && zeros >= 4 {
                tx.try_send(Ok(Chunk::Hole(zeros as u64))).unwrap();
                i += zeros;
                continue;
            }
            let mut j = i + zeros.max(1);
            while j < end && !(sparse && data[j..end].iter().take_while(|b| **b == 0).count() >= 4)
            {
                j += 1;
            }
            tx.try_send(Ok(Chunk::Data(data[i..j].to_vec()))).unwrap();
            i = j;
        }
        Ok(Download { chunks: rx })
    }

    async fn vol_upload(
        &self,
        vol: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
    ) -> api::Result<Upload> {
        self.log(format!("vol_upload {offset} {length} {flags}"));
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let (done_tx, done) = tokio::sync::oneshot::channel();
        let mut buf = Vec::new();
        let vol = vol.clone();
        let state = self.state.clone();
        tokio::spawn(async move {
            while let Some(chunk) = rx.recv().await {
                match chunk {
                    Chunk::Data(d) => buf.extend_from_slice(&d),
                    Chunk::Hole(n) => buf.resize(buf.len() + n as usize, 0),
                }
            }
            let r = with_vol_in(&state, &vol, |v| {
                v.data = buf;
                Ok(())
            });
            let _ = done_tx.send(r);
        });
        Ok(Upload { chunks: tx, done })
    }
}

/// A session whose connection has `fake` as its storage driver.
fn session(fake: &Arc<Fake>) -> Session {
    let mut s = Session::new();
    let conn = s.ctl.conn.take().unwrap();
    let storage: Arc<dyn StorageDriver> = fake.clone();
    s.ctl.conn = Some(conn.with_storage(storage));
    s
}

fn failed(err: &str) -> Outcome {
    Outcome {
        out: "\n".into(),
        err: err.into(),
        ok: false,
    }
}

#[test]
fn pretty_capacity_units() {
    assert_eq!(super::pretty(0), "0.00 B");
    assert_eq!(super::pretty(1023), "1023.00 B");
    assert_eq!(super::pretty(196 << 10), "196.00 KiB");
    assert_eq!(super::pretty(10 << 20), "10.00 MiB");
    assert_eq!(super::pretty(1 << 30), "1.00 GiB");
    assert_eq!(super::pretty(270_553_174_016), "251.97 GiB");
    assert_eq!(super::pretty(u64::MAX), "16.00 EiB");
}

#[test]
fn pool_define_as_print_xml_is_virshs() {
    let fake = Fake::oxh8t(false);
    let mut s = session(&fake);
    // virsh pool-define-as oxh8t dir --target /tmp/oxh8t-dir --print-xml
    assert_eq!(
        s.ok("pool-define-as oxh8t dir --target /tmp/oxh8t-dir --print-xml"),
        "<pool type='dir'>\n  <name>oxh8t</name>\n  <target>\n    <path>/tmp/oxh8t-dir</path>\n  </target>\n</pool>\n\n"
    );
    // virsh pool-define-as p2 logical --source-host h --source-path /sp --source-dev /dev/sdb
    //   --source-name vg --target /dev/vg --source-format lvm2 --auth-type chap
    //   --auth-username u --secret-usage s --adapter-name host0 --source-protocol-ver 3
    //   --source-initiator iqn.x --print-xml
    assert_eq!(
        s.ok("pool-define-as p2 logical --source-host h --source-path /sp --source-dev /dev/sdb \
              --source-name vg --target /dev/vg --source-format lvm2 --auth-type chap \
              --auth-username u --secret-usage s --adapter-name host0 --source-protocol-ver 3 \
              --source-initiator iqn.x --print-xml"),
        "<pool type='logical'>\n  <name>p2</name>\n  <source>\n    <host name='h'/>\n    <dir path='/sp'/>\n    <device path='/dev/sdb'/>\n    <initiator>\n      <iqn name='iqn.x'/>\n    </initiator>\n    <adapter type='scsi_host' name='host0'/>\n    <auth type='chap' username='u'>\n      <secret usage='s'/>\n    </auth>\n    <format type='lvm2'/>\n    <name>vg</name>\n    <protocol ver='3'/>\n  </source>\n  <target>\n    <path>/dev/vg</path>\n  </target>\n</pool>\n\n"
    );
    // virsh pool-create-as p3 scsi --adapter-wwnn 1 --adapter-wwpn 2 --adapter-parent-wwnn 3
    //   --adapter-parent-wwpn 4 --auth-type a --auth-username b --secret-uuid c --print-xml
    assert_eq!(
        s.ok("pool-create-as p3 scsi --adapter-wwnn 1 --adapter-wwpn 2 --adapter-parent-wwnn 3 \
              --adapter-parent-wwpn 4 --auth-type a --auth-username b --secret-uuid c --print-xml"),
        "<pool type='scsi'>\n  <name>p3</name>\n  <source>\n    <adapter type='fc_host' parent_wwnn='3' parent_wwpn='4' wwnn='1' wwpn='2'/>\n    <auth type='a' username='b'>\n      <secret uuid='c'/>\n    </auth>\n  </source>\n</pool>\n\n"
    );
    // virsh pool-define-as p3 dir --secret-usage a --secret-uuid b --print-xml
    assert_eq!(
        s.run("pool-define-as p3 dir --secret-usage a --secret-uuid b --print-xml"),
        failed("error: Options --secret-usage and --secret-uuid are mutually exclusive\n")
    );
    // --print-xml defines nothing
    assert!(fake.calls().is_empty());
}

#[test]
fn pool_define_as_defines_the_xml_it_prints() {
    let fake = Fake::oxh8t(false);
    let mut s = session(&fake);
    // virsh pool-define-as oxh8t dir --target /tmp/oxh8t-dir
    assert_eq!(
        s.ok("pool-define-as t2 dir --target /tmp/oxh8t-dir"),
        "Pool t2 defined\n\n"
    );
    assert_eq!(
        fake.xml(),
        ["<pool type='dir'>\n  <name>t2</name>\n  <target>\n    <path>/tmp/oxh8t-dir</path>\n  </target>\n</pool>\n"]
    );
    assert_eq!(
        s.ok("pool-create-as t3 dir --target /x --build --overwrite"),
        "Pool t3 created\n\n"
    );
    assert_eq!(fake.calls(), ["pool_define_xml 0", "pool_create_xml 3"]);
    assert_eq!(
        s.run("pool-create-as t4 dir --overwrite --no-overwrite"),
        failed("error: Options --overwrite and --no-overwrite are mutually exclusive\n")
    );
}

#[test]
fn pool_list_forms() {
    let fake = Fake::oxh8t(false);
    let mut s = session(&fake);
    // virsh pool-list --all (after pool-define-as)
    assert_eq!(
        s.ok("pool-list --all"),
        " Name    State      Autostart\n-------------------------------\n oxh8t   inactive   no\n\n"
    );
    // virsh pool-list --all --details
    assert_eq!(
        s.ok("pool-list --all --details"),
        " Name    State      Autostart   Persistent   Capacity   Allocation   Available\n--------------------------------------------------------------------------------\n oxh8t   inactive   no          yes          -          -            -\n\n"
    );
    s.ok("pool-start oxh8t");
    // virsh pool-list
    assert_eq!(
        s.ok("pool-list"),
        " Name    State    Autostart\n-----------------------------\n oxh8t   active   no\n\n"
    );
    // virsh pool-list --type dir
    assert_eq!(
        s.ok("pool-list --type dir"),
        " Name    State    Autostart\n-----------------------------\n oxh8t   active   no\n\n"
    );
    assert_eq!(
        s.ok("pool-list --type logical,disk"),
        " Name   State   Autostart\n---------------------------\n\n"
    );
    // virsh pool-list --name / --uuid / --uuid --name
    assert_eq!(s.ok("pool-list --name"), "oxh8t               \n\n");
    assert_eq!(s.ok("pool-list --uuid"), format!("{UUID}\n\n"));
    assert_eq!(
        s.ok("pool-list --uuid --name"),
        format!("{UUID} oxh8t               \n\n")
    );
    // virsh pool-list --details (sizes after the volumes were made)
    fake.state.lock().unwrap().pools[0].info = (270_553_174_016, 70_107_000_000, 200_446_174_016);
    assert_eq!(
        s.ok("pool-list --details"),
        " Name    State     Autostart   Persistent   Capacity     Allocation   Available\n----------------------------------------------------------------------------------\n oxh8t   running   no          yes          251.97 GiB   65.29 GiB    186.68 GiB\n\n"
    );
    // virsh pool-list --all --inactive / --details --uuid / --type bogus
    assert_eq!(
        s.run("pool-list --all --inactive"),
        failed("error: Options --all and --inactive are mutually exclusive\n")
    );
    assert_eq!(
        s.run("pool-list --details --uuid"),
        failed("error: Options --details and --uuid are mutually exclusive\n")
    );
    assert_eq!(
        s.run("pool-list --type bogus"),
        failed("error: Invalid pool type 'bogus'\n")
    );
}

#[test]
fn pool_info_and_lookups() {
    let fake = Fake::oxh8t(true);
    let mut s = session(&fake);
    // virsh pool-info oxh8t
    let info = "Name:           oxh8t\nUUID:           547ec09a-8716-4e79-a03b-e429caeba6a0\nState:          running\nPersistent:     yes\nAutostart:      no\nCapacity:       251.97 GiB\nAllocation:     65.28 GiB\nAvailable:      186.69 GiB\n\n";
    assert_eq!(s.ok("pool-info oxh8t"), info);
    assert_eq!(s.ok(&format!("pool-info {UUID}")), info);
    assert_eq!(
        s.ok("pool-info oxh8t --bytes"),
        "Name:           oxh8t\nUUID:           547ec09a-8716-4e79-a03b-e429caeba6a0\nState:          running\nPersistent:     yes\nAutostart:      no\nCapacity:       270553174016\nAllocation:     70097252352\nAvailable:      200455921664\n\n"
    );
    // virsh pool-info nosuch
    assert_eq!(
        s.run("pool-info nosuch"),
        failed("error: failed to get pool 'nosuch'\nerror: Storage pool not found: no storage pool with matching name 'nosuch'\n")
    );
    // virsh pool-name nonexistent
    assert_eq!(
        s.run("pool-name nonexistent"),
        failed("error: failed to get pool 'nonexistent'\n")
    );
    assert_eq!(s.ok(&format!("pool-name {UUID}")), "oxh8t\n\n");
    assert_eq!(s.ok("pool-uuid oxh8t"), format!("{UUID}\n\n"));
    assert_eq!(
        s.ok("pool-dumpxml oxh8t --inactive"),
        "<pool type='dir' flags='1'>\n  <name>oxh8t</name>\n</pool>\n\n"
    );
}

#[test]
fn pool_lifecycle_messages() {
    let fake = Fake::oxh8t(false);
    let mut s = session(&fake);
    // virsh pool-build oxh8t / pool-start oxh8t / pool-autostart oxh8t [--disable] /
    // pool-refresh oxh8t
    assert_eq!(s.ok("pool-build oxh8t --overwrite"), "Pool oxh8t built\n\n");
    assert_eq!(s.ok("pool-start oxh8t --build"), "Pool oxh8t started\n\n");
    assert_eq!(
        s.ok("pool-autostart oxh8t"),
        "Pool oxh8t marked as autostarted\n\n"
    );
    assert_eq!(
        s.ok("pool-autostart oxh8t --disable"),
        "Pool oxh8t unmarked as autostarted\n\n"
    );
    assert_eq!(s.ok("pool-refresh oxh8t"), "Pool oxh8t refreshed\n\n");
    // virsh pool-undefine oxh8t / pool-delete oxh8t (while running)
    assert_eq!(
        s.run("pool-undefine oxh8t"),
        failed("error: Failed to undefine pool oxh8t\nerror: Requested operation is not valid: storage pool 'oxh8t' is still active\n")
    );
    assert_eq!(
        s.run("pool-delete oxh8t"),
        failed("error: Failed to delete pool oxh8t\nerror: Requested operation is not valid: storage pool 'oxh8t' is still active\n")
    );
    assert_eq!(s.ok("pool-destroy oxh8t"), "Pool oxh8t destroyed\n\n");
    assert_eq!(s.ok("pool-delete oxh8t"), "Pool oxh8t deleted\n\n");
    assert_eq!(
        s.ok("pool-undefine oxh8t"),
        "Pool oxh8t has been undefined\n\n"
    );
    assert_eq!(
        fake.calls(),
        [
            "pool_build oxh8t 8",
            "pool_create oxh8t 1",
            "pool_refresh oxh8t 0",
            "pool_undefine oxh8t",
            "pool_delete oxh8t 0",
            "pool_destroy oxh8t",
            "pool_delete oxh8t 0",
            "pool_undefine oxh8t",
        ]
    );
    // quiet: vshPrintExtra prints nothing
    let mut q = Session::with(Options {
        quiet: true,
        ..Options::default()
    });
    let conn = q.ctl.conn.take().unwrap();
    q.ctl.conn = Some(conn.with_storage(Fake::oxh8t(false)));
    assert_eq!(q.ok("pool-start oxh8t"), "");
}

#[test]
fn pool_define_and_create_from_files() {
    let fake = Fake::oxh8t(false);
    let mut s = session(&fake);
    let dir = std::env::temp_dir().join(format!("oxvirsh-pool-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("p.xml");
    std::fs::write(&file, "<pool type='dir'><name>fromfile</name></pool>").unwrap();
    let f = file.display();
    assert_eq!(
        s.ok(&format!("pool-define {f} --validate")),
        format!("Pool fromfile defined from {f}\n\n")
    );
    assert_eq!(
        s.ok(&format!("pool-create {f} --build")),
        format!("Pool fromfile created from {f}\n\n")
    );
    assert_eq!(fake.calls(), ["pool_define_xml 1", "pool_create_xml 1"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn find_pool_sources_as_builds_the_source() {
    let fake = Fake::oxh8t(true);
    let mut s = session(&fake);
    // virsh find-storage-pool-sources-as logical --host h --port 1 --initiator i
    assert_eq!(
        s.ok("find-storage-pool-sources-as logical --host h --port 1 --initiator i"),
        "<sources>\n</sources>\n\n"
    );
    assert_eq!(
        fake.xml(),
        ["<source>\n  <host name='h' port='1'/>\n  <initiator>\n    <iqn name='i'/>\n  </initiator>\n</source>\n"]
    );
    assert_eq!(
        s.ok("find-storage-pool-sources logical"),
        "<sources>\n</sources>\n\n"
    );
}

#[test]
fn vol_list_and_info() {
    let fake = Fake::oxh8t(true);
    let mut s = session(&fake);
    // virsh vol-list oxh8t
    assert_eq!(
        s.ok("vol-list oxh8t"),
        " Name      Path\n-----------------------------------\n a.img     /tmp/oxh8t-dir/a.img\n b.qcow2   /tmp/oxh8t-dir/b.qcow2\n c.img     /tmp/oxh8t-dir/c.img\n\n"
    );
    // virsh vol-list oxh8t --details
    assert_eq!(
        s.ok("vol-list oxh8t --details"),
        " Name      Path                     Type   Capacity    Allocation\n-------------------------------------------------------------------\n a.img     /tmp/oxh8t-dir/a.img     file   10.00 MiB   10.00 MiB\n b.qcow2   /tmp/oxh8t-dir/b.qcow2   file   1.00 GiB    196.00 KiB\n c.img     /tmp/oxh8t-dir/c.img     file   1.00 GiB    0.00 B\n\n"
    );
    // virsh vol-info a.img --pool oxh8t [--bytes | --physical]
    assert_eq!(
        s.ok("vol-info a.img --pool oxh8t"),
        "Name:           a.img\nType:           file\nCapacity:       10.00 MiB\nAllocation:     10.00 MiB\n\n"
    );
    assert_eq!(
        s.ok("vol-info a.img --pool oxh8t --bytes"),
        "Name:           a.img\nType:           file\nCapacity:       10485760 bytes\nAllocation:     10485760 bytes\n\n"
    );
    assert_eq!(
        s.ok("vol-info a.img --pool oxh8t --physical"),
        "Name:           a.img\nType:           file\nCapacity:       10.00 MiB\nPhysical:       10.00 MiB\n\n"
    );
    // by path, without --pool
    assert_eq!(
        s.ok("vol-info /tmp/oxh8t-dir/c.img"),
        "Name:           c.img\nType:           file\nCapacity:       1.00 GiB\nAllocation:     0.00 B\n\n"
    );
    // virsh vol-info nosuch --pool oxh8t / vol-info a.img / vol-path nosuch --pool nosuchpool
    assert_eq!(
        s.run("vol-info nosuch --pool oxh8t"),
        failed("error: failed to get vol 'nosuch'\nerror: Storage volume not found: no storage vol with matching path 'nosuch'\n")
    );
    assert_eq!(
        s.run("vol-info a.img"),
        failed("error: failed to get vol 'a.img', specifying --pool might help\nerror: Storage volume not found: no storage vol with matching path 'a.img'\n")
    );
    assert_eq!(
        s.run("vol-path nosuch --pool nosuchpool"),
        failed("error: failed to get pool 'nosuchpool'\nerror: Storage pool not found: no storage pool with matching name 'nosuchpool'\n")
    );
}

#[test]
fn vol_names_keys_paths_pools() {
    let fake = Fake::oxh8t(true);
    let mut s = session(&fake);
    // virsh vol-path a.img --pool oxh8t, vol-name PATH, vol-key a.img --pool oxh8t,
    // vol-pool PATH [--uuid]
    assert_eq!(
        s.ok("vol-path a.img --pool oxh8t"),
        "/tmp/oxh8t-dir/a.img\n\n"
    );
    assert_eq!(s.ok("vol-name /tmp/oxh8t-dir/a.img"), "a.img\n\n");
    assert_eq!(
        s.ok("vol-key a.img --pool oxh8t"),
        "/tmp/oxh8t-dir/a.img\n\n"
    );
    assert_eq!(s.ok("vol-pool /tmp/oxh8t-dir/a.img"), "oxh8t\n\n");
    assert_eq!(
        s.ok("vol-pool /tmp/oxh8t-dir/a.img --uuid"),
        format!("{UUID}\n\n")
    );
    assert_eq!(
        s.ok("vol-dumpxml a.img --pool oxh8t"),
        "<volume type='file'>\n  <name>a.img</name>\n  <key>/tmp/oxh8t-dir/a.img</key>\n  <capacity unit='bytes'>10485760</capacity>\n  <target>\n    <format type='raw'/>\n  </target>\n</volume>\n\n"
    );
    // a pool that is not running
    fake.state.lock().unwrap().pools[0].active = false;
    assert_eq!(
        s.run("vol-path a.img --pool oxh8t"),
        failed("error: pool 'oxh8t' is not active\n")
    );
}

#[test]
fn vol_create_as_xml_and_messages() {
    let fake = Fake::oxh8t(true);
    let mut s = session(&fake);
    // virsh vol-create-as oxh8t d.qcow2 1G --format qcow2 --backing-vol b.qcow2
    //   --backing-vol-format qcow2 --print-xml
    assert_eq!(
        s.ok("vol-create-as oxh8t d.qcow2 1G --format qcow2 --backing-vol b.qcow2 --backing-vol-format qcow2 --print-xml"),
        "<volume>\n  <name>d.qcow2</name>\n  <capacity>1073741824</capacity>\n  <target>\n    <format type='qcow2'/>\n  </target>\n  <backingStore>\n    <path>/tmp/oxh8t-dir/b.qcow2</path>\n    <format type='qcow2'/>\n  </backingStore>\n</volume>\n\n"
    );
    // virsh vol-create-as oxh8t e.img 1G --allocation 1M --print-xml
    assert_eq!(
        s.ok("vol-create-as oxh8t e.img 1G --allocation 1M --print-xml"),
        "<volume>\n  <name>e.img</name>\n  <capacity>1073741824</capacity>\n  <allocation>1048576</allocation>\n</volume>\n\n"
    );
    // virsh vol-create-as oxh8t a.img 10M
    assert_eq!(
        s.ok("vol-create-as oxh8t n.img 10M"),
        "Vol n.img created\n\n"
    );
    assert_eq!(
        fake.xml(),
        ["<volume>\n  <name>n.img</name>\n  <capacity>10485760</capacity>\n</volume>\n"]
    );
    // virsh vol-create-as oxh8t e.img 1X
    assert_eq!(
        s.run("vol-create-as oxh8t e.img 1X"),
        failed("error: Malformed size 1X\nerror: invalid argument: unknown suffix 'X'\n")
    );
    assert_eq!(
        s.run("vol-create-as oxh8t e.img 1G --backing-vol nope"),
        failed("error: failed to get vol 'nope'\nerror: Storage volume not found: no storage vol with matching path 'nope'\n")
    );
    assert_eq!(fake.calls(), ["vol_create_xml 0"]);
}

#[test]
fn vol_clone_create_from_delete() {
    let fake = Fake::oxh8t(true);
    let mut s = session(&fake);
    // virsh vol-clone a.img a2.img --pool oxh8t
    assert_eq!(
        s.ok("vol-clone a.img a2.img --pool oxh8t"),
        "Vol a2.img cloned from a.img\n\n"
    );
    // the XML virsh sends: the original's, renamed, as libxml2 writes it
    assert_eq!(
        fake.xml(),
        ["<volume type=\"file\">\n  <name>a2.img</name>\n  <key>/tmp/oxh8t-dir/a.img</key>\n  <capacity unit=\"bytes\">10485760</capacity>\n  <target>\n    <format type=\"raw\"/>\n  </target>\n</volume>"]
    );
    // virsh vol-delete a2.img --pool oxh8t
    assert_eq!(
        s.ok("vol-delete a2.img --pool oxh8t"),
        "Vol a2.img deleted\n\n"
    );
    assert_eq!(
        s.ok("vol-delete /tmp/oxh8t-dir/c.img --delete-snapshots"),
        "Vol /tmp/oxh8t-dir/c.img deleted\n\n"
    );
    let dir = std::env::temp_dir().join(format!("oxvirsh-volfrom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("v.xml");
    std::fs::write(&file, "<volume><name>copy.img</name></volume>").unwrap();
    let f = file.display();
    assert_eq!(
        s.ok(&format!(
            "vol-create-from oxh8t {f} a.img --inputpool oxh8t --reflink"
        )),
        "Vol copy.img created from input vol a.img\n\n"
    );
    assert_eq!(
        s.ok(&format!("vol-create oxh8t {f} --prealloc-metadata")),
        format!("Vol copy.img created from {f}\n\n")
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        fake.calls(),
        [
            "vol_create_xml_from a.img 0",
            "vol_delete a2.img 0",
            "vol_delete c.img 2",
            "vol_create_xml_from a.img 2",
            "vol_create_xml 1",
        ]
    );
}

#[test]
fn clone_xml_is_written_as_libxml2_writes_it() {
    // virsh vol-clone a.img a3.img --pool oxh8t --print-xml (abridged: the same document
    // shape, attribute values in double quotes, no final newline)
    let orig = "<volume type='file'>\n  <name>a.img</name>\n  <capacity unit='bytes'>22020096</capacity>\n  <target>\n    <format type='raw'/>\n  </target>\n</volume>\n";
    assert_eq!(
        clone_xml(orig, "a3.img").unwrap(),
        "<volume type=\"file\">\n  <name>a3.img</name>\n  <capacity unit=\"bytes\">22020096</capacity>\n  <target>\n    <format type=\"raw\"/>\n  </target>\n</volume>"
    );
    assert_eq!(
        clone_xml("<volume a='x&apos;\"y'><name>n</name></volume>", "a&b").unwrap(),
        "<volume a=\"x'&quot;y\"><name>a&amp;b</name></volume>"
    );
    assert!(clone_xml("<pool/>", "x").is_none());
}

#[test]
fn vol_resize_and_wipe() {
    let fake = Fake::oxh8t(true);
    let mut s = session(&fake);
    // virsh vol-resize a.img 20M --pool oxh8t / --delta / shrinking below the allocation
    assert_eq!(
        s.ok("vol-resize a.img 20M --pool oxh8t"),
        "Size of volume 'a.img' successfully changed to 20M\n\n"
    );
    assert_eq!(
        s.ok("vol-resize a.img 1M --pool oxh8t --delta"),
        "Size of volume 'a.img' successfully changed by 1M\n\n"
    );
    assert_eq!(
        s.run("vol-resize a.img 1M --pool oxh8t"),
        failed("error: Failed to change size of volume 'a.img' to 1M\nerror: invalid argument: can't shrink capacity below existing allocation\n")
    );
    // virsh vol-resize a.img -1M --pool oxh8t / vol-resize a.img xyz --pool oxh8t
    assert_eq!(
        s.run("vol-resize a.img -1M --pool oxh8t"),
        failed("error: negative size requires --shrink\n")
    );
    assert_eq!(
        s.run("vol-resize a.img xyz --pool oxh8t"),
        failed("error: Malformed size xyz\n")
    );
    assert_eq!(
        s.ok("vol-resize a.img -1M --pool oxh8t --shrink --allocate"),
        "Size of volume 'a.img' successfully changed by 1M\n\n"
    );
    // virsh vol-wipe a.img --pool oxh8t [--algorithm zero|bogus]
    assert_eq!(s.ok("vol-wipe a.img --pool oxh8t"), "Vol a.img wiped\n\n");
    assert_eq!(
        s.ok("vol-wipe a.img --pool oxh8t --algorithm random"),
        "Vol a.img wiped\n\n"
    );
    assert_eq!(
        s.run("vol-wipe a.img --pool oxh8t --algorithm bogus"),
        failed("error: Unsupported algorithm 'bogus'\n")
    );
    assert_eq!(
        fake.calls(),
        [
            "vol_resize a.img 20971520 0",
            "vol_resize a.img 1048576 2",
            "vol_resize a.img 1048576 0",
            "vol_resize a.img 1048576 7",
            "vol_wipe a.img 0 0",
            "vol_wipe a.img 8 0",
        ]
    );
}

#[test]
fn vol_upload_then_download_keeps_content_and_holes() {
    let fake = Fake::oxh8t(true);
    let mut s = session(&fake);
    let dir = std::env::temp_dir().join(format!("oxvirsh-transfer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("src.bin");
    let mut content = b"head".to_vec();
    content.resize(1 << 20, 0);
    content.extend_from_slice(b"tail");
    std::fs::write(&src, &content).unwrap();
    assert_eq!(
        s.ok(&format!("vol-upload a.img {} --pool oxh8t", src.display())),
        "\n"
    );
    assert_eq!(fake.state.lock().unwrap().pools[0].vols[0].data, content);
    // sparse: the same bytes arrive
    fake.state.lock().unwrap().pools[0].vols[0].data.clear();
    s.ok(&format!(
        "vol-upload a.img {} --pool oxh8t --sparse",
        src.display()
    ));
    assert_eq!(fake.state.lock().unwrap().pools[0].vols[0].data, content);

    let dst = dir.join("dst.bin");
    // virsh vol-download a.img --pool oxh8t FILE --offset 1 --length 10: prints nothing
    assert_eq!(
        s.ok(&format!(
            "vol-download a.img {} --pool oxh8t --offset 1 --length 10",
            dst.display()
        )),
        "\n"
    );
    assert_eq!(std::fs::read(&dst).unwrap(), b"ead\0\0\0\0\0\0\0");
    s.ok(&format!(
        "vol-download a.img {} --pool oxh8t --sparse",
        dst.display()
    ));
    assert_eq!(std::fs::read(&dst).unwrap(), content);
    assert_eq!(
        fake.calls(),
        [
            "vol_upload 0 0 0",
            "vol_upload 0 0 1",
            "vol_download 1 10 0",
            "vol_download 0 0 1",
        ]
    );
    // virsh vol-upload a.img --pool oxh8t /tmp/oxcap/nonexist
    let missing = dir.join("nonexist");
    assert_eq!(
        s.run(&format!(
            "vol-upload a.img {} --pool oxh8t",
            missing.display()
        )),
        failed(&format!("error: cannot read {}\n", missing.display()))
    );
    // virsh vol-download a.img --pool oxh8t FILE --offset x
    assert_eq!(
        s.run(&format!(
            "vol-download a.img {} --pool oxh8t --offset x",
            dst.display()
        )),
        failed("error: Numeric value 'x' for <offset> option is malformed or out of range\n")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn pool_events() {
    let fake = Fake::oxh8t(false);
    let mut s = session(&fake);
    // virsh pool-event --list / pool-event / pool-event --event bogus
    assert_eq!(s.ok("pool-event --list"), "lifecycle\nrefresh\n\n");
    assert_eq!(
        s.run("pool-event"),
        failed("error: either --list or --event <type> is required\n")
    );
    assert_eq!(
        s.run("pool-event --event bogus"),
        failed("error: unknown event type bogus\n")
    );
    // virsh pool-event --event refresh --timeout 1 (nothing happens)
    let o = s.run("pool-event --event refresh --timeout 1");
    assert_eq!(o.out, "event loop timed out\nevents received: 0\n\n");
    assert!(!o.ok);
    // virsh pool-event --event lifecycle: an event that comes while it waits
    let pool = PoolRef {
        name: "oxh8t".into(),
        uuid: Uuid::try_parse(UUID).unwrap(),
    };
    let emitter = fake.clone();
    let (p1, p2) = (pool.clone(), pool.clone());
    s.rt.spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        emitter.bus.emit(PoolEvent::refresh(&p1));
        emitter
            .bus
            .emit(PoolEvent::lifecycle(&p2, PoolEventKind::Started));
    });
    assert_eq!(
        s.ok("pool-event --event lifecycle --pool oxh8t --timeout 5"),
        "event 'lifecycle' for storage pool oxh8t: Started\nevents received: 1\n\n"
    );
    assert_eq!(
        super::event_line(&PoolEvent::refresh(&pool)),
        "event 'refresh' for storage pool oxh8t\n"
    );
    // the refresh event is what --event refresh waits for
    let emitter = fake.clone();
    s.rt.spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        emitter
            .bus
            .emit(PoolEvent::lifecycle(&pool, PoolEventKind::Stopped));
        emitter.bus.emit(PoolEvent::refresh(&pool));
    });
    assert_eq!(
        s.ok("pool-event --event refresh --timeout 5"),
        "event 'refresh' for storage pool oxh8t\nevents received: 1\n\n"
    );
}
