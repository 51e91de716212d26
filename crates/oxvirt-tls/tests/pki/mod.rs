//! Test certificates made with rcgen, written in libvirt's `pkipath` layout. Shared by the
//! oxvirt-tls tests and oxvirtd's tls tests (`#[path]`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertificateRevocationListParams,
    DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair,
    KeyUsagePurpose, RevocationReason, RevokedCertParams, SerialNumber,
};

/// A CA that issues certificates.
pub struct Ca {
    /// The CA certificate.
    pub cert: rcgen::Certificate,
    key: KeyPair,
    next_serial: u64,
    revoked: Vec<u64>,
}

/// A certificate with its key, in PEM.
#[derive(Clone)]
pub struct Issued {
    /// The certificate.
    pub cert_pem: String,
    /// Its key.
    pub key_pem: String,
    /// Its serial number.
    pub serial: u64,
}

/// What a leaf certificate is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// servercert.pem.
    Server,
    /// clientcert.pem.
    Client,
}

/// How a leaf certificate is made.
pub struct Leaf<'a> {
    /// Its role (extended key usage).
    pub role: Role,
    /// Subject DN attributes, in certificate order.
    pub dn: Vec<(DnType, &'a str)>,
    /// Subject alternative names (IP addresses or DNS names).
    pub sans: Vec<&'a str>,
    /// Already expired.
    pub expired: bool,
}

impl<'a> Leaf<'a> {
    /// A server certificate for `sans`.
    pub fn server(sans: &[&'a str]) -> Self {
        Leaf {
            role: Role::Server,
            dn: vec![
                (DnType::OrganizationName, "oxvirt test"),
                (DnType::CommonName, "server"),
            ],
            sans: sans.to_vec(),
            expired: false,
        }
    }

    /// A client certificate with subject `O=oxvirt test,CN=cn`.
    pub fn client(cn: &'a str) -> Self {
        Leaf {
            role: Role::Client,
            dn: vec![
                (DnType::OrganizationName, "oxvirt test"),
                (DnType::CommonName, cn),
            ],
            sans: Vec::new(),
            expired: false,
        }
    }
}

impl Ca {
    /// A new self-signed CA named `name`.
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "oxvirt test");
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2099, 1, 1);
        let cert = params.self_signed(&key).expect("CA cert");
        Ca {
            cert,
            key,
            next_serial: 100,
            revoked: Vec::new(),
        }
    }

    /// The CA certificate in PEM.
    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// Issues a client certificate with the subject `dn` (values of any string type).
    pub fn issue_with_dn(&mut self, dn: Vec<(DnType, rcgen::DnValue)>) -> Issued {
        let mut leaf = Leaf::client("x");
        leaf.dn.clear();
        self.issue_inner(&leaf, dn)
    }

    /// Issues a certificate.
    pub fn issue(&mut self, leaf: &Leaf<'_>) -> Issued {
        let dn = leaf
            .dn
            .iter()
            .map(|(t, v)| (t.clone(), rcgen::DnValue::from(*v)))
            .collect();
        self.issue_inner(leaf, dn)
    }

    fn issue_inner(&mut self, leaf: &Leaf<'_>, subject: Vec<(DnType, rcgen::DnValue)>) -> Issued {
        let key = KeyPair::generate().expect("leaf key");
        let sans: Vec<String> = leaf.sans.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(sans).expect("leaf params");
        let mut dn = DistinguishedName::new();
        for (ty, value) in subject {
            dn.push(ty, value);
        }
        params.distinguished_name = dn;
        params.extended_key_usages = vec![match leaf.role {
            Role::Server => ExtendedKeyUsagePurpose::ServerAuth,
            Role::Client => ExtendedKeyUsagePurpose::ClientAuth,
        }];
        params.use_authority_key_identifier_extension = true;
        if leaf.expired {
            params.not_before = date_time_ymd(2001, 1, 1);
            params.not_after = date_time_ymd(2002, 1, 1);
        } else {
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2099, 1, 1);
        }
        self.next_serial += 1;
        let serial = self.next_serial;
        params.serial_number = Some(SerialNumber::from(serial));
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("leaf cert");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            serial,
        }
    }

    /// Adds `issued` to the revocation list [`Ca::crl_pem`] writes.
    pub fn revoke(&mut self, issued: &Issued) {
        self.revoked.push(issued.serial);
    }

    /// The CA's revocation list.
    pub fn crl_pem(&self) -> String {
        let params = CertificateRevocationListParams {
            this_update: date_time_ymd(2020, 1, 1),
            next_update: date_time_ymd(2099, 1, 1),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: self
                .revoked
                .iter()
                .map(|&serial| RevokedCertParams {
                    serial_number: SerialNumber::from(serial),
                    revocation_time: date_time_ymd(2021, 1, 1),
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        params
            .signed_by(&self.cert, &self.key)
            .expect("CRL")
            .pem()
            .expect("CRL PEM")
    }
}

/// Writes a `pkipath` directory: `cacert.pem` (the PEM `ca`), and the certificate and key
/// of `identity` as `{prefix}cert.pem` / `{prefix}key.pem` (`prefix` "server" or "client").
pub fn write_dir(
    dir: &Path,
    ca: &str,
    identity: Option<(&str, &Issued)>,
    crl: Option<&str>,
) -> PathBuf {
    std::fs::create_dir_all(dir).expect("pki dir");
    std::fs::write(dir.join("cacert.pem"), ca).expect("cacert");
    if let Some((prefix, issued)) = identity {
        std::fs::write(dir.join(format!("{prefix}cert.pem")), &issued.cert_pem).expect("cert");
        std::fs::write(dir.join(format!("{prefix}key.pem")), &issued.key_pem).expect("key");
    }
    if let Some(crl) = crl {
        std::fs::write(dir.join("cacrl.pem"), crl).expect("crl");
    }
    dir.to_owned()
}
