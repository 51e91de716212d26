//! [`RemoteStorageDriver`]: the storage pool and volume calls of a remote connection, as
//! libvirt's remote driver makes them, pool events, and volume uploads and downloads as
//! streams (sparse ones carry holes as STREAM_HOLE packets).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use oxvirt_rpc::remote::*;
use oxvirt_rpc::types::{NonnullStoragePool, NonnullStorageVol};
use oxvirt_rpc::xdr::{decode_from, encode_to_vec};
use oxvirt_rpc::RemoteProcedure as P;
use oxvirt_storage::api::{
    Chunk, Download, PoolEvent, PoolEventBus, PoolEventKind, PoolEventReceiver, PoolEventWhat,
    PoolInfo, PoolRef, PoolState, Result, StorageDriver, Upload, VolInfo, VolRef, VolType,
    TRANSFER_DEPTH,
};
use oxvirt_xml::types::Uuid;
use tokio::sync::{mpsc, oneshot};

use crate::connection::{Connection, EventMessage};
use crate::driver::RemoteDriver;
use crate::stream::{IncomingStream, Piece};

/// A storage driver whose every call is a REMOTE procedure on a connection (shared with
/// the connection's [`RemoteDriver`]).
pub struct RemoteStorageDriver {
    conn: Connection,
    bus: Arc<PoolEventBus>,
    registered: AtomicBool,
}

impl std::fmt::Debug for RemoteStorageDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteStorageDriver")
            .finish_non_exhaustive()
    }
}

/// A driver pool as it travels.
pub fn pool_wire(pool: &PoolRef) -> NonnullStoragePool {
    NonnullStoragePool {
        name: pool.name.clone(),
        uuid: pool.uuid.into(),
    }
}

/// A wire pool as drivers name it.
pub fn pool_ref(pool: NonnullStoragePool) -> PoolRef {
    PoolRef {
        name: pool.name,
        uuid: Uuid::from(pool.uuid),
    }
}

/// A driver volume as it travels.
pub fn vol_wire(vol: &VolRef) -> NonnullStorageVol {
    NonnullStorageVol {
        pool: vol.pool.clone(),
        name: vol.name.clone(),
        key: vol.key.clone(),
    }
}

/// A wire volume as drivers name it.
pub fn vol_ref(vol: NonnullStorageVol) -> VolRef {
    VolRef {
        pool: vol.pool,
        name: vol.name,
        key: vol.key,
    }
}

/// `virStoragePoolState` from its number (unknown ones read as inactive).
fn pool_state(n: u8) -> PoolState {
    match n {
        1 => PoolState::Building,
        2 => PoolState::Running,
        3 => PoolState::Degraded,
        4 => PoolState::Inaccessible,
        _ => PoolState::Inactive,
    }
}

/// `virStorageVolType` from its number (unknown ones read as files).
fn vol_type(n: i8) -> VolType {
    match n {
        1 => VolType::Block,
        2 => VolType::Dir,
        3 => VolType::Network,
        4 => VolType::Netdir,
        5 => VolType::Ploop,
        _ => VolType::File,
    }
}

/// The pool event a STORAGE_POOL_EVENT_LIFECYCLE (370) or STORAGE_POOL_EVENT_REFRESH (373)
/// message carries; `None` for anything else.
pub fn decode_pool_event(msg: &EventMessage) -> Option<PoolEvent> {
    if msg.procedure == P::StoragePoolEventRefresh.number() {
        let m: StoragePoolEventRefreshMsg = decode_from(&msg.payload).ok()?;
        return Some(PoolEvent::refresh(&pool_ref(m.pool)));
    }
    if msg.procedure != P::StoragePoolEventLifecycle.number() {
        return None;
    }
    let m: StoragePoolEventLifecycleMsg = decode_from(&msg.payload).ok()?;
    let kind = match m.event {
        0 => PoolEventKind::Defined,
        1 => PoolEventKind::Undefined,
        2 => PoolEventKind::Started,
        3 => PoolEventKind::Stopped,
        4 => PoolEventKind::Created,
        5 => PoolEventKind::Deleted,
        _ => return None,
    };
    Some(PoolEvent {
        pool: pool_ref(m.pool),
        what: PoolEventWhat::Lifecycle(kind),
    })
}

impl RemoteDriver {
    /// The storage calls of this connection.
    pub fn storage_driver(&self) -> RemoteStorageDriver {
        RemoteStorageDriver::new(self.conn.clone())
    }
}

impl RemoteStorageDriver {
    /// The storage calls of `conn`.
    pub fn new(conn: Connection) -> Self {
        RemoteStorageDriver {
            conn,
            bus: Arc::new(PoolEventBus::new()),
            registered: AtomicBool::new(false),
        }
    }

    /// Queues CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY for lifecycle and refresh events of
    /// every pool; once the daemon answers with a callback ID, its messages feed the bus.
    fn register_events(&self) {
        for event_id in [
            STORAGE_POOL_EVENT_ID_LIFECYCLE,
            STORAGE_POOL_EVENT_ID_REFRESH,
        ] {
            let args = ConnectStoragePoolEventRegisterAnyArgs {
                event_id,
                pool: None,
            };
            let bus = Arc::clone(&self.bus);
            self.conn.forward_events(
                P::ConnectStoragePoolEventRegisterAny,
                &args,
                decode_pool_event,
                move |e| bus.emit(e),
            );
        }
    }

    async fn call<A, R>(&self, p: P, args: &A) -> Result<R>
    where
        A: oxvirt_rpc::XdrEncode,
        R: oxvirt_rpc::XdrDecode,
    {
        self.conn.call(p, args).await
    }

    async fn void_call<A: oxvirt_rpc::XdrEncode>(&self, p: P, args: &A) -> Result<()> {
        self.conn.call::<A, ()>(p, args).await
    }

    /// A call whose arguments are only the pool and whose reply is one int: true when it
    /// is not 0.
    async fn pool_bool(&self, p: P, pool: &PoolRef) -> Result<bool> {
        let r: crate::msgs::IntRet = self.call(p, &pool_wire(pool)).await?;
        Ok(r.value != 0)
    }

    /// A call whose arguments are the pool and the flags, and whose reply is empty.
    async fn pool_flags(&self, p: P, pool: &PoolRef, flags: u32) -> Result<()> {
        let args = StoragePoolBuildArgs {
            pool: pool_wire(pool),
            flags,
        };
        self.void_call(p, &args).await
    }

    /// Opens stream procedure 208 or 209 on `vol`.
    async fn open_transfer(
        &self,
        p: P,
        vol: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
    ) -> Result<IncomingStream> {
        let args = StorageVolDownloadArgs {
            vol: vol_wire(vol),
            offset,
            length,
            flags,
        };
        let (_, stream) = self
            .conn
            .call_stream(p.number(), encode_to_vec(&args))
            .await?;
        Ok(stream)
    }
}

/// Feeds a download's pieces to `tx`, then finishes the stream; an error (the daemon's
/// abort) ends the download. A receiver that goes away aborts the stream.
async fn run_download(mut stream: IncomingStream, tx: mpsc::Sender<Result<Chunk>>) {
    loop {
        let chunk = match stream.recv_piece().await {
            Ok(Some(Piece::Data(bytes))) => Chunk::Data(bytes),
            Ok(Some(Piece::Hole(len))) => Chunk::Hole(len),
            Ok(None) => break,
            Err(err) => {
                let _ = tx.send(Err(err)).await;
                return;
            }
        };
        if tx.send(Ok(chunk)).await.is_err() {
            let _ = stream.abort().await;
            return;
        }
    }
    if let Err(err) = stream.finish().await {
        let _ = tx.send(Err(err)).await;
    }
}

/// Sends the upload's chunks as the stream, then finishes it once the sender is dropped;
/// the outcome (the daemon's confirmation or error) goes to `done`.
async fn run_upload(
    mut stream: IncomingStream,
    mut rx: mpsc::Receiver<Chunk>,
    done: oneshot::Sender<Result<()>>,
) {
    loop {
        let chunk = tokio::select! {
            chunk = rx.recv() => chunk,
            err = stream.aborted() => {
                let _ = done.send(Err(err));
                return;
            }
        };
        let sent = match chunk {
            Some(Chunk::Data(bytes)) => stream.send_data(&bytes),
            Some(Chunk::Hole(len)) => stream.send_hole(len),
            None => break,
        };
        if let Err(err) = sent {
            let _ = done.send(Err(err));
            return;
        }
    }
    let _ = done.send(stream.finish().await);
}

#[async_trait]
impl StorageDriver for RemoteStorageDriver {
    fn subscribe(&self) -> PoolEventReceiver {
        let rx = self.bus.subscribe();
        if !self.registered.swap(true, Ordering::SeqCst) {
            self.register_events();
        }
        rx
    }

    async fn list_all_pools(&self, flags: u32) -> Result<Vec<PoolRef>> {
        let args = ConnectListAllStoragePoolsArgs {
            need_results: 1,
            flags,
        };
        let r: ConnectListAllStoragePoolsRet =
            self.call(P::ConnectListAllStoragePools, &args).await?;
        Ok(r.pools.into_iter().map(pool_ref).collect())
    }

    async fn find_pool_sources(
        &self,
        pool_type: &str,
        spec: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        let args = ConnectFindStoragePoolSourcesArgs {
            r#type: pool_type.to_owned(),
            src_spec: spec.map(str::to_owned),
            flags,
        };
        let r: ConnectFindStoragePoolSourcesRet =
            self.call(P::ConnectFindStoragePoolSources, &args).await?;
        Ok(r.xml)
    }

    async fn pool_lookup_by_name(&self, name: &str) -> Result<PoolRef> {
        let args = StoragePoolLookupByNameArgs {
            name: name.to_owned(),
        };
        let r: StoragePoolLookupByNameRet = self.call(P::StoragePoolLookupByName, &args).await?;
        Ok(pool_ref(r.pool))
    }

    async fn pool_lookup_by_uuid(&self, uuid: &Uuid) -> Result<PoolRef> {
        let args = StoragePoolLookupByUuidArgs {
            uuid: (*uuid).into(),
        };
        let r: StoragePoolLookupByUuidRet = self.call(P::StoragePoolLookupByUuid, &args).await?;
        Ok(pool_ref(r.pool))
    }

    async fn pool_lookup_by_volume(&self, vol: &VolRef) -> Result<PoolRef> {
        let args = StoragePoolLookupByVolumeArgs { vol: vol_wire(vol) };
        let r: StoragePoolLookupByVolumeRet =
            self.call(P::StoragePoolLookupByVolume, &args).await?;
        Ok(pool_ref(r.pool))
    }

    async fn pool_lookup_by_target_path(&self, path: &str) -> Result<PoolRef> {
        let args = StoragePoolLookupByTargetPathArgs {
            path: path.to_owned(),
        };
        let r: StoragePoolLookupByTargetPathRet =
            self.call(P::StoragePoolLookupByTargetPath, &args).await?;
        Ok(pool_ref(r.pool))
    }

    async fn pool_define_xml(&self, xml: &str, flags: u32) -> Result<PoolRef> {
        let args = StoragePoolDefineXmlArgs {
            xml: xml.to_owned(),
            flags,
        };
        let r: StoragePoolDefineXmlRet = self.call(P::StoragePoolDefineXml, &args).await?;
        Ok(pool_ref(r.pool))
    }

    async fn pool_create_xml(&self, xml: &str, flags: u32) -> Result<PoolRef> {
        let args = StoragePoolCreateXmlArgs {
            xml: xml.to_owned(),
            flags,
        };
        let r: StoragePoolCreateXmlRet = self.call(P::StoragePoolCreateXml, &args).await?;
        Ok(pool_ref(r.pool))
    }

    async fn pool_build(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        self.pool_flags(P::StoragePoolBuild, pool, flags).await
    }

    async fn pool_create(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        self.pool_flags(P::StoragePoolCreate, pool, flags).await
    }

    async fn pool_destroy(&self, pool: &PoolRef) -> Result<()> {
        self.void_call(P::StoragePoolDestroy, &pool_wire(pool))
            .await
    }

    async fn pool_delete(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        self.pool_flags(P::StoragePoolDelete, pool, flags).await
    }

    async fn pool_undefine(&self, pool: &PoolRef) -> Result<()> {
        self.void_call(P::StoragePoolUndefine, &pool_wire(pool))
            .await
    }

    async fn pool_refresh(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        self.pool_flags(P::StoragePoolRefresh, pool, flags).await
    }

    async fn pool_info(&self, pool: &PoolRef) -> Result<PoolInfo> {
        let r: StoragePoolGetInfoRet = self.call(P::StoragePoolGetInfo, &pool_wire(pool)).await?;
        Ok(PoolInfo {
            state: pool_state(r.state),
            capacity: r.capacity,
            allocation: r.allocation,
            available: r.available,
        })
    }

    async fn pool_xml_desc(&self, pool: &PoolRef, flags: u32) -> Result<String> {
        let args = StoragePoolGetXmlDescArgs {
            pool: pool_wire(pool),
            flags,
        };
        let r: StoragePoolGetXmlDescRet = self.call(P::StoragePoolGetXmlDesc, &args).await?;
        Ok(r.xml)
    }

    async fn pool_autostart(&self, pool: &PoolRef) -> Result<bool> {
        self.pool_bool(P::StoragePoolGetAutostart, pool).await
    }

    async fn pool_set_autostart(&self, pool: &PoolRef, autostart: bool) -> Result<()> {
        let args = StoragePoolSetAutostartArgs {
            pool: pool_wire(pool),
            autostart: i32::from(autostart),
        };
        self.void_call(P::StoragePoolSetAutostart, &args).await
    }

    async fn pool_is_active(&self, pool: &PoolRef) -> Result<bool> {
        self.pool_bool(P::StoragePoolIsActive, pool).await
    }

    async fn pool_is_persistent(&self, pool: &PoolRef) -> Result<bool> {
        self.pool_bool(P::StoragePoolIsPersistent, pool).await
    }

    async fn pool_list_volumes(&self, pool: &PoolRef) -> Result<Vec<VolRef>> {
        let args = StoragePoolListAllVolumesArgs {
            pool: pool_wire(pool),
            need_results: 1,
            flags: 0,
        };
        let r: StoragePoolListAllVolumesRet =
            self.call(P::StoragePoolListAllVolumes, &args).await?;
        Ok(r.vols.into_iter().map(vol_ref).collect())
    }

    async fn vol_lookup_by_name(&self, pool: &PoolRef, name: &str) -> Result<VolRef> {
        let args = StorageVolLookupByNameArgs {
            pool: pool_wire(pool),
            name: name.to_owned(),
        };
        let r: StorageVolLookupByNameRet = self.call(P::StorageVolLookupByName, &args).await?;
        Ok(vol_ref(r.vol))
    }

    async fn vol_lookup_by_key(&self, key: &str) -> Result<VolRef> {
        let args = StorageVolLookupByKeyArgs {
            key: key.to_owned(),
        };
        let r: StorageVolLookupByKeyRet = self.call(P::StorageVolLookupByKey, &args).await?;
        Ok(vol_ref(r.vol))
    }

    async fn vol_lookup_by_path(&self, path: &str) -> Result<VolRef> {
        let args = StorageVolLookupByPathArgs {
            path: path.to_owned(),
        };
        let r: StorageVolLookupByPathRet = self.call(P::StorageVolLookupByPath, &args).await?;
        Ok(vol_ref(r.vol))
    }

    async fn vol_create_xml(&self, pool: &PoolRef, xml: &str, flags: u32) -> Result<VolRef> {
        let args = StorageVolCreateXmlArgs {
            pool: pool_wire(pool),
            xml: xml.to_owned(),
            flags,
        };
        let r: StorageVolCreateXmlRet = self.call(P::StorageVolCreateXml, &args).await?;
        Ok(vol_ref(r.vol))
    }

    async fn vol_create_xml_from(
        &self,
        pool: &PoolRef,
        xml: &str,
        from: &VolRef,
        flags: u32,
    ) -> Result<VolRef> {
        let args = StorageVolCreateXmlFromArgs {
            pool: pool_wire(pool),
            xml: xml.to_owned(),
            clonevol: vol_wire(from),
            flags,
        };
        let r: StorageVolCreateXmlFromRet = self.call(P::StorageVolCreateXmlFrom, &args).await?;
        Ok(vol_ref(r.vol))
    }

    async fn vol_delete(&self, vol: &VolRef, flags: u32) -> Result<()> {
        let args = StorageVolDeleteArgs {
            vol: vol_wire(vol),
            flags,
        };
        self.void_call(P::StorageVolDelete, &args).await
    }

    async fn vol_wipe(&self, vol: &VolRef, algorithm: u32, flags: u32) -> Result<()> {
        // libvirt's virStorageVolWipe is the zero pattern: it travels as procedure 165.
        if algorithm == oxvirt_storage::api::WipeAlgorithm::Zero as u32 {
            let args = StorageVolWipeArgs {
                vol: vol_wire(vol),
                flags,
            };
            return self.void_call(P::StorageVolWipe, &args).await;
        }
        let args = StorageVolWipePatternArgs {
            vol: vol_wire(vol),
            algorithm,
            flags,
        };
        self.void_call(P::StorageVolWipePattern, &args).await
    }

    async fn vol_wipe_pattern(&self, vol: &VolRef, algorithm: u32, flags: u32) -> Result<()> {
        let args = StorageVolWipePatternArgs {
            vol: vol_wire(vol),
            algorithm,
            flags,
        };
        self.void_call(P::StorageVolWipePattern, &args).await
    }

    async fn vol_resize(&self, vol: &VolRef, capacity: u64, flags: u32) -> Result<()> {
        let args = StorageVolResizeArgs {
            vol: vol_wire(vol),
            capacity,
            flags,
        };
        self.void_call(P::StorageVolResize, &args).await
    }

    async fn vol_info(&self, vol: &VolRef, flags: u32) -> Result<VolInfo> {
        let r: StorageVolGetInfoRet = if flags == 0 {
            let args = StorageVolGetInfoArgs { vol: vol_wire(vol) };
            self.call(P::StorageVolGetInfo, &args).await?
        } else {
            let args = StorageVolGetInfoFlagsArgs {
                vol: vol_wire(vol),
                flags,
            };
            self.call(P::StorageVolGetInfoFlags, &args).await?
        };
        Ok(VolInfo {
            kind: vol_type(r.r#type),
            capacity: r.capacity,
            allocation: r.allocation,
        })
    }

    async fn vol_info_flags(&self, vol: &VolRef, flags: u32) -> Result<VolInfo> {
        let args = StorageVolGetInfoFlagsArgs {
            vol: vol_wire(vol),
            flags,
        };
        let r: StorageVolGetInfoRet = self.call(P::StorageVolGetInfoFlags, &args).await?;
        Ok(VolInfo {
            kind: vol_type(r.r#type),
            capacity: r.capacity,
            allocation: r.allocation,
        })
    }

    async fn vol_xml_desc(&self, vol: &VolRef, flags: u32) -> Result<String> {
        let args = StorageVolGetXmlDescArgs {
            vol: vol_wire(vol),
            flags,
        };
        let r: StorageVolGetXmlDescRet = self.call(P::StorageVolGetXmlDesc, &args).await?;
        Ok(r.xml)
    }

    async fn vol_path(&self, vol: &VolRef) -> Result<String> {
        let args = StorageVolGetPathArgs { vol: vol_wire(vol) };
        let r: StorageVolGetPathRet = self.call(P::StorageVolGetPath, &args).await?;
        Ok(r.name)
    }

    async fn vol_download(
        &self,
        vol: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
    ) -> Result<Download> {
        let stream = self
            .open_transfer(P::StorageVolDownload, vol, offset, length, flags)
            .await?;
        let (tx, rx) = mpsc::channel(TRANSFER_DEPTH);
        tokio::spawn(run_download(stream, tx));
        Ok(Download { chunks: rx })
    }

    async fn vol_upload(
        &self,
        vol: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
    ) -> Result<Upload> {
        let stream = self
            .open_transfer(P::StorageVolUpload, vol, offset, length, flags)
            .await?;
        let (tx, rx) = mpsc::channel(TRANSFER_DEPTH);
        let (done_tx, done) = oneshot::channel();
        tokio::spawn(run_upload(stream, rx, done_tx));
        Ok(Upload { chunks: tx, done })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(procedure: P, payload: Vec<u8>) -> EventMessage {
        EventMessage {
            procedure: procedure.number(),
            payload,
        }
    }

    #[test]
    fn pool_messages_become_pool_events() {
        let pool = NonnullStoragePool {
            name: "default".into(),
            uuid: [4; 16],
        };
        let msg = StoragePoolEventLifecycleMsg {
            callback_id: 1,
            pool: pool.clone(),
            event: 4,
            detail: 0,
        };
        let got = decode_pool_event(&message(P::StoragePoolEventLifecycle, encode_to_vec(&msg)));
        let want = PoolRef {
            name: "default".into(),
            uuid: Uuid::from([4; 16]),
        };
        assert_eq!(
            got,
            Some(PoolEvent::lifecycle(&want, PoolEventKind::Created))
        );
        let msg = StoragePoolEventRefreshMsg {
            callback_id: 2,
            pool,
        };
        let got = decode_pool_event(&message(P::StoragePoolEventRefresh, encode_to_vec(&msg)));
        assert_eq!(got, Some(PoolEvent::refresh(&want)));
        assert_eq!(
            decode_pool_event(&message(P::NetworkEventLifecycle, encode_to_vec(&msg))),
            None
        );
        let bad = StoragePoolEventLifecycleMsg {
            callback_id: 1,
            pool: pool_wire(&want),
            event: 9,
            detail: 0,
        };
        assert_eq!(
            decode_pool_event(&message(P::StoragePoolEventLifecycle, encode_to_vec(&bad))),
            None
        );
    }

    #[test]
    fn states_and_types_from_their_numbers() {
        assert_eq!(pool_state(2), PoolState::Running);
        assert_eq!(pool_state(4), PoolState::Inaccessible);
        assert_eq!(pool_state(0), PoolState::Inactive);
        assert_eq!(vol_type(1), VolType::Block);
        assert_eq!(vol_type(4), VolType::Netdir);
        assert_eq!(vol_type(0), VolType::File);
    }
}
