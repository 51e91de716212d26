//! libvirt's remote RPC wire protocol, as libvirt 9.0's clients and daemon speak it.
//!
//! - [`xdr`]: XDR (RFC 4506) encoding and bounds-checked decoding, plus `#[derive(Xdr)]`.
//! - [`packet`]: the length word, the 24-byte header, and an incremental packet decoder.
//! - [`fds`]: passing file descriptors beside `*_WITH_FDS` packets (unix sockets).
//! - [`error`]: `remote_error`, the body of every failed reply, and its mapping to
//!   [`oxvirt_xml::VirError`].
//! - [`procedures`]: REMOTE and KEEPALIVE procedure numbers and names.
//! - [`remote`]: argument/result structs of the 88 core procedures, typed parameters,
//!   event messages.
//! - [`types`]: the object identities shared by many procedures (`remote_nonnull_domain`...).
//!
//! ```
//! use oxvirt_rpc::xdr::{decode_from, encode_to_vec};
//! use oxvirt_rpc::Xdr;
//!
//! /// `remote_domain_get_state_ret`.
//! #[derive(Debug, PartialEq, Xdr)]
//! struct GetStateRet {
//!     state: i32,
//!     reason: i32,
//! }
//!
//! let bytes = encode_to_vec(&GetStateRet { state: 1, reason: 1 });
//! assert_eq!(bytes, [0, 0, 0, 1, 0, 0, 0, 1]);
//! assert_eq!(decode_from(&bytes), Ok(GetStateRet { state: 1, reason: 1 }));
//! ```

// The derive macro names this crate by its absolute path; this makes that path work inside
// the crate too.
extern crate self as oxvirt_rpc;

#[cfg(feature = "domain")]
pub mod convert;
pub mod error;
pub mod fds;
pub mod packet;
pub mod procedures;
pub mod remote;
pub mod stream;
pub mod types;
pub mod xdr;

pub use error::RemoteError;
pub use oxvirt_rpc_derive::Xdr;
pub use packet::{Header, MessageStatus, MessageType, Packet, PacketDecoder, PacketError};
pub use procedures::{KeepaliveProcedure, RemoteProcedure};
pub use xdr::{CharArray, FixedChars, Opaque, Reader, XdrBounded, XdrDecode, XdrEncode, XdrError};
