//! The permissions each REMOTE procedure needs, as libvirt 9.0 declares them in
//! `remote_protocol.x` (`@acl:` and `@aclfilter:` annotations): `object:permission`,
//! some only when a flag is set (`domain:read_secure` with `VIR_DOMAIN_XML_SECURE`) or when
//! none of some flags are (`domain:save` unless `VIR_DOMAIN_AFFECT_CONFIG|LIVE` says
//! otherwise), one when an argument has a value (`domain:write` for interface addresses
//! from the guest agent).
//!
//! Each line below is `NUMBERS: ACL... [| FILTER]`; an ACL is `object:permission`,
//! optionally `?MASK` (required when `flags & MASK != 0`), `?!MASK` (required when
//! `flags & MASK == 0`) or `?arg=VALUE` (required when the argument before `flags`
//! equals VALUE). Every such procedure's arguments end with `unsigned int flags` (and
//! the conditional argument just before it), which [`Call::flags`] relies on.

use std::sync::OnceLock;

/// When a permission is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Always.
    Always,
    /// When `flags & mask != 0`.
    AnyFlag(u32),
    /// When `flags & mask == 0`.
    NoFlag(u32),
    /// When the argument before `flags` equals the value.
    Arg(u32),
}

/// One permission a procedure requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    /// `object:permission`, as libvirt names it (`domain:start`).
    pub operation: &'static str,
    /// When it applies.
    pub when: When,
}

impl Requirement {
    /// The object half (`domain`).
    pub fn object(&self) -> &'static str {
        object_of(self.operation)
    }

    /// Whether the requirement applies to a call with these `flags` and `arg` (the
    /// argument before the flags).
    pub fn applies(&self, flags: u32, arg: u32) -> bool {
        match self.when {
            When::Always => true,
            When::AnyFlag(mask) => flags & mask != 0,
            When::NoFlag(mask) => flags & mask == 0,
            When::Arg(value) => arg == value,
        }
    }
}

/// The object half of an `object:permission`.
pub fn object_of(operation: &str) -> &str {
    operation.split(':').next().unwrap_or(operation)
}

/// What one procedure requires.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    /// Every one of these (that applies) must be granted.
    pub required: Vec<Requirement>,
    /// For listing calls: the permission each listed object must grant to be shown.
    pub filter: Option<&'static str>,
}

/// Procedures libvirt checks nothing for (`@acl: none`): CONNECT_CLOSE, the AUTH_*
/// calls, CONNECT_IS_SECURE.
const UNCHECKED: &[i32] = &[2, 66, 67, 68, 69, 70, 149];

/// `VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG` (also the network update's).
const SAVE: &str = "domain:write domain:save?!3 domain:save?2";

const TABLE: &str = "
1 3 4 59 60 110 157 360 361: connect:getattr
5 6 7 101 102 122 158 162 203 227 228 289 293 312 340 395 403: connect:read
106 168 314 317 369 375 381: connect:read
135 136 288 342 347 393 394 419: connect:write
75: connect:detect_storage_pools
220 221 222: connect:interface_transaction
250: connect:pm_control
21 25 37 51 105 167 273 316: connect:search_domains | domain:getattr
344: connect:search_domains | domain:read
36 38 50 52 283 313: connect:search_networks | network:getattr
71 72 73 74 281 368: connect:search_storage_pools | storage_pool:getattr
91 92 282: storage_pool:search_storage_vols | storage_vol:getattr
111 112 285 374: connect:search_node_devices | node_device:getattr
126 127 137 138 284: connect:search_interfaces | interface:getattr
139 140 287 380: connect:search_secrets | secret:getattr
178 179 286: connect:search_nwfilters | nwfilter:getattr
401: connect:search_nwfilter_bindings | nwfilter_binding:getattr
404: network:search_ports | network_port:getattr
8 13 26 29 30 31 32 164 235 237 239 277 337 366 371 372 386 390 418 420 424 425 427 439 442 443: domain:write
9 196 310: domain:start
10 309: domain:write domain:start
11 350 358: domain:write domain:save
12 234: domain:stop
14: domain:read domain:read_secure?1 domain:read_secure?8
15 16 17 18 19 20 150 151 56 57 58 64 65 121 159 163 183 187 188 189 190 191 194 198 202 206 212 223 229 230 238 243 244 246 247 253 255 257 262 263 265 271 272 274 275 278 280 298 351 365 396 413 414 415 416 422 426: domain:read
22 23 24: domain:getattr
27 258: domain:init_control domain:write?2
33: domain:init_control
28 34: domain:suspend
35 231: domain:delete
53 334: domain:core_dump
54 233 441: domain:start domain:write
55 182 184 232 440: domain:hibernate
61 108 148 214 215 303 304: domain:migrate domain:start domain:write
62 63 109 166 207 213 216 217 218 242 299 300 302 305 306 307 364 387: domain:migrate
103: domain:block_read
104: domain:mem_read
160 161 174 197 204 205 219 225 252 254 256 264 279 308 352 355 356 384 392 402: SAVE
185: domain:snapshot domain:fs_freeze?64
186 388 412: domain:read domain:read_secure?1
192 193: domain:snapshot
199: SAVE domain:write?8
200: domain:read domain:write?8
201 296: domain:open_device
210: domain:inject_nmi
211: domain:screenshot
226: domain:send_input
236 389: domain:write domain:hibernate
240 251 266 290 345: domain:block_write
245: domain:reset
249 343: domain:open_graphics
261 267: domain:pm_control
294: domain:fs_trim
295: domain:send_signal
335 336 349: domain:fs_freeze
338: domain:set_time
353: domain:read domain:write?arg=1
357: domain:set_password
411: domain:checkpoint domain:fs_freeze?2
417: domain:checkpoint
421: domain:checkpoint domain:block_write
39: network:start
40 437: network:write network:start
41 432: network:write network:save
42: network:stop
43 44 45 152 153 341: network:read
46 47: network:getattr
48: network:write
49: network:delete
291: network:write network:save?!3 network:save?2
405: network_port:getattr
406: network_port:create
407 409: network_port:read
408: network_port:write
410: network_port:delete
76: storage_pool:start storage_pool:write
77: storage_pool:write storage_pool:save
78: storage_pool:start
79 81: storage_pool:format
80: storage_pool:stop
82: storage_pool:delete
83: storage_pool:refresh
84 85 86 391: storage_pool:getattr
87 88 89 154 155: storage_pool:read
90: storage_pool:write
93 125: storage_vol:create
94: storage_vol:delete
95 96 97: storage_vol:getattr
98 99 100 378: storage_vol:read
165 259: storage_vol:format
208: storage_vol:data_write
209: storage_vol:data_read
260: storage_vol:resize
113 297: node_device:getattr
114 115 116 117 433 435 436: node_device:read
118 119 120 301: node_device:detach
123: node_device:write node_device:start
124: node_device:stop
428: node_device:write node_device:save
429: node_device:delete
430: node_device:start
434: node_device:write
128 129: interface:getattr
130 156: interface:read
131: interface:write interface:save
132: interface:delete
133: interface:start
134: interface:stop
141 147: secret:getattr
142: secret:write secret:save
143: secret:read
144: secret:write
145: secret:read_secure
146: secret:delete
175 176: nwfilter:getattr
177: nwfilter:read
180 431: nwfilter:write nwfilter:save
181: nwfilter:delete
397: nwfilter_binding:getattr
398: nwfilter_binding:read
399: nwfilter_binding:create
400: nwfilter_binding:delete
";

/// The highest procedure number the table knows.
pub const LAST_PROCEDURE: i32 = 443;

fn requirement(word: &'static str) -> Requirement {
    let (operation, when) = match word.split_once('?') {
        None => (word, When::Always),
        Some((op, cond)) => {
            let when = if let Some(v) = cond.strip_prefix("arg=") {
                When::Arg(v.parse().unwrap_or(u32::MAX))
            } else if let Some(m) = cond.strip_prefix('!') {
                When::NoFlag(m.parse().unwrap_or(0))
            } else {
                When::AnyFlag(cond.parse().unwrap_or(0))
            };
            (op, when)
        }
    };
    Requirement { operation, when }
}

fn build() -> Vec<Option<Permissions>> {
    let mut table: Vec<Option<Permissions>> = vec![None; LAST_PROCEDURE as usize + 1];
    for &n in UNCHECKED {
        table[n as usize] = Some(Permissions::default());
    }
    for line in TABLE.lines().filter(|l| !l.trim().is_empty()) {
        let Some((numbers, rest)) = line.split_once(':') else {
            continue;
        };
        let (acls, filter) = match rest.split_once('|') {
            Some((acls, filter)) => (acls, Some(filter.trim())),
            None => (rest, None),
        };
        let mut required = Vec::new();
        for word in acls.split_whitespace() {
            if word == "SAVE" {
                required.extend(SAVE.split_whitespace().map(requirement));
            } else {
                required.push(requirement(word));
            }
        }
        for n in numbers.split_whitespace() {
            if let Some(slot) = n.parse::<usize>().ok().and_then(|n| table.get_mut(n)) {
                *slot = Some(Permissions {
                    required: required.clone(),
                    filter,
                });
            }
        }
    }
    table
}

/// What procedure `number` of the REMOTE program requires; `None` for the numbers that
/// are no call (events the server sends) or that the table does not know.
pub fn permissions(number: i32) -> Option<&'static Permissions> {
    static TABLE: OnceLock<Vec<Option<Permissions>>> = OnceLock::new();
    let table = TABLE.get_or_init(build);
    usize::try_from(number)
        .ok()
        .and_then(|n| table.get(n))
        .and_then(Option::as_ref)
}

/// Every `object:permission` libvirt 9.0 defines (`src/access/viraccessperm.h`), for
/// checking a policy's operations.
pub const OBJECT_PERMISSIONS: &[(&str, &[&str])] = &[
    (
        "connect",
        &[
            "getattr",
            "read",
            "write",
            "search_domains",
            "search_networks",
            "search_storage_pools",
            "search_node_devices",
            "search_interfaces",
            "search_secrets",
            "search_nwfilters",
            "search_nwfilter_bindings",
            "detect_storage_pools",
            "pm_control",
            "interface_transaction",
        ],
    ),
    (
        "domain",
        &[
            "getattr",
            "read",
            "write",
            "read_secure",
            "start",
            "stop",
            "reset",
            "save",
            "delete",
            "migrate",
            "snapshot",
            "suspend",
            "hibernate",
            "core_dump",
            "pm_control",
            "init_control",
            "inject_nmi",
            "send_input",
            "send_signal",
            "fs_trim",
            "fs_freeze",
            "block_read",
            "block_write",
            "mem_read",
            "open_graphics",
            "open_device",
            "screenshot",
            "open_namespace",
            "set_time",
            "set_password",
            "checkpoint",
            "backup",
        ],
    ),
    (
        "interface",
        &[
            "getattr", "read", "write", "save", "delete", "start", "stop",
        ],
    ),
    (
        "network",
        &[
            "getattr",
            "read",
            "write",
            "save",
            "delete",
            "start",
            "stop",
            "search_ports",
        ],
    ),
    (
        "network_port",
        &["getattr", "read", "write", "create", "delete"],
    ),
    (
        "node_device",
        &[
            "getattr", "read", "write", "start", "stop", "detach", "save", "delete",
        ],
    ),
    ("nwfilter", &["getattr", "read", "write", "save", "delete"]),
    ("nwfilter_binding", &["getattr", "read", "create", "delete"]),
    (
        "secret",
        &["getattr", "read", "write", "read_secure", "save", "delete"],
    ),
    (
        "storage_pool",
        &[
            "getattr",
            "read",
            "write",
            "save",
            "delete",
            "start",
            "stop",
            "refresh",
            "search_storage_vols",
            "format",
        ],
    ),
    (
        "storage_vol",
        &[
            "getattr",
            "read",
            "create",
            "delete",
            "format",
            "resize",
            "data_read",
            "data_write",
        ],
    ),
];

/// Whether `object:permission` is one libvirt defines.
pub fn is_known_operation(operation: &str) -> bool {
    let Some((object, permission)) = operation.split_once(':') else {
        return false;
    };
    OBJECT_PERMISSIONS
        .iter()
        .any(|(o, perms)| *o == object && perms.contains(&permission))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_in_the_table_is_a_libvirt_permission() {
        for n in 0..=LAST_PROCEDURE {
            if let Some(p) = permissions(n) {
                for r in &p.required {
                    assert!(is_known_operation(r.operation), "{n}: {}", r.operation);
                }
                if let Some(f) = p.filter {
                    assert!(is_known_operation(f), "{n}: filter {f}");
                }
            }
        }
    }

    #[test]
    fn samples_from_remote_protocol_x() {
        let ops = |n: i32| -> Vec<&str> {
            permissions(n)
                .unwrap()
                .required
                .iter()
                .map(|r| r.operation)
                .collect()
        };
        assert_eq!(ops(1), ["connect:getattr"]);
        assert_eq!(ops(9), ["domain:start"]);
        assert_eq!(ops(11), ["domain:write", "domain:save"]);
        assert_eq!(ops(273), ["connect:search_domains"]);
        assert_eq!(permissions(273).unwrap().filter, Some("domain:getattr"));
        assert_eq!(ops(344), ["connect:search_domains"]);
        assert_eq!(permissions(344).unwrap().filter, Some("domain:read"));
        assert_eq!(ops(2), Vec::<&str>::new());
        assert!(permissions(107).is_none(), "an event is no call");
        assert!(permissions(-1).is_none());
        assert!(permissions(10_000).is_none());
    }

    #[test]
    fn conditional_permissions() {
        let p = permissions(160).unwrap(); // DOMAIN_ATTACH_DEVICE_FLAGS
        let needed = |flags: u32| -> Vec<&str> {
            p.required
                .iter()
                .filter(|r| r.applies(flags, 0))
                .map(|r| r.operation)
                .collect()
        };
        // AFFECT_CURRENT may touch the persistent config, so it needs save too.
        assert_eq!(needed(0), ["domain:write", "domain:save"]);
        assert_eq!(needed(1), ["domain:write"]);
        assert_eq!(needed(2), ["domain:write", "domain:save"]);
        assert_eq!(needed(3), ["domain:write", "domain:save"]);
        let xml = permissions(14).unwrap();
        let secure: Vec<&str> = xml
            .required
            .iter()
            .filter(|r| r.applies(1, 0))
            .map(|r| r.operation)
            .collect();
        assert_eq!(secure, ["domain:read", "domain:read_secure"]);
        let addrs = permissions(353).unwrap();
        assert_eq!(addrs.required.iter().filter(|r| r.applies(0, 1)).count(), 2);
        assert_eq!(addrs.required.iter().filter(|r| r.applies(0, 0)).count(), 1);
    }

    /// Every call number up to 443 is in the table or is an event message.
    #[test]
    fn calls_without_entry_are_events() {
        let events: &[i32] = &[
            107, 169, 170, 171, 172, 173, 195, 224, 241, 248, 268, 269, 270, 276, 292, 311, 315,
            318, 319, 320, 321, 322, 323, 324, 325, 326, 327, 328, 329, 330, 331, 332, 333, 339,
            346, 348, 354, 359, 362, 363, 367, 370, 373, 376, 377, 379, 382, 383, 385, 423, 438,
        ];
        for n in 1..=LAST_PROCEDURE {
            assert_eq!(
                permissions(n).is_none(),
                events.contains(&n),
                "procedure {n}"
            );
        }
    }
}
