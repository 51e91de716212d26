//! Argument and result structs of the non-core REMOTE procedures the daemon serves
//! (save images, snapshots, memory and vCPUs, devices, metadata, host memory, legacy
//! listing calls), laid out as libvirt 9.0's `remote_protocol.x`. Named
//! `<Procedure>Args` / `<Procedure>Ret` after `REMOTE_PROC_<PROCEDURE>` in CamelCase.

use crate::types::{NonnullDomain, NonnullDomainSnapshot};
use crate::Xdr;

/// `REMOTE_NODE_MAX_CELLS`: the most NUMA cells NODE_GET_CELLS_FREE_MEMORY returns.
pub const NODE_MAX_CELLS: usize = 1024;

/// `remote_connect_get_max_vcpus_args`: the arguments of procedure 5 (`REMOTE_PROC_CONNECT_GET_MAX_VCPUS`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct ConnectGetMaxVcpusArgs {
    /// The guest type, `None` for the default.
    pub r#type: Option<String>,
}

/// `remote_connect_get_max_vcpus_ret`: the result of procedure 5 (`REMOTE_PROC_CONNECT_GET_MAX_VCPUS`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct ConnectGetMaxVcpusRet {
    /// The limit.
    pub max_vcpus: i32,
}

/// `remote_domain_attach_device_args`: the arguments of procedure 8 (`REMOTE_PROC_DOMAIN_ATTACH_DEVICE`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainAttachDeviceArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The XML document.
    pub xml: String,
}

/// `remote_domain_create_xml_args`: the arguments of procedure 10 (`REMOTE_PROC_DOMAIN_CREATE_XML`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainCreateXmlArgs {
    /// The domain XML.
    pub xml_desc: String,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_create_xml_ret`: the result of procedure 10 (`REMOTE_PROC_DOMAIN_CREATE_XML`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainCreateXmlRet {
    /// The domain.
    pub dom: NonnullDomain,
}

/// `remote_domain_detach_device_args`: the arguments of procedure 13 (`REMOTE_PROC_DOMAIN_DETACH_DEVICE`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainDetachDeviceArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The XML document.
    pub xml: String,
}

/// `remote_domain_get_max_memory_args`: the arguments of procedure 17 (`REMOTE_PROC_DOMAIN_GET_MAX_MEMORY`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainGetMaxMemoryArgs {
    /// The domain.
    pub dom: NonnullDomain,
}

/// `remote_domain_get_max_memory_ret`: the result of procedure 17 (`REMOTE_PROC_DOMAIN_GET_MAX_MEMORY`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainGetMaxMemoryRet {
    /// The maximum memory, in KiB.
    pub memory: u64,
}

/// `remote_domain_get_max_vcpus_args`: the arguments of procedure 18 (`REMOTE_PROC_DOMAIN_GET_MAX_VCPUS`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainGetMaxVcpusArgs {
    /// The domain.
    pub dom: NonnullDomain,
}

/// `remote_domain_get_max_vcpus_ret`: the result of procedure 18 (`REMOTE_PROC_DOMAIN_GET_MAX_VCPUS`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainGetMaxVcpusRet {
    /// The most vCPUs the domain may have.
    pub num: i32,
}

/// `remote_connect_list_defined_domains_args`: the arguments of procedure 21 (`REMOTE_PROC_CONNECT_LIST_DEFINED_DOMAINS`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct ConnectListDefinedDomainsArgs {
    /// The most names wanted.
    pub maxnames: i32,
}

/// `remote_connect_list_defined_domains_ret`: the result of procedure 21 (`REMOTE_PROC_CONNECT_LIST_DEFINED_DOMAINS`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct ConnectListDefinedDomainsRet {
    /// The inactive domains' names.
    #[xdr(max = crate::remote::DOMAIN_LIST_MAX)]
    pub names: Vec<String>,
}

/// `remote_connect_num_of_defined_domains_ret`: the result of procedure 25 (`REMOTE_PROC_CONNECT_NUM_OF_DEFINED_DOMAINS`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct ConnectNumOfDefinedDomainsRet {
    /// The count.
    pub num: i32,
}

/// `remote_domain_set_autostart_args`: the arguments of procedure 29 (`REMOTE_PROC_DOMAIN_SET_AUTOSTART`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSetAutostartArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// Non-zero to autostart.
    pub autostart: i32,
}

/// `remote_domain_set_max_memory_args`: the arguments of procedure 30 (`REMOTE_PROC_DOMAIN_SET_MAX_MEMORY`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSetMaxMemoryArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The new maximum, in KiB.
    pub memory: u64,
}

/// `remote_domain_set_memory_args`: the arguments of procedure 31 (`REMOTE_PROC_DOMAIN_SET_MEMORY`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSetMemoryArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The new balloon size, in KiB.
    pub memory: u64,
}

/// `remote_domain_set_vcpus_args`: the arguments of procedure 32 (`REMOTE_PROC_DOMAIN_SET_VCPUS`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSetVcpusArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The vCPU count.
    pub nvcpus: u32,
}

/// `remote_domain_undefine_args`: the arguments of procedure 35 (`REMOTE_PROC_DOMAIN_UNDEFINE`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainUndefineArgs {
    /// The domain.
    pub dom: NonnullDomain,
}

/// `remote_connect_list_domains_args`: the arguments of procedure 37 (`REMOTE_PROC_CONNECT_LIST_DOMAINS`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct ConnectListDomainsArgs {
    /// The most IDs wanted.
    pub maxids: i32,
}

/// `remote_connect_list_domains_ret`: the result of procedure 37 (`REMOTE_PROC_CONNECT_LIST_DOMAINS`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct ConnectListDomainsRet {
    /// The running domains' IDs.
    #[xdr(max = crate::remote::DOMAIN_LIST_MAX)]
    pub ids: Vec<i32>,
}

/// `remote_connect_num_of_domains_ret`: the result of procedure 51 (`REMOTE_PROC_CONNECT_NUM_OF_DOMAINS`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct ConnectNumOfDomainsRet {
    /// The count.
    pub num: i32,
}

/// `remote_node_get_cells_free_memory_args`: the arguments of procedure 101 (`REMOTE_PROC_NODE_GET_CELLS_FREE_MEMORY`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct NodeGetCellsFreeMemoryArgs {
    /// The first NUMA cell.
    pub start_cell: i32,
    /// How many cells.
    pub maxcells: i32,
}

/// `remote_node_get_cells_free_memory_ret`: the result of procedure 101 (`REMOTE_PROC_NODE_GET_CELLS_FREE_MEMORY`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct NodeGetCellsFreeMemoryRet {
    /// Free memory per cell, in bytes.
    #[xdr(max = NODE_MAX_CELLS)]
    pub cells: Vec<u64>,
}

/// `remote_node_get_free_memory_ret`: the result of procedure 102 (`REMOTE_PROC_NODE_GET_FREE_MEMORY`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct NodeGetFreeMemoryRet {
    /// Free memory, in bytes.
    pub free_mem: u64,
}

/// `remote_connect_is_secure_ret`: the result of procedure 149 (`REMOTE_PROC_CONNECT_IS_SECURE`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct ConnectIsSecureRet {
    /// 1 when the transport is secure.
    pub secure: i32,
}

/// `remote_domain_attach_device_flags_args`: the arguments of procedure 160 (`REMOTE_PROC_DOMAIN_ATTACH_DEVICE_FLAGS`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainAttachDeviceFlagsArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The XML document.
    pub xml: String,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_detach_device_flags_args`: the arguments of procedure 161 (`REMOTE_PROC_DOMAIN_DETACH_DEVICE_FLAGS`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainDetachDeviceFlagsArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The XML document.
    pub xml: String,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_update_device_flags_args`: the arguments of procedure 174 (`REMOTE_PROC_DOMAIN_UPDATE_DEVICE_FLAGS`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainUpdateDeviceFlagsArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The XML document.
    pub xml: String,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_managed_save_args`: the arguments of procedure 182 (`REMOTE_PROC_DOMAIN_MANAGED_SAVE`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainManagedSaveArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_managed_save_remove_args`: the arguments of procedure 184 (`REMOTE_PROC_DOMAIN_MANAGED_SAVE_REMOVE`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainManagedSaveRemoveArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_snapshot_list_names_args`: the arguments of procedure 188 (`REMOTE_PROC_DOMAIN_SNAPSHOT_LIST_NAMES`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSnapshotListNamesArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The most names wanted.
    pub maxnames: i32,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_snapshot_list_names_ret`: the result of procedure 188 (`REMOTE_PROC_DOMAIN_SNAPSHOT_LIST_NAMES`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSnapshotListNamesRet {
    /// The names.
    #[xdr(max = crate::remote::DOMAIN_SNAPSHOT_LIST_MAX)]
    pub names: Vec<String>,
}

/// `remote_domain_snapshot_lookup_by_name_args`: the arguments of procedure 189 (`REMOTE_PROC_DOMAIN_SNAPSHOT_LOOKUP_BY_NAME`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSnapshotLookupByNameArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The snapshot's name.
    pub name: String,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_snapshot_lookup_by_name_ret`: the result of procedure 189 (`REMOTE_PROC_DOMAIN_SNAPSHOT_LOOKUP_BY_NAME`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSnapshotLookupByNameRet {
    /// The snapshot.
    pub snap: NonnullDomainSnapshot,
}

/// `remote_domain_has_current_snapshot_args`: the arguments of procedure 190 (`REMOTE_PROC_DOMAIN_HAS_CURRENT_SNAPSHOT`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainHasCurrentSnapshotArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_has_current_snapshot_ret`: the result of procedure 190 (`REMOTE_PROC_DOMAIN_HAS_CURRENT_SNAPSHOT`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainHasCurrentSnapshotRet {
    /// 1 when the domain has a current snapshot.
    pub result: i32,
}

/// `remote_domain_snapshot_current_args`: the arguments of procedure 191 (`REMOTE_PROC_DOMAIN_SNAPSHOT_CURRENT`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSnapshotCurrentArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_snapshot_current_ret`: the result of procedure 191 (`REMOTE_PROC_DOMAIN_SNAPSHOT_CURRENT`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSnapshotCurrentRet {
    /// The snapshot.
    pub snap: NonnullDomainSnapshot,
}

/// `remote_domain_revert_to_snapshot_args`: the arguments of procedure 192 (`REMOTE_PROC_DOMAIN_REVERT_TO_SNAPSHOT`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainRevertToSnapshotArgs {
    /// The snapshot.
    pub snap: NonnullDomainSnapshot,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_snapshot_delete_args`: the arguments of procedure 193 (`REMOTE_PROC_DOMAIN_SNAPSHOT_DELETE`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSnapshotDeleteArgs {
    /// The snapshot.
    pub snap: NonnullDomainSnapshot,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_set_vcpus_flags_args`: the arguments of procedure 199 (`REMOTE_PROC_DOMAIN_SET_VCPUS_FLAGS`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSetVcpusFlagsArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The vCPU count.
    pub nvcpus: u32,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_get_vcpus_flags_args`: the arguments of procedure 200 (`REMOTE_PROC_DOMAIN_GET_VCPUS_FLAGS`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainGetVcpusFlagsArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_get_vcpus_flags_ret`: the result of procedure 200 (`REMOTE_PROC_DOMAIN_GET_VCPUS_FLAGS`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainGetVcpusFlagsRet {
    /// The vCPU count.
    pub num: i32,
}

/// `remote_domain_is_updated_args`: the arguments of procedure 202 (`REMOTE_PROC_DOMAIN_IS_UPDATED`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainIsUpdatedArgs {
    /// The domain.
    pub dom: NonnullDomain,
}

/// `remote_domain_is_updated_ret`: the result of procedure 202 (`REMOTE_PROC_DOMAIN_IS_UPDATED`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainIsUpdatedRet {
    /// 1 when the live definition differs from the persistent one.
    pub updated: i32,
}

/// `remote_domain_set_memory_flags_args`: the arguments of procedure 204 (`REMOTE_PROC_DOMAIN_SET_MEMORY_FLAGS`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSetMemoryFlagsArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The new size, in KiB.
    pub memory: u64,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_save_image_get_xml_desc_args`: the arguments of procedure 235 (`REMOTE_PROC_DOMAIN_SAVE_IMAGE_GET_XML_DESC`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSaveImageGetXmlDescArgs {
    /// The saved image's path.
    pub file: String,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_save_image_get_xml_desc_ret`: the result of procedure 235 (`REMOTE_PROC_DOMAIN_SAVE_IMAGE_GET_XML_DESC`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSaveImageGetXmlDescRet {
    /// The XML document.
    pub xml: String,
}

/// `remote_domain_save_image_define_xml_args`: the arguments of procedure 236 (`REMOTE_PROC_DOMAIN_SAVE_IMAGE_DEFINE_XML`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSaveImageDefineXmlArgs {
    /// The saved image's path.
    pub file: String,
    /// The replacement domain XML.
    pub dxml: String,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_snapshot_get_parent_args`: the arguments of procedure 244 (`REMOTE_PROC_DOMAIN_SNAPSHOT_GET_PARENT`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSnapshotGetParentArgs {
    /// The snapshot.
    pub snap: NonnullDomainSnapshot,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_snapshot_get_parent_ret`: the result of procedure 244 (`REMOTE_PROC_DOMAIN_SNAPSHOT_GET_PARENT`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSnapshotGetParentRet {
    /// The snapshot.
    pub snap: NonnullDomainSnapshot,
}

/// `remote_domain_reset_args`: the arguments of procedure 245 (`REMOTE_PROC_DOMAIN_RESET`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainResetArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_snapshot_num_children_args`: the arguments of procedure 246 (`REMOTE_PROC_DOMAIN_SNAPSHOT_NUM_CHILDREN`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSnapshotNumChildrenArgs {
    /// The snapshot.
    pub snap: NonnullDomainSnapshot,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_snapshot_num_children_ret`: the result of procedure 246 (`REMOTE_PROC_DOMAIN_SNAPSHOT_NUM_CHILDREN`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSnapshotNumChildrenRet {
    /// The count.
    pub num: i32,
}

/// `remote_domain_snapshot_list_children_names_args`: the arguments of procedure 247 (`REMOTE_PROC_DOMAIN_SNAPSHOT_LIST_CHILDREN_NAMES`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSnapshotListChildrenNamesArgs {
    /// The snapshot.
    pub snap: NonnullDomainSnapshot,
    /// The most names wanted.
    pub maxnames: i32,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_snapshot_list_children_names_ret`: the result of procedure 247 (`REMOTE_PROC_DOMAIN_SNAPSHOT_LIST_CHILDREN_NAMES`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSnapshotListChildrenNamesRet {
    /// The names.
    #[xdr(max = crate::remote::DOMAIN_SNAPSHOT_LIST_MAX)]
    pub names: Vec<String>,
}

/// `remote_domain_set_metadata_args`: the arguments of procedure 264 (`REMOTE_PROC_DOMAIN_SET_METADATA`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSetMetadataArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// `virDomainMetadataType`: 0 description, 1 title, 2 element.
    pub r#type: i32,
    /// The new value, `None` to remove it.
    pub metadata: Option<String>,
    /// The XML namespace prefix (element metadata).
    pub key: Option<String>,
    /// The XML namespace URI (element metadata).
    pub uri: Option<String>,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_get_metadata_args`: the arguments of procedure 265 (`REMOTE_PROC_DOMAIN_GET_METADATA`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainGetMetadataArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// `virDomainMetadataType`.
    pub r#type: i32,
    /// The XML namespace URI (element metadata).
    pub uri: Option<String>,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_get_metadata_ret`: the result of procedure 265 (`REMOTE_PROC_DOMAIN_GET_METADATA`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainGetMetadataRet {
    /// The value.
    pub metadata: String,
}

/// `remote_domain_snapshot_is_current_args`: the arguments of procedure 271 (`REMOTE_PROC_DOMAIN_SNAPSHOT_IS_CURRENT`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSnapshotIsCurrentArgs {
    /// The snapshot.
    pub snap: NonnullDomainSnapshot,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_snapshot_is_current_ret`: the result of procedure 271 (`REMOTE_PROC_DOMAIN_SNAPSHOT_IS_CURRENT`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSnapshotIsCurrentRet {
    /// 1 when the snapshot is the current one.
    pub current: i32,
}

/// `remote_domain_snapshot_has_metadata_args`: the arguments of procedure 272 (`REMOTE_PROC_DOMAIN_SNAPSHOT_HAS_METADATA`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSnapshotHasMetadataArgs {
    /// The snapshot.
    pub snap: NonnullDomainSnapshot,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_snapshot_has_metadata_ret`: the result of procedure 272 (`REMOTE_PROC_DOMAIN_SNAPSHOT_HAS_METADATA`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSnapshotHasMetadataRet {
    /// 1 when the snapshot has metadata.
    pub metadata: i32,
}

/// `remote_domain_snapshot_list_all_children_args`: the arguments of procedure 275 (`REMOTE_PROC_DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSnapshotListAllChildrenArgs {
    /// The parent snapshot.
    pub snapshot: NonnullDomainSnapshot,
    /// 0 asks only for the count; non-zero asks for the list too.
    pub need_results: i32,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_snapshot_list_all_children_ret`: the result of procedure 275 (`REMOTE_PROC_DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainSnapshotListAllChildrenRet {
    /// The children.
    #[xdr(max = crate::remote::DOMAIN_SNAPSHOT_LIST_MAX)]
    pub snapshots: Vec<NonnullDomainSnapshot>,
    /// How many objects matched.
    pub ret: i32,
}

/// `remote_domain_managed_save_get_xml_desc_args`: the arguments of procedure 388 (`REMOTE_PROC_DOMAIN_MANAGED_SAVE_GET_XML_DESC`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainManagedSaveGetXmlDescArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}

/// `remote_domain_managed_save_get_xml_desc_ret`: the result of procedure 388 (`REMOTE_PROC_DOMAIN_MANAGED_SAVE_GET_XML_DESC`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainManagedSaveGetXmlDescRet {
    /// The XML document.
    pub xml: String,
}

/// `remote_domain_managed_save_define_xml_args`: the arguments of procedure 389 (`REMOTE_PROC_DOMAIN_MANAGED_SAVE_DEFINE_XML`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainManagedSaveDefineXmlArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The replacement domain XML.
    pub dxml: Option<String>,
    /// The call's flags (libvirt's `unsigned int flags`).
    pub flags: u32,
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::xdr::{decode_from, encode_to_vec};

    #[test]
    fn list_ids_layout() {
        let bytes = encode_to_vec(&ConnectListDomainsRet { ids: vec![1, 7] });
        assert_eq!(bytes, [0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 7]);
    }

    #[test]
    fn max_vcpus_args_optional_string() {
        let args: ConnectGetMaxVcpusArgs = decode_from(&[0, 0, 0, 0]).unwrap();
        assert_eq!(args.r#type, None);
        let args: ConnectGetMaxVcpusArgs =
            decode_from(&[0, 0, 0, 1, 0, 0, 0, 3, b'k', b'v', b'm', 0]).unwrap();
        assert_eq!(args.r#type.as_deref(), Some("kvm"));
    }

    fn dom() -> NonnullDomain {
        NonnullDomain {
            name: "t".into(),
            uuid: [9; 16],
            id: -1,
        }
    }

    /// `{dom; int type; string* metadata; string* key; string* uri; u32 flags}`.
    #[test]
    fn set_metadata_layout() {
        let bytes = encode_to_vec(&DomainSetMetadataArgs {
            dom: dom(),
            r#type: 2,
            metadata: Some("<a/>".into()),
            key: None,
            uri: Some("u".into()),
            flags: 3,
        });
        let mut want = vec![0, 0, 0, 1, b't', 0, 0, 0];
        want.extend([9; 16]);
        want.extend([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2]);
        want.extend([0, 0, 0, 1, 0, 0, 0, 4, b'<', b'a', b'/', b'>']);
        want.extend([0, 0, 0, 0]);
        want.extend([0, 0, 0, 1, 0, 0, 0, 1, b'u', 0, 0, 0]);
        want.extend([0, 0, 0, 3]);
        assert_eq!(bytes, want);
        assert_eq!(
            decode_from::<DomainSetMetadataArgs>(&bytes)
                .unwrap()
                .uri
                .as_deref(),
            Some("u")
        );
    }

    /// `{snapshots<>; int ret}`, and the decoder's bound.
    #[test]
    fn list_all_children_layout_and_bound() {
        let snap = NonnullDomainSnapshot {
            name: "s".into(),
            dom: dom(),
        };
        let bytes = encode_to_vec(&DomainSnapshotListAllChildrenRet {
            snapshots: vec![snap.clone()],
            ret: 1,
        });
        assert_eq!(&bytes[..4], [0, 0, 0, 1]);
        assert_eq!(&bytes[bytes.len() - 4..], [0, 0, 0, 1]);
        let back: DomainSnapshotListAllChildrenRet = decode_from(&bytes).unwrap();
        assert_eq!(back.snapshots, vec![snap]);
        let too_many = [0x00, 0x00, 0x40, 0x01];
        assert!(decode_from::<DomainSnapshotListAllChildrenRet>(&too_many).is_err());
    }

    /// `unsigned hyper` memory between the domain and the flags.
    #[test]
    fn set_memory_flags_layout() {
        let bytes = encode_to_vec(&DomainSetMemoryFlagsArgs {
            dom: dom(),
            memory: 0x1_0000_0002,
            flags: 4,
        });
        assert_eq!(
            &bytes[bytes.len() - 12..],
            [0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 4]
        );
    }
}

/// `remote_connect_get_sysinfo_args`: the arguments of procedure 203 (`REMOTE_PROC_CONNECT_GET_SYSINFO`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct ConnectGetSysinfoArgs {
    /// No flags are defined.
    pub flags: u32,
}

/// `remote_connect_get_sysinfo_ret`: the result of procedure 203 (`REMOTE_PROC_CONNECT_GET_SYSINFO`).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct ConnectGetSysinfoRet {
    /// The `<sysinfo>` XML.
    pub sysinfo: String,
}
